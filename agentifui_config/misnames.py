"""Variables that look like ours but are not: typos, and names other tools use.

``DB_HSOT`` is a typo of ``DB_HOST``: its value is lost unless the operator is
told. ``REDIS_PASSWORD`` only shares words with ours and belongs to another
tool. The difference decides between an error, a warning and silence.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from agentifui_config.database import DatabaseConfig, variable_for
from agentifui_config.errors import Finding, Severity
from agentifui_config.sources import FILE_SUFFIX, SECRET_FILE_VARIABLES

__all__ = ["misnamed_variables", "suggest_variable", "typo_findings"]

# Names people often use for our variables, which a similarity score would miss.
_COMMON_MISNAMES: Final[Mapping[str, str]] = {
    "DB_USER": "DB_USERNAME",
    "DB_PASS": "DB_PASSWORD",
    "DB_NAME": "DB_DATABASE",
}

# Names too generic to be taken for a typo of ours (other tools set them): a hint, never an error.
_GENERIC_NAMES: Final = frozenset({"DB", "DATABASE"})

# Optional stand-ins for other variables: unset as a rule, so a near miss of one (a CI's
# TEST_DATABASE_URL, Rails' SECRET_KEY_BASE, REDIS_PASSWORD for the replicas' DB_READ_PASSWORD)
# is only a hint; the rules catch a lost value.
_ALTERNATIVES: Final = frozenset(
    {"DATABASE_URL", "DB_READ_PASSWORD", *(name + FILE_SUFFIX for name in SECRET_FILE_VARIABLES)}
)


def _given_variables(
    values: Mapping[str, Any], present: set[str], fields: Collection[str]
) -> set[str]:
    """The variables whose value is given: set, set through ``<VAR>_FILE``, or an argument."""
    given = present | {name.removesuffix(FILE_SUFFIX) for name in present}
    given.update(name.upper() for name in values if name in fields)
    database = values.get("database")
    if isinstance(database, DatabaseConfig):
        database = database.model_fields_set
    if isinstance(database, Mapping | set):
        given.update(variable_for(str(name)) for name in database)
    return given


def misnamed_variables(
    present: Collection[str],
    values: Mapping[str, Any],
    known: Sequence[str],
    fields: Collection[str],
) -> list[Finding]:
    """Findings for the variables set that look like ours but are not.

    A near miss of a variable whose value is then lost (it is not given any
    other way) is an error; otherwise it is a warning, and so is anything too
    generic or too likely to belong to another tool.

    Args:
        present: The names of the variables set (environment, ``.env`` file), upper-cased,
            as the settings' sources read them.
        values: The arguments the settings were built with.
        known: Every variable the settings read.
        fields: The settings' field names, which arguments may set.

    Returns:
        One finding per misnamed variable.
    """
    given = _given_variables(values, set(present), fields)
    missing = {name: name not in given and name not in _ALTERNATIVES for name in known}
    names = set(present)
    findings = typo_findings(names - _GENERIC_NAMES, known, missing, _COMMON_MISNAMES)
    findings += typo_findings(names & _GENERIC_NAMES, known, {})
    return findings


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
