"""Configuration errors: findings and the one readable report.

Only :mod:`agentifui_config.secrecy` lies below it: everything else may raise or collect
:class:`Finding` objects, and only here are they rendered. A finding names the
environment variable an operator sets, never pydantic's field path, and never
carries a secret value.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agentifui_config.secrecy import scrub

__all__ = [
    "UNNAMED",
    "AgentifuiError",
    "ConfigurationError",
    "Finding",
    "GeneratedSecretKeyWarning",
    "Severity",
    "findings_from_errors",
]

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


class GeneratedSecretKeyWarning(UserWarning):
    """Development runs on a ``SECRET_KEY`` generated for this process.

    Issued through :mod:`warnings` when settings load in development without a
    ``SECRET_KEY``: Python's default filter shows it once per process, however
    often the settings are loaded, and the standard filters silence it
    (``warnings.filterwarnings("ignore", category=GeneratedSecretKeyWarning)``,
    or ``-W ignore::UserWarning:agentifui_config.settings``) or make it an
    error. Setting ``SECRET_KEY`` ends it.
    """


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
