"""Tests for ``agentifui_config.environment``: the deployment environment and its spellings."""

from __future__ import annotations

from typing import assert_type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentifui_config.environment import Environment
from agentifui_config.errors import ConfigurationError

_SPELLINGS = {
    "development": Environment.DEVELOPMENT,
    "dev": Environment.DEVELOPMENT,
    "staging": Environment.STAGING,
    "stage": Environment.STAGING,
    "production": Environment.PRODUCTION,
    "prod": Environment.PRODUCTION,
}


def _recased(word: str, upper: list[bool]) -> str:
    return "".join(c.upper() if up else c for c, up in zip(word, upper, strict=False))


class TestEnvironmentParse:
    @pytest.mark.parametrize(("spelling", "expected"), sorted(_SPELLINGS.items()))
    def test_accepts_names_and_aliases(self, spelling: str, expected: Environment) -> None:
        """Each value and each alias (dev, stage, prod) names its environment."""
        assert Environment.parse(spelling) is expected

    @given(
        spelling=st.sampled_from(sorted(_SPELLINGS)),
        upper=st.lists(st.booleans(), min_size=11, max_size=11),
        padding=st.sampled_from(["", " ", "\t", " \n"]),
    )
    @settings(max_examples=200)
    def test_accepts_any_case_and_surrounding_space(
        self, spelling: str, upper: list[bool], padding: str
    ) -> None:
        """Case and surrounding whitespace do not matter: 'PROD ' is production."""
        value = padding + _recased(spelling, upper) + padding
        assert Environment.parse(value) is _SPELLINGS[spelling]

    def test_passes_an_environment_through(self) -> None:
        """An Environment given to parse is returned as it is."""
        assert Environment.parse(Environment.STAGING) is Environment.STAGING

    @pytest.mark.parametrize("value", ["", "qa", "production2", "pr od", "live"])
    def test_rejects_anything_else_listing_the_accepted_values(self, value: str) -> None:
        """An unknown name is an error on ENVIRONMENT that lists every accepted value."""
        with pytest.raises(
            ConfigurationError,
            match=(
                rf"^ENVIRONMENT: unknown environment '{value}' - use one of: "
                r"development, staging, production, dev, stage, prod$"
            ),
        ):
            Environment.parse(value)

    @given(st.text(max_size=30))
    @settings(max_examples=300)
    def test_any_text_gives_an_environment_or_a_configuration_error(self, value: str) -> None:
        """Whatever the text, parse returns an environment or raises ConfigurationError."""
        expected = _SPELLINGS.get(value.strip().lower())
        if expected is None:
            with pytest.raises(ConfigurationError, match=r"^ENVIRONMENT: unknown environment "):
                Environment.parse(value)
        else:
            assert Environment.parse(value) is expected

    def test_signature(self) -> None:
        """Environment.parse returns an Environment."""
        assert_type(Environment.parse("dev"), Environment)


class TestEnvironment:
    def test_values_are_the_canonical_names(self) -> None:
        """Each environment's value is the name operators write in full."""
        assert [e.value for e in Environment] == ["development", "staging", "production"]
        assert str(Environment.PRODUCTION) == "production"

    @pytest.mark.parametrize(
        ("environment", "development", "production"),
        [
            (Environment.DEVELOPMENT, True, False),
            (Environment.STAGING, False, False),
            (Environment.PRODUCTION, False, True),
        ],
    )
    def test_predicates(
        self, environment: Environment, development: bool, production: bool
    ) -> None:
        """is_development and is_production hold for their own environment only."""
        assert environment.is_development is development
        assert environment.is_production is production
