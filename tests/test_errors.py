"""Tests for ``agentifui_config.errors``: findings, the report, masking and typo suggestions."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Annotated, Any, Literal, assert_type

import pytest
from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from agentifui_config.errors import (
    UNNAMED,
    ConfigurationError,
    Finding,
    Severity,
    findings_from_errors,
)
from agentifui_config.parsing import parse_list

# The variables the library documents (DESIGN.md), the names typo suggestions aim at.


class TestFinding:
    def test_renders_variable_message_and_remedy(self) -> None:
        """A finding reads `VARIABLE: message - remedy`."""
        finding = Finding("DB_PORT", "expected a whole number", "use a port from 1 to 65535")
        assert str(finding) == "DB_PORT: expected a whole number - use a port from 1 to 65535"

    def test_renders_without_remedy(self) -> None:
        """A finding without a remedy has no dangling separator."""
        assert str(Finding("DB_HOST", "is required")) == "DB_HOST: is required"

    def test_defaults_to_an_error_from_no_rule(self) -> None:
        """A finding is an error and belongs to no policy rule unless told otherwise."""
        finding = Finding("LOG_LEVEL", "is unknown")
        assert finding.severity is Severity.ERROR
        assert finding.rule is None

    def test_is_immutable(self) -> None:
        """A finding cannot be changed once made, so a report cannot be altered after the fact."""
        finding = Finding("DB_HOST", "is required")
        with pytest.raises(AttributeError):
            finding.message = "something else"  # type: ignore[misc]


class TestConfigurationError:
    def test_is_a_value_error(self) -> None:
        """Code written for plain Python errors catches a configuration error."""
        with pytest.raises(ValueError, match=r"^DB_HOST: is required$"):
            raise ConfigurationError("is required", variable="DB_HOST")

    def test_single_message_renders_as_one_finding(self) -> None:
        """A one-off message becomes one finding with its variable and remedy."""
        error = ConfigurationError("is empty", variable="DATABASE_URL", remedy="give a URL")
        assert str(error) == "DATABASE_URL: is empty - give a URL"
        assert error.findings == (Finding("DATABASE_URL", "is empty", "give a URL"),)

    def test_message_without_variable_names_the_configuration(self) -> None:
        """A message about no particular variable is attributed to the configuration."""
        assert str(ConfigurationError("cannot be read")) == "configuration: cannot be read"

    def test_several_findings_render_one_line_each(self) -> None:
        """Several findings render as a header and one indented line per finding."""
        error = ConfigurationError(
            [
                Finding(
                    "DB_PORT", "must be at most 65535, got 70000", "use a port from 1 to 65535"
                ),
                Finding("DB_HOST", "is required"),
            ]
        )
        assert str(error).splitlines() == [
            "invalid configuration (2 errors):",
            "  DB_PORT: must be at most 65535, got 70000 - use a port from 1 to 65535",
            "  DB_HOST: is required",
        ]

    def test_header_counts_warnings_apart(self) -> None:
        """The header counts errors and warnings separately, and only errors refuse."""
        warning = Finding("DB_HSOT", "is unknown", severity=Severity.WARNING)
        error = ConfigurationError([Finding("DB_PORT", "is bad"), warning])
        assert str(error).splitlines()[0] == "invalid configuration (1 error, 1 warning):"
        assert error.errors == (Finding("DB_PORT", "is bad"),)

    def test_variables_keep_report_order_without_repeats(self) -> None:
        """`variables` lists each variable once, in the order the report names them."""
        error = ConfigurationError(
            [Finding("DB_PORT", "a"), Finding("DB_HOST", "b"), Finding("DB_PORT", "c")]
        )
        assert error.variables == ("DB_PORT", "DB_HOST")

    def test_survives_pickling(self) -> None:
        """An error sent to another process (multiprocessing, xdist) renders the same."""
        error = ConfigurationError([Finding("DB_PORT", "a"), Finding("DB_HOST", "b")])
        assert str(pickle.loads(pickle.dumps(error))) == str(error)  # noqa: S301 - our own bytes


class _Settings(BaseModel):
    """A small model whose validation errors feed ``findings_from_errors``."""

    port: int = Field(5432, ge=1, le=65535)
    secret_key: str = Field("x" * 32, min_length=1)
    password: int = 0
    mode: Literal["fast", "safe"] = "safe"
    origins: Annotated[list[str], BeforeValidator(parse_list)] = []
    hosts: Annotated[list[str], BeforeValidator(lambda v: parse_list(v, variable="HOSTS"))] = []


_VARIABLES = {"port": "PORT", "secret_key": "SECRET_KEY", "password": "PASSWORD"}


def _variable(loc: tuple[int | str, ...]) -> str:
    return _VARIABLES.get(str(loc[0]), str(loc[0]).upper()) if loc else "SETTINGS"


def _errors(**values: Any) -> list[Any]:
    with pytest.raises(ValidationError) as caught:
        _Settings(**values)
    return list(caught.value.errors(include_url=False))


class TestFindingsFromErrors:
    def test_names_the_variable_and_shows_a_plain_input(self) -> None:
        """A non-secret variable's finding says what was expected and what was given."""
        findings = findings_from_errors(_errors(port="abc"), _variable, {"SECRET_KEY"})
        assert findings == [Finding("PORT", "expected a whole number, got 'abc'")]

    def test_fills_the_bound_from_the_constraint(self) -> None:
        """A range error states the bound the value broke."""
        findings = findings_from_errors(_errors(port=70000), _variable, set())
        assert [str(f) for f in findings] == ["PORT: must be at most 65535, got 70000"]

    def test_masks_secret_inputs(self) -> None:
        """A secret variable's input is never shown, whatever the error."""
        findings = findings_from_errors(
            _errors(secret_key="", password="hunter2-hunter2"),
            _variable,
            {"SECRET_KEY", "PASSWORD"},
        )
        assert [str(f) for f in findings] == [
            "SECRET_KEY: must not be empty",
            "PASSWORD: expected a whole number",
        ]
        assert "hunter2" not in str(ConfigurationError(findings))

    def test_lists_the_allowed_literals(self) -> None:
        """A choice error lists the values allowed."""
        findings = findings_from_errors(_errors(mode="turbo"), _variable, set())
        assert str(findings[0]) == "MODE: expected one of 'fast' or 'safe', got 'turbo'"

    def test_adds_the_remedy_for_the_variable(self) -> None:
        """A remedy given for the variable is attached to its finding."""
        findings = findings_from_errors(
            _errors(port=0), _variable, set(), {"PORT": "use a port from 1 to 65535"}
        )
        assert str(findings[0]) == "PORT: must be at least 1, got 0 - use a port from 1 to 65535"

    def test_parser_errors_contribute_their_own_findings(self) -> None:
        """A parser's ConfigurationError is passed on, attributed to the validated variable."""
        with pytest.raises(ConfigurationError) as unnamed:
            parse_list("[not json")
        assert unnamed.value.variables == (UNNAMED,)
        findings = findings_from_errors(_errors(origins="[not json"), _variable, set())
        assert len(findings) == 1
        assert findings[0].variable == "ORIGINS"
        assert findings[0].message == "starts with '[' but is not a valid JSON array"
        assert findings[0].remedy.startswith("write a JSON array")

    def test_parser_errors_keep_a_variable_they_name(self) -> None:
        """A parser told which variable it parses keeps that name in the finding."""
        findings = findings_from_errors(_errors(hosts="[1]"), _variable, set())
        assert [f.variable for f in findings] == ["HOSTS"]

    def test_keeps_pydantic_order(self) -> None:
        """One finding per error, in the order pydantic reports them."""
        findings = findings_from_errors(_errors(port="x", mode="y"), _variable, set())
        assert [f.variable for f in findings] == ["PORT", "MODE"]

    def test_unknown_error_types_fall_back_to_pydantic_message(self) -> None:
        """An error type with no wording of its own keeps pydantic's message."""
        error = {"type": "url_parsing", "loc": ("home",), "msg": "Input should be a URL"}
        findings = findings_from_errors([error], _variable, set())
        assert findings == [Finding("HOME", "Input should be a URL")]

    def test_template_without_its_context_falls_back(self) -> None:
        """A templated error missing the context it names falls back to pydantic's message."""
        error = {"type": "greater_than_equal", "loc": (), "msg": "too small", "ctx": {}}
        findings = findings_from_errors([error], _variable, set())
        assert findings == [Finding("SETTINGS", "too small")]

    def test_length_error_states_the_minimum(self) -> None:
        """A too-short value's finding says how long it must be."""

        class Key(BaseModel):
            secret_key: str = Field(min_length=32)

        with pytest.raises(ValidationError) as caught:
            Key(secret_key="short")
        findings = findings_from_errors(caught.value.errors(), _variable, {"SECRET_KEY"})
        assert "32" in findings[0].message

    def test_scrubs_a_secret_quoted_by_a_validator(self) -> None:
        """Even a validator that quotes its input cannot leak a secret variable's value."""

        def reject(value: str) -> str:
            raise ValueError(f"{value!r} is on the list of leaked keys")

        class Key(BaseModel):
            secret_key: Annotated[str, BeforeValidator(reject)]

        with pytest.raises(ValidationError) as caught:
            Key(secret_key="hunter2-hunter2")
        findings = findings_from_errors(caught.value.errors(), _variable, {"SECRET_KEY"})
        assert "hunter2" not in str(ConfigurationError(findings))

    def test_short_secret_does_not_garble_the_message(self) -> None:
        """Scrubbing a short secret input leaves the library's own wording intact."""

        class Key(BaseModel):
            secret_key: str = Field(min_length=32)

        with pytest.raises(ValidationError) as caught:
            Key(secret_key="3")
        findings = findings_from_errors(caught.value.errors(), _variable, {"SECRET_KEY"})
        assert findings[0].message == "must be at least 32 characters long"

    def test_signature(self) -> None:
        """The result is a list of findings."""
        variable: Callable[[tuple[int | str, ...]], str] = _variable
        assert_type(findings_from_errors([], variable, set()), list[Finding])
