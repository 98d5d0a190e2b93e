"""Configuration errors: findings, the one readable report, typo suggestions.

Only :mod:`agentifui_config.secrecy` lies below it: everything else may raise or collect
:class:`Finding` objects, and only here are they rendered. A finding names the
environment variable an operator sets, never pydantic's field path, and never
carries a secret value.
"""

from __future__ import annotations

import difflib
import enum
import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agentifui_config.secrecy import is_secret_name, mask, scrub

__all__ = [
    "UNNAMED",
    "AgentifuiError",
    "ConfigurationError",
    "Finding",
    "Severity",
    "findings_from_errors",
    "is_secret_option",
    "mask",
    "scrub",
    "suggest_variable",
    "typo_findings",
]

# Kept importable from here for one release; the rule lives in agentifui_config.secrecy.
is_secret_option = is_secret_name

UNNAMED: Final = "value"
"""The variable name parsers use when the caller did not say which variable is parsed."""


class Severity(enum.StrEnum):
    """How much a finding matters: an error refuses the configuration, a warning is logged."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with the configuration.

    Attributes:
        variable: The environment variable at fault (``DB_PORT``), as an operator sets it.
        message: What is wrong, in words that contain no secret value.
        remedy: How to fix it.
        severity: Whether the problem refuses the configuration or is only logged.
        rule: The id of the policy rule that found it, or ``None`` for a field error.
    """

    variable: str
    message: str
    remedy: str = ""
    severity: Severity = Severity.ERROR
    rule: str | None = None

    def __str__(self) -> str:
        line = f"{self.variable}: {self.message}"
        line = f"{line} - {self.remedy}" if self.remedy else line
        return f"{line} (warning)" if self.severity is Severity.WARNING else line


class AgentifuiError(Exception):
    """The base of every exception agentifui-config raises: ``except AgentifuiError`` catches all.

    Its branches tell a refused configuration (:class:`ConfigurationError`) from
    a failure at run time (``DatabaseError``, ``MigrationError``) and from a
    misuse of the API (``ManagerStateError``).

    Args:
        message: What went wrong, in words that contain no secret value.
        remedy: How to fix it.
        variable: The environment variable at fault, only when one is.

    Attributes:
        message: What went wrong.
        remedy: How to fix it, or ``""``.
        variable: The environment variable at fault (``DB_PASSWORD``), or ``None``.
    """

    message: str
    remedy: str
    variable: str | None

    def __init__(self, message: str, *, remedy: str = "", variable: str | None = None) -> None:
        self.message, self.remedy, self.variable = message, remedy, variable
        line = f"{variable}: {message}" if variable else message
        super().__init__(f"{line} - {remedy}" if remedy else line)


class ConfigurationError(AgentifuiError, ValueError):
    """A configuration was refused; the message lists every finding, one per line.

    Only findings about the configuration are reported this way: each names what
    is set wrong, what is wrong with it and how to fix it. Being a
    :class:`ValueError`, it is caught by code written for plain Python errors too.
    A failure at run time (an unreachable database) is never one.

    Args:
        findings: The problems found, or a single message for a one-off error.
        variable: With a plain message, the variable it is about.
        remedy: With a plain message, how to fix it.

    Attributes:
        findings: Every problem found, errors and warnings, in report order.
        message: The whole report, as ``str()`` shows it.
        variable: The one variable every finding names, or ``None`` when they name several.
        remedy: With a single finding, its remedy; else ``""``.
    """

    findings: tuple[Finding, ...]

    def __init__(
        self,
        findings: Sequence[Finding] | str,
        *,
        variable: str | None = None,
        remedy: str = "",
    ) -> None:
        if isinstance(findings, str):
            findings = [Finding(variable or "configuration", findings, remedy)]
        if not findings:
            raise ValueError("a ConfigurationError needs at least one finding")
        self.findings = tuple(findings)
        self.message = self._render()
        variables = self.variables
        self.variable = variables[0] if len(variables) == 1 else None
        self.remedy = self.findings[0].remedy if len(self.findings) == 1 else ""
        Exception.__init__(self, self.message)

    @property
    def errors(self) -> tuple[Finding, ...]:
        """The findings that refuse the configuration."""
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def variables(self) -> tuple[str, ...]:
        """The variables named by the findings, in report order, without repeats."""
        return tuple(dict.fromkeys(f.variable for f in self.findings))

    def __reduce__(self) -> tuple[type[ConfigurationError], tuple[list[Finding]]]:
        # The default would rebuild from the rendered message, losing the findings.
        return type(self), (list(self.findings),)

    def _render(self) -> str:
        if len(self.findings) == 1:
            return str(self.findings[0])
        errors = len(self.errors)
        warnings = len(self.findings) - errors
        counts = _plural(errors, "error") + (
            f", {_plural(warnings, 'warning')}" if warnings else ""
        )
        lines = [f"invalid configuration ({counts}):"]
        lines.extend(f"  {finding}" for finding in self.findings)
        return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def suggest_variable(name: str, known: Iterable[str], *, cutoff: float = 0.8) -> str | None:
    """Return the known variable *name* was probably meant to be, or ``None``.

    Args:
        name: A variable name as found in the environment (any case).
        known: The variable names the library reads.
        cutoff: The least similarity (0-1) that counts as a near miss.

    Returns:
        The closest known name, when *name* is close to one but not one itself.
    """
    return _closest(name.upper(), tuple(known), cutoff)


@functools.lru_cache(maxsize=4096)
def _closest(name: str, known: tuple[str, ...], cutoff: float) -> str | None:
    # Cached: the same environment is scanned each time settings are loaded, and
    # the similarity search is most of what loading costs.
    if name in known:
        return None
    matches = difflib.get_close_matches(name, known, n=1, cutoff=cutoff)
    return matches[0] if matches else None


def typo_findings(
    present: Iterable[str],
    known: Iterable[str],
    missing: Mapping[str, bool],
    aliases: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Findings for variables that look like ours but are not.

    Args:
        present: The names of the variables that are set (environment, ``.env``).
        known: The variable names the library reads.
        missing: For each known name, whether it is unset; a near miss for an
            unset variable is an error (the value the operator meant is lost),
            otherwise a warning. A name that only shares words with ours
            (``REDIS_PASSWORD``, ``JWT_SECRET_KEY``) is another tool's variable,
            never more than a warning.
        aliases: Names people use for ours that no similarity score finds
            (``DB_USER`` for ``DB_USERNAME``), each with the name it stands for.

    Returns:
        One finding per near miss, naming the variable that was set.
    """
    known_names = list(known)
    findings = []
    aliases = aliases or {}
    for name in sorted(set(present)):
        alias = aliases.get(name.upper())
        meant = alias or suggest_variable(name, known_names)
        if meant is None:
            continue
        lost = missing.get(meant, False) and (alias is not None or _is_slip(name.upper(), meant))
        severity = Severity.ERROR if lost else Severity.WARNING
        findings.append(
            Finding(
                name.upper(),
                "is not a variable agentifui-config reads",
                f"did you mean {meant}?",
                severity,
                rule="unknown-variable",
            )
        )
    return findings


# How alike the words that differ must be to count as one word mistyped (DB_PROT for DB_PORT).
_SAME_WORD: Final = 0.5


def _is_slip(name: str, meant: str) -> bool:
    """Whether *name* reads as *meant* mistyped rather than as another tool's variable.

    Words are the parts between underscores. Changed letters (``DB_HSOT``,
    ``LOGLEVEL``) or a word dropped or inserted among ours (``CORS_HEADERS``,
    ``CORS_ALLOW_ORIGINS``) are slips. Words added before or after ours
    (``JWT_SECRET_KEY``, ``APP_LOG_LEVEL``) or a different word in place of one
    of ours (``REDIS_PASSWORD``) name another variable that happens to look alike.
    """
    theirs, ours = name.split("_"), meant.split("_")
    head = _shared(theirs, ours)
    tail = _shared(theirs[head:][::-1], ours[head:][::-1])
    extra, replaced = theirs[head : len(theirs) - tail], ours[head : len(ours) - tail]
    if not replaced:
        return bool(head and tail)
    if not extra:
        return True
    similarity = difflib.SequenceMatcher(None, "_".join(extra), "_".join(replaced)).ratio()
    return similarity >= _SAME_WORD


def _shared(first: Sequence[str], second: Sequence[str]) -> int:
    """How many leading words *first* and *second* have in common."""
    count = 0
    for mine, yours in zip(first, second, strict=False):
        if mine != yours:
            break
        count += 1
    return count


# What each pydantic error type means, in the words of someone setting a variable.
_EXPECTATIONS: Final[Mapping[str, str]] = {
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "finite_number": "expected a finite number",
    "bool_parsing": "expected a boolean (true/false, 1/0, yes/no, on/off)",
    "bool_type": "expected a boolean (true/false, 1/0, yes/no, on/off)",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "string_too_short": "must be at least {min_length} characters long",
    "string_type": "expected text",
    "enum": "expected one of {expected}",
    "literal_error": "expected one of {expected}",
    "missing": "is required",
    "extra_forbidden": "is not a known setting",
    "dict_type": "expected a JSON object",
    "list_type": "expected a list",
}

ErrorLocation = tuple[int | str, ...]
"""Where pydantic found an error: field names (and indexes) from the outermost model in."""


def findings_from_errors(
    errors: Iterable[Mapping[str, Any]],
    variable: Callable[[ErrorLocation], str],
    secret_variables: Collection[str],
    remedies: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Turn pydantic's error details into findings that name environment variables.

    pydantic's own rendering prints every input in full, secrets included; this
    one shows the input only for variables not in *secret_variables*.

    Args:
        errors: ``ValidationError.errors()`` of a failed validation.
        variable: Maps an error location to the variable an operator sets.
        secret_variables: Variables whose value must never be shown.
        remedies: How to fix each variable, where more can be said than the error.

    Returns:
        One finding per error, in pydantic's order; an error raised as a
        :class:`ConfigurationError` by a parser contributes its own findings.
    """
    findings: list[Finding] = []
    for error in errors:
        name = variable(tuple(error.get("loc", ())))
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigurationError):
            findings.extend(_renamed(f, name) for f in cause.findings)
            continue
        message = _describe(error, cause)
        shown = error.get("input")
        if name in secret_variables:
            if cause is not None and isinstance(shown, str | int | float):
                message = scrub(message, [str(shown)])
        elif cause is None and isinstance(shown, str | int | float):
            message = f"{message}, got {shown!r}"
        findings.append(Finding(name, message, (remedies or {}).get(name, "")))
    return findings


def _describe(error: Mapping[str, Any], cause: object) -> str:
    if cause is not None:
        return str(cause)
    kind = str(error.get("type"))
    if kind == "string_too_short" and (error.get("ctx") or {}).get("min_length") == 1:
        return "must not be empty"
    template = _EXPECTATIONS.get(kind)
    if template is None:
        return str(error.get("msg", "is invalid"))
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return str(error.get("msg", "is invalid"))


def _renamed(finding: Finding, name: str) -> Finding:
    """A parser's finding, attributed to the variable being validated if it named none."""
    if finding.variable != UNNAMED:
        return finding
    return Finding(name, finding.message, finding.remedy, finding.severity, finding.rule)
