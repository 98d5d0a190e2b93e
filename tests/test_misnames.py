"""Tests for the misspelling check: suggestions, typo findings and their severity."""

from __future__ import annotations

from typing import assert_type

import pytest

from agentifui_config.errors import Finding, Severity
from agentifui_config.misnames import suggest_variable, typo_findings

KNOWN = (
    "DB_HOST",
    "DB_PORT",
    "DB_USERNAME",
    "DB_PASSWORD",
    "DB_DATABASE",
    "DB_DRIVER",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_POOL_TIMEOUT",
    "DB_POOL_RECYCLE",
    "DB_ECHO_SQL",
    "DATABASE_URL",
    "ENVIRONMENT",
    "CORS_ORIGINS",
    "CORS_ALLOW_CREDENTIALS",
    "CORS_ALLOW_METHODS",
    "CORS_ALLOW_HEADERS",
    "SECRET_KEY",
    "LOG_LEVEL",
    "FEATURE_FLAGS",
)


class TestSuggestVariable:
    @pytest.mark.parametrize(
        ("typo", "meant"),
        [
            ("DB_HSOT", "DB_HOST"),
            ("CORS_ORIGIN", "CORS_ORIGINS"),
            ("SECERT_KEY", "SECRET_KEY"),
            ("DB_PASWORD", "DB_PASSWORD"),
            ("databse_url", "DATABASE_URL"),
        ],
    )
    def test_suggests_the_near_miss(self, typo: str, meant: str) -> None:
        """A name one slip away from a known variable suggests that variable."""
        assert suggest_variable(typo, KNOWN) == meant

    @pytest.mark.parametrize("name", ["PATH", "HOME", "LANG", "KUBERNETES_SERVICE_HOST", "DEBUG"])
    def test_unrelated_names_suggest_nothing(self, name: str) -> None:
        """A variable that is not close to any known one suggests nothing."""
        assert suggest_variable(name, KNOWN) is None

    @pytest.mark.parametrize("name", ["DB_HOST", "db_host"])
    def test_known_name_in_any_case_suggests_nothing(self, name: str) -> None:
        """A variable the library reads is not a typo of another one."""
        assert suggest_variable(name, KNOWN) is None

    def test_cutoff_controls_how_near_a_miss_is(self) -> None:
        """A stricter cutoff refuses a suggestion a looser one makes."""
        assert suggest_variable("DB_HSOT", KNOWN, cutoff=0.99) is None

    def test_signature(self) -> None:
        """The suggestion is a variable name or None."""
        assert_type(suggest_variable("DB_HSOT", KNOWN), str | None)


class TestTypoFindings:
    def test_alias_names_the_variable_it_stands_for(self) -> None:
        """An alias no similarity score finds is reported, an error while its variable is unset."""
        aliases = {"DB_USER": "DB_USERNAME"}
        assert suggest_variable("DB_USER", KNOWN) is None
        (lost,) = typo_findings(["db_user"], KNOWN, {"DB_USERNAME": True}, aliases)
        assert (lost.variable, lost.remedy, lost.severity) == (
            "DB_USER",
            "did you mean DB_USERNAME?",
            Severity.ERROR,
        )
        (kept,) = typo_findings(["DB_USER"], KNOWN, {"DB_USERNAME": False}, aliases)
        assert kept.severity is Severity.WARNING

    def test_near_miss_of_a_missing_variable_is_an_error(self) -> None:
        """A typo for a variable left unset is an error: the value the operator meant is lost."""
        findings = typo_findings(["DB_HSOT"], KNOWN, {"DB_HOST": True})
        assert findings == [
            Finding(
                "DB_HSOT",
                "is not a variable agentifui-config reads",
                "did you mean DB_HOST?",
                Severity.ERROR,
                rule="unknown-variable",
            )
        ]

    def test_near_miss_of_a_set_variable_is_a_warning(self) -> None:
        """A typo next to the correctly set variable is only a warning."""
        findings = typo_findings(["DB_HSOT", "DB_HOST"], KNOWN, {"DB_HOST": False})
        assert [(f.variable, f.severity) for f in findings] == [("DB_HSOT", Severity.WARNING)]

    def test_ignores_known_and_unrelated_names(self) -> None:
        """Known variables and unrelated ones (PATH, HOME) give no finding."""
        assert typo_findings(["PATH", "HOME", "DB_HOST", "SECRET_KEY"], KNOWN, {}) == []

    @pytest.mark.parametrize(
        ("name", "meant"),
        [
            ("REDIS_PASSWORD", "DB_PASSWORD"),
            ("JWT_SECRET_KEY", "SECRET_KEY"),
            ("API_SECRET_KEY", "SECRET_KEY"),
            ("APP_ENVIRONMENT", "ENVIRONMENT"),
            ("APP_LOG_LEVEL", "LOG_LEVEL"),
        ],
    )
    def test_another_tools_variable_is_only_a_warning(self, name: str, meant: str) -> None:
        """A name that adds or swaps a whole word (REDIS_ for DB_) is another variable: a hint."""
        findings = typo_findings([name], KNOWN, {meant: True})
        assert [(f.remedy, f.severity) for f in findings] == [
            (f"did you mean {meant}?", Severity.WARNING)
        ]

    @pytest.mark.parametrize(
        ("name", "meant"),
        [
            ("LOGLEVEL", "LOG_LEVEL"),
            ("DB_PROT", "DB_PORT"),
            ("SECERT_KEY", "SECRET_KEY"),
            ("CORS_ALLOW_ORIGINS", "CORS_ORIGINS"),
            ("CORS_HEADERS", "CORS_ALLOW_HEADERS"),
            ("DATABSE_URL", "DATABASE_URL"),
        ],
    )
    def test_a_slip_of_a_missing_variable_stays_an_error(self, name: str, meant: str) -> None:
        """Changed letters, or a word dropped or inserted inside one of ours, is a typo."""
        findings = typo_findings([name], KNOWN, {meant: True})
        assert [(f.remedy, f.severity) for f in findings] == [
            (f"did you mean {meant}?", Severity.ERROR)
        ]

    def test_reports_each_name_once_in_order(self) -> None:
        """Findings come one per distinct name, sorted, so reports are stable."""
        findings = typo_findings(["SECERT_KEY", "DB_HSOT", "DB_HSOT"], KNOWN, {})
        assert [f.variable for f in findings] == ["DB_HSOT", "SECERT_KEY"]
        assert [f.remedy for f in findings] == ["did you mean DB_HOST?", "did you mean SECRET_KEY?"]
