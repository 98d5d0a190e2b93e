"""Variables that look like ours but are not: typos, and names other tools use.

``DB_HSOT`` is a typo of ``DB_HOST``: its value is lost unless the operator is
told. ``REDIS_PASSWORD`` only shares words with ours and belongs to another
tool. The difference decides between an error, a warning and silence.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from agentifui_config.database import DB_PREFIX, DatabaseConfig
from agentifui_config.errors import Finding, typo_findings
from agentifui_config.sources import FILE_SUFFIX, SECRET_FILE_VARIABLES

__all__ = ["misnamed_variables"]

# Names people often use for our variables, which a similarity score would miss.
_COMMON_MISNAMES: Final[Mapping[str, str]] = {
    "DB_USER": "DB_USERNAME",
    "DB_PASS": "DB_PASSWORD",
    "DB_NAME": "DB_DATABASE",
}

# Names too generic to be taken for a typo of ours (other tools set them): a hint, never an error.
_GENERIC_NAMES: Final = frozenset({"DB", "DATABASE"})

# Optional stand-ins for other variables: unset as a rule, so a near miss of one (a CI's
# TEST_DATABASE_URL, Rails' SECRET_KEY_BASE) is only a hint; the rules catch a lost value.
_ALTERNATIVES: Final = frozenset(
    {"DATABASE_URL", *(name + FILE_SUFFIX for name in SECRET_FILE_VARIABLES)}
)


def _present_variables(values: Mapping[str, Any]) -> set[str]:
    """Names of the variables set in the environment and the ``.env`` file, upper-cased."""
    names = {name.upper() for name in os.environ}
    env_file = values.get("_env_file")
    if isinstance(env_file, str | os.PathLike) and Path(env_file).is_file():
        from dotenv import dotenv_values  # noqa: PLC0415 - only when a .env file is given

        with contextlib.suppress(OSError, UnicodeDecodeError):  # loading reports the file
            names.update(name.upper() for name in dotenv_values(env_file, encoding="utf-8"))
    return names


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
        given.update(DB_PREFIX + str(name).upper() for name in database)
    return given


def misnamed_variables(
    values: Mapping[str, Any], known: Sequence[str], fields: Collection[str]
) -> list[Finding]:
    """Findings for the variables set that look like ours but are not.

    A near miss of a variable whose value is then lost (it is not given any
    other way) is an error; otherwise it is a warning, and so is anything too
    generic or too likely to belong to another tool.

    Args:
        values: The arguments the settings were built with (``_env_file`` included).
        known: Every variable the settings read.
        fields: The settings' field names, which arguments may set.

    Returns:
        One finding per misnamed variable.
    """
    present = _present_variables(values)
    given = _given_variables(values, present, fields)
    missing = {name: name not in given and name not in _ALTERNATIVES for name in known}
    findings = typo_findings(present - _GENERIC_NAMES, known, missing, _COMMON_MISNAMES)
    findings += typo_findings(present & _GENERIC_NAMES, known, {})
    return findings
