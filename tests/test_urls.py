"""Tests for composing a DatabaseConfig's URL and naming its variables."""

from __future__ import annotations

import pytest

from agentifui_config import DatabaseConfig
from agentifui_config.urls import compose_url, field_for, masked_url, variable_for


class TestComposeUrl:
    def test_password_with_url_characters_survives(self) -> None:
        """A password holding @, / and % round-trips through the composed URL."""
        url = compose_url(DatabaseConfig(host="db", password="p@ss/w%rd"))
        assert url.password == "p@ss/w%rd"

    def test_socket_directory_travels_as_a_query_option(self) -> None:
        """A unix-socket directory is the host query option, as asyncpg reads it."""
        url = compose_url(DatabaseConfig(host="/cloudsql/p:r:i"))
        assert (url.host, url.query["host"]) == (None, "/cloudsql/p:r:i")

    def test_masked_url_hides_password_and_secret_options(self) -> None:
        """The masked URL shows the one mask for the password and secret options."""
        config = DatabaseConfig(host="db", password="pw", options={"sslpassword": "k"})
        assert masked_url(compose_url(config)) == (
            "postgresql+asyncpg://postgres:**********@db:5432/postgres?sslpassword=**********"
        )


class TestVariables:
    @pytest.mark.parametrize("field", list(DatabaseConfig.model_fields))
    def test_round_trip(self, field: str) -> None:
        """Every field has a variable, and that variable names the field back."""
        assert field_for(variable_for(field)) == field

    def test_own_names(self) -> None:
        """DB_<FIELD> by default; the migration URL has a variable of its own name."""
        assert variable_for("pool_size") == "DB_POOL_SIZE"
        assert variable_for("migration_url") == "MIGRATION_DATABASE_URL"
