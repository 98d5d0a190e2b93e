"""The configuration commands: ``check``, ``show`` and ``convert-url``.

None of them touches the database. ``show`` prints where each value came from
as loading itself recorded it (:meth:`EnvironmentSettings.inspect`), so its
answer follows the same precedence as loading, even for a broken configuration.
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel, SecretStr

from agentifui_config.cli.commands import (
    Command,
    CommandError,
    ExitCode,
    add_env_file,
    add_settings,
)
from agentifui_config.cli.console import counted
from agentifui_config.cli.envfile import env_line, env_text
from agentifui_config.cli.loading import environment_value, inspect, load, settings_class_of
from agentifui_config.database import field_for
from agentifui_config.errors import ConfigurationError, Finding, Severity
from agentifui_config.secrecy import SECRET_VARIABLES, is_secret_name, mask, url_secrets
from agentifui_config.settings import EnvironmentSettings, replacement_lines
from agentifui_config.sources import Origin, field_variables
from agentifui_config.url_parsing import parse_database_url

if TYPE_CHECKING:
    from agentifui_config.cli.console import Console

__all__ = ["CHECK", "CONVERT_URL", "SHOW"]

# ---------------------------------------------------------------------------- check


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    add_env_file(parser)
    add_settings(parser)
    parser.add_argument(
        "--environment",
        metavar="ENV",
        help="validate as if ENVIRONMENT were ENV (development, staging, production)",
    )
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")


def _check(args: argparse.Namespace, console: Console) -> int:
    overrides = {"environment": args.environment} if args.environment else {}
    try:
        settings, found = load(
            console,
            args.env_file,
            settings_class_of(args),
            uses_secret_key=args.uses_secret_key,
            **overrides,
        )
    except ConfigurationError as exc:
        return _report(console, exc.findings, "", strict=args.strict)
    return _report(console, found, settings.environment.value, strict=args.strict)


def _report(
    console: Console, findings: Sequence[Finding], environment: str, *, strict: bool
) -> int:
    """Print every finding, then one verdict line; return the exit status."""
    for finding in findings:
        console.finding(finding)
    errors = any(f.severity is Severity.ERROR for f in findings)
    if errors or (strict and findings):
        reason = "" if errors else " (--strict fails on warnings)"
        console.out(
            f"{console.paint('fail', 'fail')}: invalid configuration: {counted(findings)}{reason}"
        )
        return ExitCode.INVALID
    console.out(f"{console.paint('ok', 'ok')}: valid for {environment} ({counted(findings)})")
    return ExitCode.OK


CHECK: Final = Command(
    "check",
    "validate the configuration and print every finding with its fix",
    "Read the configuration as the service would (environment, secret files, the "
    ".env file) and print every error and warning, each with how to fix it. Nothing "
    "is connected to. Exit status 0 when valid, 1 on errors (and on warnings with --strict).",
    _check_arguments,
    _check,
    uses_secret_key=True,
    epilog="examples:\n"
    "  agentifui-config check --env-file .env\n"
    "  agentifui-config check --environment production --strict",
)
"""The ``check`` command."""


# ----------------------------------------------------------------------------- show


@dataclass(frozen=True, slots=True)
class _Row:
    """One variable as ``show`` prints it: the value JSON-ready, a secret masked.

    A refused value (a finding says why) is not shown.
    """

    variable: str
    value: object
    source: str
    secret: bool
    refused: bool = False


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("table", "json", "env"),
        default="table",
        help="table (default), json (an object keyed by variable) or env (.env lines)",
    )
    add_env_file(parser)
    add_settings(parser)


def _show(args: argparse.Namespace, console: Console) -> int:
    """Print every variable read, with its source; a broken configuration's findings too."""
    outcome = inspect(
        console, args.env_file, settings_class_of(args), uses_secret_key=args.uses_secret_key
    )
    settings = outcome.settings
    if isinstance(settings, EnvironmentSettings):
        rows = [
            _row(settings, name, outcome.origins.get(name, Origin.DEFAULT), outcome.refused)
            for name in field_variables(type(settings))
        ]
        _FORMATS[args.format](console, rows)
    if outcome.errors:
        raise ConfigurationError(outcome.findings)
    console.warnings(outcome.findings)
    return ExitCode.OK


def _row(
    settings: EnvironmentSettings, name: str, origin: Origin, refused: Collection[str]
) -> _Row:
    if name in refused:
        # The settings hold the default in its place; the finding says what was wrong.
        return _Row(name, None, origin.value, secret=False, refused=True)
    field = name.lower()
    value: Any = (
        getattr(settings, field)
        if field in type(settings).model_fields
        else getattr(settings.database, field_for(name))
    )
    secret = (
        name in SECRET_VARIABLES
        or isinstance(value, SecretStr)
        or (isinstance(value, dict) and any(map(is_secret_name, value)))
    )
    source = "generated" if name == "SECRET_KEY" and settings.secret_key_generated else origin.value
    return _Row(name, _shown(value, secret=secret), source, secret)


def _shown(value: object, *, secret: bool) -> object:
    """*value* ready for JSON: a secret masked (empty stays empty), secret-named options too."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")  # an application's group; SecretStr dumps masked
    if isinstance(value, dict):
        return {key: mask(item) if is_secret_name(key) else item for key, item in value.items()}
    if secret:
        return "" if isinstance(value, SecretStr) and not value.get_secret_value() else mask(value)
    if isinstance(value, enum.Enum):
        return value.value
    return list(value) if isinstance(value, list | tuple) else value


def _table(console: Console, rows: list[_Row]) -> None:
    texts = [(row.variable, _table_text(row)) for row in rows]
    width = max(len(name) for name, _ in texts)
    value_width = min(max(len(text) for _, text in texts), 60)
    header = f"{'VARIABLE'.ljust(width)}  {'VALUE'.ljust(value_width)}  SOURCE"
    console.out(console.paint(header, "bold"))
    for (name, text), row in zip(texts, rows, strict=True):
        console.out(f"{name.ljust(width)}  {text.ljust(value_width)}  {row.source}")


def _table_text(row: _Row) -> str:
    if row.refused:
        return "(refused)"
    return "(unset)" if row.value is None else env_text(row.value)


def _json(console: Console, rows: list[_Row]) -> None:
    document = {
        row.variable: {
            "value": row.value,
            "source": row.source,
            "secret": row.secret,
            "refused": row.refused,
        }
        for row in rows
    }
    console.out(json.dumps(document, indent=2))


def _env(console: Console, rows: list[_Row]) -> None:
    console.out("# The effective configuration, from `agentifui-config show --format env`.")
    console.out("# Secrets are not shown; each line names where its value came from.")
    for row in rows:
        if row.refused:
            console.out(f"# {row.variable}: refused  # {row.source}")
        elif row.value is None:
            console.out(f"# {row.variable}: unset")
        elif row.secret:
            console.out(f"# {row.variable}: secret, not shown  # {row.source}")
        else:
            console.out(f"{env_line(row.variable, env_text(row.value))}  # {row.source}")


_FORMATS: Final[Mapping[str, Callable[[Console, list[_Row]], None]]] = {
    "table": _table,
    "json": _json,
    "env": _env,
}

SHOW: Final = Command(
    "show",
    "print the effective configuration and where each value came from",
    "Print every setting's effective value, secrets masked, and where it came from: "
    "default, environment, secret file, .env file, DATABASE_URL, argument, or "
    "generated (the development SECRET_KEY). When the configuration is invalid it "
    "still prints every variable it could read, marks the refused ones, lists every "
    "finding on stderr and exits 1.",
    _show_arguments,
    _show,
    epilog="examples:\n"
    "  agentifui-config show\n"
    "  agentifui-config show --format json --env-file .env | jq '.DB_HOST'",
)
"""The ``show`` command."""


# ---------------------------------------------------------------------- convert-url

_NO_URL: Final = (
    "no database URL given: pass it as an argument, pipe it on standard input ('-'), "
    "or set DATABASE_URL"
)


def _convert_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="the legacy URL, or '-' to read it from standard input (the default when "
        "input is piped; on a terminal, DATABASE_URL is read from the environment)",
    )
    parser.add_argument(
        "--show-password",
        action="store_true",
        help="print the password in the DB_PASSWORD line instead of masking it",
    )


def _convert(args: argparse.Namespace, console: Console) -> int:
    url = _given_url(args.url)
    console.protect(url, *url_secrets(url))
    password = parse_database_url(url).get("password")
    for line in replacement_lines(url, show_password=args.show_password):
        name, _, text = line.partition("=")
        console.out(env_line(name, text))
    if password and not args.show_password:
        console.note("the password is masked; add --show-password to include it")
    return ExitCode.OK


def _given_url(argument: str | None) -> str:
    """The URL from the argument, standard input or, on a terminal, ``DATABASE_URL``."""
    if argument is not None and argument != "-":
        url: str | None = argument
    elif argument is None and sys.stdin.isatty():
        url = environment_value("DATABASE_URL")
    else:
        url = sys.stdin.read()
    url = (url or "").strip()
    if not url:
        raise CommandError(_NO_URL, ExitCode.INVALID)
    return url


CONVERT_URL: Final = Command(
    "convert-url",
    "print the DB_* lines that replace a legacy DATABASE_URL",
    "Print the DB_* variables equivalent to a legacy DATABASE_URL, as .env lines. "
    "The password is masked unless --show-password is given. Prefer standard input "
    "to an argument: arguments are visible to other users in the process list.",
    _convert_arguments,
    _convert,
    epilog="examples:\n"
    "  printenv DATABASE_URL | agentifui-config convert-url\n"
    "  agentifui-config convert-url --show-password - < url.txt >> .env",
)
"""The ``convert-url`` command."""
