"""The rules a configuration must follow beyond field types: cross-field and per environment.

Each rule is one entry in :data:`RULES`: an id, the variable it is about, the
environments it binds, a severity, a check, a message and a remedy. A new rule
is one predicate and one entry. :func:`evaluate` applies every rule and returns
all findings at once; the settings layer raises them together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from agentifui_config.environment import Environment
from agentifui_config.errors import Finding, Severity

if TYPE_CHECKING:
    from agentifui_config.settings import EnvironmentSettings

__all__ = [
    "INSECURE_SECRET_KEYS",
    "MIN_SECRET_KEY_LENGTH",
    "RULES",
    "WEAK_PASSWORDS",
    "Rule",
    "evaluate",
]

MIN_SECRET_KEY_LENGTH: Final = 32
"""The shortest ``SECRET_KEY`` accepted in staging and production."""

INSECURE_SECRET_KEYS: Final = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "secret",
        "secret-key",
        "secret_key",
        "secretkey",
        "your-secret-key",
        "your_secret_key",
        "your-secret-key-here",
        "mysecretkey",
        "supersecret",
        "password",
        "default",
        "development",
        "dev",
        "test",
        "testing",
        "insecure",
        "django-insecure",
        "replace-me",
        "please-change-me",
        "notsecret",
        "xxx",
    }
)
"""Well-known placeholder keys, compared case-insensitively and ignoring surrounding space."""

WEAK_PASSWORDS: Final = frozenset(
    {
        "postgres",
        "password",
        "passw0rd",
        "admin",
        "root",
        "changeme",
        "secret",
        "123456",
        "12345678",
        "qwerty",
        "letmein",
        "test",
        "default",
        "pass",
    }
)
"""Database passwords refused in staging and production, compared case-insensitively."""

_ALL: Final = frozenset(Environment)
_DEPLOYED: Final = frozenset({Environment.STAGING, Environment.PRODUCTION})
_PRODUCTION: Final = frozenset({Environment.PRODUCTION})
_STAGING: Final = frozenset({Environment.STAGING})
_DEVELOPMENT: Final = frozenset({Environment.DEVELOPMENT})
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})

Check = Callable[["EnvironmentSettings"], bool]
"""A rule's predicate: true when the settings break the rule."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy: when *check* is true in one of *environments*, report a finding.

    Attributes:
        id: A stable name for the rule (``secret-key-short``), used in logs and docs.
        variable: The environment variable the finding names.
        environments: The environments in which the rule binds.
        severity: Error (refuse the configuration) or warning (log it).
        check: True when the settings break the rule.
        message: What is wrong, without any secret value.
        remedy: How to fix it.
    """

    id: str
    variable: str
    environments: frozenset[Environment]
    severity: Severity
    check: Check
    message: str
    remedy: str

    def finding(self) -> Finding:
        """The finding this rule reports when broken."""
        return Finding(self.variable, self.message, self.remedy, self.severity, self.id)


def _secret(settings: EnvironmentSettings) -> str:
    key = settings.secret_key
    return key.get_secret_value() if key is not None else ""


def _password(settings: EnvironmentSettings) -> str:
    return settings.database.password.get_secret_value()


def _is_plain_http_remote(origin: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS


def _db_default(field: str) -> Check:
    return lambda s: field not in s.database.model_fields_set


_WILDCARD_REMEDY: Final = "list the allowed origins, e.g. CORS_ORIGINS=https://app.example.com"

RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "cors-wildcard-credentials",
        "CORS_ORIGINS",
        _ALL,
        Severity.ERROR,
        lambda s: "*" in s.cors_origins and s.cors_allow_credentials,
        "'*' together with CORS_ALLOW_CREDENTIALS=true lets any site make authenticated "
        "requests (browsers refuse it, some servers then reflect any origin)",
        f"{_WILDCARD_REMEDY}, or set CORS_ALLOW_CREDENTIALS=false",
    ),
    Rule(
        "secret-key-missing",
        "SECRET_KEY",
        _DEPLOYED,
        Severity.ERROR,
        lambda s: not _secret(s),
        "is not set",
        "set SECRET_KEY (or SECRET_KEY_FILE) to a random value of at least "
        f"{MIN_SECRET_KEY_LENGTH} characters, e.g. python -c "
        "'import secrets; print(secrets.token_urlsafe(48))'",
    ),
    Rule(
        "secret-key-generated",
        "SECRET_KEY",
        _DEVELOPMENT,
        Severity.WARNING,
        lambda s: s.secret_key_generated,
        "is not set; a random key was generated for this process, so sessions and "
        "tokens do not survive a restart",
        "set SECRET_KEY to keep them across restarts",
    ),
    Rule(
        "secret-key-short",
        "SECRET_KEY",
        _DEPLOYED,
        Severity.ERROR,
        lambda s: 0 < len(_secret(s)) < MIN_SECRET_KEY_LENGTH,
        f"is shorter than {MIN_SECRET_KEY_LENGTH} characters",
        "generate one with python -c 'import secrets; print(secrets.token_urlsafe(48))'",
    ),
    Rule(
        "secret-key-insecure",
        "SECRET_KEY",
        _DEPLOYED,
        Severity.ERROR,
        lambda s: _secret(s).strip().lower() in INSECURE_SECRET_KEYS,
        "is a well-known placeholder value",
        "generate one with python -c 'import secrets; print(secrets.token_urlsafe(48))'",
    ),
    Rule(
        "secret-key-repeated",
        "SECRET_KEY",
        _DEPLOYED,
        Severity.ERROR,
        lambda s: len(set(_secret(s))) == 1,
        "is one character repeated",
        "generate one with python -c 'import secrets; print(secrets.token_urlsafe(48))'",
    ),
    Rule(
        "db-password-missing",
        "DB_PASSWORD",
        _DEPLOYED,
        Severity.ERROR,
        lambda s: not _password(s),
        "is not set",
        "set DB_PASSWORD (or DB_PASSWORD_FILE) to the database user's password",
    ),
    Rule(
        "db-password-weak",
        "DB_PASSWORD",
        _DEPLOYED,
        Severity.ERROR,
        lambda s: _password(s).lower() in WEAK_PASSWORDS or _password(s) == s.database.username,
        "is a well-known weak password or equals the user name",
        "use a long random password",
    ),
    Rule(
        "db-host-default",
        "DB_HOST",
        _DEPLOYED,
        Severity.ERROR,
        _db_default("host"),
        "is not set; the development default 'localhost' is used",
        "set DB_HOST to the database server",
    ),
    Rule(
        "db-username-default",
        "DB_USERNAME",
        _DEPLOYED,
        Severity.ERROR,
        _db_default("username"),
        "is not set; the development default 'postgres' (a superuser) is used",
        "set DB_USERNAME to the application's own database user",
    ),
    Rule(
        "db-database-default",
        "DB_DATABASE",
        _DEPLOYED,
        Severity.ERROR,
        _db_default("database"),
        "is not set; the development default 'postgres' is used",
        "set DB_DATABASE to the application's database",
    ),
    Rule(
        "debug-enabled",
        "DEBUG",
        _PRODUCTION,
        Severity.ERROR,
        lambda s: s.debug,
        "is true in production (tracebacks and internals reach clients)",
        "set DEBUG=false",
    ),
    Rule(
        "debug-enabled-staging",
        "DEBUG",
        _STAGING,
        Severity.WARNING,
        lambda s: s.debug,
        "is true in staging",
        "set DEBUG=false unless you are investigating a problem",
    ),
    Rule(
        "echo-sql-enabled",
        "DB_ECHO_SQL",
        _PRODUCTION,
        Severity.ERROR,
        lambda s: s.database.echo_sql,
        "is true in production (statements and their data are written to the logs)",
        "set DB_ECHO_SQL=false",
    ),
    Rule(
        "cors-wildcard-origin",
        "CORS_ORIGINS",
        _PRODUCTION,
        Severity.ERROR,
        lambda s: "*" in s.cors_origins,
        "allows every origin ('*') in production",
        _WILDCARD_REMEDY,
    ),
    Rule(
        "cors-origins-default",
        "CORS_ORIGINS",
        _PRODUCTION,
        Severity.ERROR,
        lambda s: "cors_origins" not in s.model_fields_set,
        "is not set in production, so only the development origin http://localhost:3000 "
        "would be allowed, with credentials",
        "list the front ends that call the service, e.g. CORS_ORIGINS=https://app.example.com",
    ),
    Rule(
        "cors-plain-http",
        "CORS_ORIGINS",
        _PRODUCTION,
        Severity.ERROR,
        lambda s: any(_is_plain_http_remote(o) for o in s.cors_origins),
        "allows a plain-http origin other than localhost in production",
        "use https:// origins",
    ),
    Rule(
        "log-level-debug",
        "LOG_LEVEL",
        _PRODUCTION,
        Severity.WARNING,
        lambda s: s.log_level == "DEBUG",
        "is DEBUG in production (verbose, and may include request data)",
        "set LOG_LEVEL=INFO or higher",
    ),
)
"""Every policy, in report order."""


def evaluate(settings: EnvironmentSettings, rules: Iterable[Rule] = RULES) -> list[Finding]:
    """Apply every rule that binds in the settings' environment.

    Args:
        settings: Field-validated settings.
        rules: The rules to apply; all of :data:`RULES` unless given.

    Returns:
        The findings of the broken rules, errors and warnings, in rule order.
    """
    return [
        rule.finding()
        for rule in rules
        if settings.environment in rule.environments and rule.check(settings)
    ]
