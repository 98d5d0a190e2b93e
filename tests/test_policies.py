"""Tests for the policy rules: one per rule, where it binds and where it does not."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pytest
from settings_support import VALID

from agentifui_config import (
    ConfigurationError,
    Environment,
    GeneratedSecretKeyWarning,
    Severity,
    load_settings,
)
from agentifui_config.errors import Finding
from agentifui_config.policies import (
    INSECURE_SECRET_KEYS,
    MIN_SECRET_KEY_LENGTH,
    RULES,
    WEAK_PASSWORDS,
    Rule,
    evaluate,
)

# Each test starts with none of our variables (nor look-alikes) set and nothing cached.
pytestmark = pytest.mark.usefixtures("clean_env")

_ALL: Final = frozenset(Environment)
_DEPLOYED: Final = frozenset({Environment.STAGING, Environment.PRODUCTION})
_PRODUCTION: Final = frozenset({Environment.PRODUCTION})
_GENERATED_LINE: Final = (
    "SECRET_KEY: is not set; a random key was generated for this process, so sessions and "
    "tokens do not survive a restart - set SECRET_KEY to keep them across restarts (warning)"
)
_GENERATE: Final = "generate one with python -c 'import secrets; print(secrets.token_urlsafe(48))'"


@dataclass(frozen=True)
class _Case:
    """A way to break one rule, where the rule binds, and the line it must report."""

    rule: str
    breaks: Mapping[str, str | None]
    environments: frozenset[Environment]
    severity: Severity
    line: str

    @property
    def rendered(self) -> str:
        """The line as reported: a warning is marked as one."""
        return f"{self.line} (warning)" if self.severity is Severity.WARNING else self.line


_CASES: Final = (
    _Case(
        "cors-wildcard-credentials",
        {"CORS_ORIGINS": "*"},
        _ALL,
        Severity.ERROR,
        "CORS_ORIGINS: '*' together with CORS_ALLOW_CREDENTIALS=true lets any site make "
        "authenticated requests (browsers refuse it, some servers then reflect any origin) - "
        "list the allowed origins, e.g. CORS_ORIGINS=https://app.example.com, or set "
        "CORS_ALLOW_CREDENTIALS=false",
    ),
    _Case(
        "secret-key-missing",
        {"SECRET_KEY": None},
        _DEPLOYED,
        Severity.ERROR,
        "SECRET_KEY: is not set - set SECRET_KEY (or SECRET_KEY_FILE) to a random value of at "
        "least 32 characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'",
    ),
    _Case(
        "secret-key-generated",
        {"SECRET_KEY": None},
        frozenset({Environment.DEVELOPMENT}),
        Severity.WARNING,
        "SECRET_KEY: is not set; a random key was generated for this process, so sessions and "
        "tokens do not survive a restart - set SECRET_KEY to keep them across restarts",
    ),
    _Case(
        "secret-key-short",
        {"SECRET_KEY": "Xy7-short-key-q2"},
        _DEPLOYED,
        Severity.ERROR,
        f"SECRET_KEY: is shorter than 32 characters - {_GENERATE}",
    ),
    _Case(
        "secret-key-insecure",
        {"SECRET_KEY": "  ChangeMe" + " " * 30},
        _DEPLOYED,
        Severity.ERROR,
        f"SECRET_KEY: is a well-known placeholder value - {_GENERATE}",
    ),
    _Case(
        "secret-key-repeated",
        {"SECRET_KEY": "x" * 48},
        _DEPLOYED,
        Severity.ERROR,
        f"SECRET_KEY: is one character repeated - {_GENERATE}",
    ),
    _Case(
        "db-password-missing",
        {"DB_PASSWORD": None},
        _DEPLOYED,
        Severity.ERROR,
        "DB_PASSWORD: is not set - set DB_PASSWORD (or DB_PASSWORD_FILE) to the database "
        "user's password",
    ),
    _Case(
        "db-password-weak",
        {"DB_PASSWORD": "Postgres"},
        _DEPLOYED,
        Severity.ERROR,
        "DB_PASSWORD: is a well-known weak password or equals the user name - "
        "use a long random password",
    ),
    _Case(
        "db-host-default",
        {"DB_HOST": None},
        _DEPLOYED,
        Severity.ERROR,
        "DB_HOST: is not set; the development default 'localhost' is used - "
        "set DB_HOST to the database server",
    ),
    _Case(
        "db-username-default",
        {"DB_USERNAME": None},
        _DEPLOYED,
        Severity.ERROR,
        "DB_USERNAME: is not set; the development default 'postgres' (a superuser) is used - "
        "set DB_USERNAME to the application's own database user",
    ),
    _Case(
        "db-database-default",
        {"DB_DATABASE": None},
        _DEPLOYED,
        Severity.ERROR,
        "DB_DATABASE: is not set; the development default 'postgres' is used - "
        "set DB_DATABASE to the application's database",
    ),
    _Case(
        "debug-enabled",
        {"DEBUG": "true"},
        _PRODUCTION,
        Severity.ERROR,
        "DEBUG: is true in production (tracebacks and internals reach clients) - set DEBUG=false",
    ),
    _Case(
        "debug-enabled-staging",
        {"DEBUG": "true"},
        frozenset({Environment.STAGING}),
        Severity.WARNING,
        "DEBUG: is true in staging - set DEBUG=false unless you are investigating a problem",
    ),
    _Case(
        "echo-sql-enabled",
        {"DB_ECHO_SQL": "true"},
        _PRODUCTION,
        Severity.ERROR,
        "DB_ECHO_SQL: is true in production (statements and their data are written to the "
        "logs) - set DB_ECHO_SQL=false",
    ),
    _Case(
        "cors-wildcard-origin",
        {"CORS_ORIGINS": "*", "CORS_ALLOW_CREDENTIALS": "false"},
        _PRODUCTION,
        Severity.ERROR,
        "CORS_ORIGINS: allows every origin ('*') in production - list the allowed origins, "
        "e.g. CORS_ORIGINS=https://app.example.com",
    ),
    _Case(
        "cors-origins-default",
        {"CORS_ORIGINS": None},
        _PRODUCTION,
        Severity.ERROR,
        "CORS_ORIGINS: is not set in production, so only the development origin "
        "http://localhost:3000 would be allowed, with credentials - list the front ends that "
        "call the service, e.g. CORS_ORIGINS=https://app.example.com",
    ),
    _Case(
        "cors-plain-http",
        {"CORS_ORIGINS": "https://app.example.com,http://app.example.com"},
        _PRODUCTION,
        Severity.ERROR,
        "CORS_ORIGINS: allows a plain-http origin other than localhost in production - "
        "use https:// origins",
    ),
    _Case(
        "log-level-debug",
        {"LOG_LEVEL": "debug"},
        _PRODUCTION,
        Severity.WARNING,
        "LOG_LEVEL: is DEBUG in production (verbose, and may include request data) - "
        "set LOG_LEVEL=INFO or higher",
    ),
)
_BY_ID: Final = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class _Outcome:
    """What loading did: refused (with findings) or accepted (with logged findings)."""

    refused: bool
    findings: dict[str, tuple[Severity, str]]


def _load(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    environment: Environment,
    changes: Mapping[str, str | None],
) -> _Outcome:
    """Load the valid configuration with *changes* in *environment*; collect every finding."""
    values = {**VALID, "ENVIRONMENT": environment.value, **changes}
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    caplog.clear()
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always", GeneratedSecretKeyWarning)
            load_settings()
    except ConfigurationError as exc:
        # A finding of no rule (a refused value) is kept too, under its variable.
        found = {f.rule or f"no rule: {f.variable}": (f.severity, str(f)) for f in exc.findings}
        return _Outcome(refused=True, findings=found)
    logged = {
        str(getattr(r, "rule", "")): (Severity.WARNING, r.getMessage())
        for r in caplog.records
        if r.name == "agentifui_config" and getattr(r, "rule", None)
    }
    # The generated key is said through the warnings module, not logged; any
    # other warning goes on to the test's own filters (a pytest.warns around it).
    for w in warned:
        if w.category is GeneratedSecretKeyWarning:
            logged["secret-key-generated"] = (Severity.WARNING, str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return _Outcome(refused=False, findings=logged)


def _params(inside: bool) -> list[object]:
    return [
        pytest.param(case, env, id=f"{case.rule}-{env.value}")
        for case in _CASES
        for env in Environment
        if (env in case.environments) is inside
    ]


class TestRules:
    def test_every_rule_has_a_case(self) -> None:
        """Each rule in RULES is exercised below, with the environments and severity pinned."""
        assert [c.rule for c in _CASES] == [r.id for r in RULES]
        for case in _CASES:
            rule = _BY_ID[case.rule]
            assert (rule.environments, rule.severity) == (case.environments, case.severity)
            assert str(rule.finding()) == case.rendered

    @pytest.mark.parametrize("environment", list(Environment))
    def test_valid_configuration_has_no_findings(
        self,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        environment: Environment,
    ) -> None:
        """The baseline configuration passes every rule silently in every environment."""
        assert _load(monkeypatch, caplog, environment, {}) == _Outcome(False, {})

    @pytest.mark.parametrize(("case", "environment"), _params(inside=True))
    def test_fires_where_it_binds(
        self,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        case: _Case,
        environment: Environment,
    ) -> None:
        """Breaking the rule where it binds refuses (error) or logs (warning) its line."""
        outcome = _load(monkeypatch, caplog, environment, case.breaks)
        assert outcome.findings.get(case.rule) == (case.severity, case.rendered)
        assert outcome.refused is (case.severity is Severity.ERROR)

    @pytest.mark.parametrize(("case", "environment"), _params(inside=False))
    def test_is_silent_elsewhere(
        self,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        case: _Case,
        environment: Environment,
    ) -> None:
        """The same configuration in an environment the rule does not bind raises no finding."""
        outcome = _load(monkeypatch, caplog, environment, case.breaks)
        assert case.rule not in outcome.findings
        # Only rules spoke: no refused value stopped loading before the rules could run.
        assert set(outcome.findings) <= set(_BY_ID)


class TestSecretKeyRules:
    def test_development_generates_a_random_key_with_a_warning(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Without SECRET_KEY development gets a random key of >= 32 characters, warned once.

        Under Python's default filter, as a script or a server runs, loading the
        settings twice warns once; the warning is not logged besides.
        """
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("default")
            first = load_settings()
            second = load_settings()
        assert first.secret_key is not None
        assert second.secret_key is not None
        key = first.secret_key.get_secret_value()
        assert len(key) >= MIN_SECRET_KEY_LENGTH
        assert key != second.secret_key.get_secret_value()
        assert first.secret_key_generated is True
        generated = [w for w in warned if w.category is GeneratedSecretKeyWarning]
        assert [str(w.message) for w in generated] == [_GENERATED_LINE]
        assert key not in str(generated[0].message)
        assert not [r for r in caplog.records if getattr(r, "rule", None) == "secret-key-generated"]

    def test_the_generated_key_warning_follows_the_warning_filters(self) -> None:
        """pytest.warns sees it on each load; an "error" filter raises it; "ignore" hides it."""
        with pytest.warns(GeneratedSecretKeyWarning, match=r"^SECRET_KEY: is not set;"):
            load_settings()
        with warnings.catch_warnings():
            warnings.simplefilter("error", GeneratedSecretKeyWarning)
            with pytest.raises(GeneratedSecretKeyWarning):
                load_settings()
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("ignore", GeneratedSecretKeyWarning)
            load_settings()
        assert warned == []

    def test_a_given_key_is_not_generated(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A SECRET_KEY set in development is used as given, without a warning."""
        monkeypatch.setenv("SECRET_KEY", "dev-key")
        settings = load_settings()
        assert settings.secret_key is not None
        assert settings.secret_key.get_secret_value() == "dev-key"
        assert settings.secret_key_generated is False

    @pytest.mark.parametrize("environment", sorted(_DEPLOYED))
    def test_empty_key_counts_as_missing(
        self,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        environment: Environment,
    ) -> None:
        """SECRET_KEY= (empty) is refused in staging and production like an unset one."""
        outcome = _load(monkeypatch, caplog, environment, {"SECRET_KEY": ""})
        assert outcome.refused
        assert "secret-key-missing" in outcome.findings

    @pytest.mark.parametrize("key", sorted(INSECURE_SECRET_KEYS))
    def test_every_placeholder_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, key: str
    ) -> None:
        """Each listed placeholder, in any case, is refused in production."""
        outcome = _load(monkeypatch, caplog, Environment.PRODUCTION, {"SECRET_KEY": key.upper()})
        assert "secret-key-insecure" in outcome.findings

    def test_a_key_of_the_minimum_length_is_accepted(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Exactly 32 characters is long enough; 31 is not."""
        key = VALID["SECRET_KEY"][:MIN_SECRET_KEY_LENGTH]
        ok = _load(monkeypatch, caplog, Environment.PRODUCTION, {"SECRET_KEY": key})
        short = _load(monkeypatch, caplog, Environment.PRODUCTION, {"SECRET_KEY": key[:-1]})
        assert ok == _Outcome(False, {})
        assert "secret-key-short" in short.findings


class TestDatabaseRules:
    @pytest.mark.parametrize("password", sorted(WEAK_PASSWORDS))
    def test_every_weak_password_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, password: str
    ) -> None:
        """Each listed weak password, in any case, is refused in staging."""
        outcome = _load(monkeypatch, caplog, Environment.STAGING, {"DB_PASSWORD": password.title()})
        assert "db-password-weak" in outcome.findings

    def test_password_equal_to_the_user_name_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A password equal to DB_USERNAME is refused."""
        changes = {"DB_USERNAME": "orders_svc", "DB_PASSWORD": "orders_svc"}
        outcome = _load(monkeypatch, caplog, Environment.PRODUCTION, changes)
        assert "db-password-weak" in outcome.findings

    def test_parts_from_database_url_count_as_set(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Host, user and database given by a legacy DATABASE_URL satisfy the default rules."""
        changes: dict[str, str | None] = {
            "DB_HOST": None,
            "DB_USERNAME": None,
            "DB_DATABASE": None,
            "DB_PASSWORD": None,
            "DATABASE_URL": "postgresql://app:Vq7-rJp2-xL9m@db.internal/app",
        }
        with pytest.warns(DeprecationWarning, match="^DATABASE_URL is deprecated"):
            outcome = _load(monkeypatch, caplog, Environment.PRODUCTION, changes)
        assert outcome.findings == {}


class TestCorsRules:
    @pytest.mark.parametrize("environment", list(Environment))
    def test_wildcard_without_credentials_outside_production(
        self,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        environment: Environment,
    ) -> None:
        """'*' with CORS_ALLOW_CREDENTIALS=false is refused only in production."""
        changes = {"CORS_ORIGINS": "*", "CORS_ALLOW_CREDENTIALS": "false"}
        outcome = _load(monkeypatch, caplog, environment, changes)
        assert outcome.refused is (environment is Environment.PRODUCTION)
        assert "cors-wildcard-credentials" not in outcome.findings

    def test_wildcard_among_origins_with_credentials(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """'*' listed next to real origins still counts as a wildcard with credentials."""
        changes = {"CORS_ORIGINS": "https://app.example.com,*"}
        outcome = _load(monkeypatch, caplog, Environment.DEVELOPMENT, changes)
        assert "cors-wildcard-credentials" in outcome.findings

    @pytest.mark.parametrize(
        "origin",
        ["http://localhost:3000", "http://127.0.0.1", "http://[::1]:8080", "http://[::1]"],
    )
    def test_plain_http_to_this_machine_is_allowed(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, origin: str
    ) -> None:
        """Plain-http origins on this machine are not refused in production."""
        changes = {"CORS_ORIGINS": f"https://app.example.com,{origin}"}
        outcome = _load(monkeypatch, caplog, Environment.PRODUCTION, changes)
        assert "cors-plain-http" not in outcome.findings

    @pytest.mark.parametrize("origin", ["http://localhost.example.com", "http://10.0.0.5:8080"])
    def test_plain_http_elsewhere_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, origin: str
    ) -> None:
        """Plain-http origins on other hosts are refused in production."""
        outcome = _load(monkeypatch, caplog, Environment.PRODUCTION, {"CORS_ORIGINS": origin})
        assert "cors-plain-http" in outcome.findings


class TestEvaluate:
    def test_applies_the_given_rules_in_order_where_they_bind(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """evaluate() returns the findings of the broken rules that bind, in rule order."""
        monkeypatch.setenv("LOG_LEVEL", "debug")
        settings = load_settings()
        always = Rule("always", "LOG_LEVEL", _ALL, Severity.WARNING, lambda s: True, "m1", "r1")
        never = Rule("never", "LOG_LEVEL", _ALL, Severity.ERROR, lambda s: False, "m2", "r2")
        debug = Rule(
            "debug", "LOG_LEVEL", _ALL, Severity.ERROR, lambda s: s.log_level == "DEBUG", "m3", "r3"
        )
        production = Rule("prod", "DEBUG", _PRODUCTION, Severity.ERROR, lambda s: True, "m", "r")
        assert evaluate(settings, [debug, never, production, always]) == [
            Finding("LOG_LEVEL", "m3", "r3", Severity.ERROR, "debug"),
            Finding("LOG_LEVEL", "m1", "r1", Severity.WARNING, "always"),
        ]

    def test_all_rules_by_default(self) -> None:
        """Without rules, evaluate() applies RULES: development without a key gets one finding."""
        settings = load_settings()
        assert [f.rule for f in evaluate(settings)] == ["secret-key-generated"]

    def test_rule_finding(self) -> None:
        """Rule.finding() carries the rule's variable, wording, severity and id."""
        rule = _BY_ID["debug-enabled"]
        assert rule.finding() == Finding(
            "DEBUG", rule.message, rule.remedy, Severity.ERROR, "debug-enabled"
        )
