"""Tests for where settings come from: arguments, environment, secret files, .env file."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from agentifui_config import ConfigurationError, EnvironmentSettings, load_settings
from agentifui_config.secrecy import REVEAL_SECRETS
from agentifui_config.sources import FILE_SUFFIX, SECRET_FILE_VARIABLES

# Each test starts with none of our variables (nor look-alikes) set and nothing cached.
pytestmark = pytest.mark.usefixtures("clean_env")


def _env_file(directory: Path, lines: Mapping[str, str], *extra: str) -> Path:
    """Write a .env file with NAME=value lines (values quoted) and any extra raw lines."""
    path = directory / ".env"
    text = [f"{name}='{value}'" for name, value in lines.items()]
    path.write_text("\n".join([*extra, *text, ""]), encoding="utf-8")
    return path


def _secret_file(directory: Path, name: str, content: str) -> Path:
    path = directory / name
    path.write_text(content, encoding="utf-8")
    return path


def _revealed(settings: EnvironmentSettings) -> dict[str, Any]:
    """*settings* dumped with every secret in clear, so that two dumps compare their values."""
    return settings.model_dump(context={REVEAL_SECRETS: True})


def _given_secret_key(settings: EnvironmentSettings) -> str | None:
    """The SECRET_KEY that was given, ``None`` for the generated development one."""
    if settings.secret_key is None or settings.secret_key_generated:
        return None
    return settings.secret_key.get_secret_value()


class TestDotEnvFile:
    def test_values_are_read(self, tmp_path: Path) -> None:
        """Variables in the .env file given to load_settings() are read."""
        path = _env_file(
            tmp_path,
            {
                "LOG_LEVEL": "error",
                "FEATURE_FLAGS": "beta",
                "CORS_ORIGINS": "https://a.example.com",
            },
        )
        settings = load_settings(env_file=path)
        assert settings.log_level == "ERROR"
        assert settings.feature_flags == {"beta": True}
        assert settings.cors_origins == ["https://a.example.com"]

    def test_db_lines_reach_the_database(self, tmp_path: Path) -> None:
        """DB_* lines in the .env file fill settings.database."""
        path = _env_file(
            tmp_path,
            {
                "DB_HOST": "dotenv.example.com",
                "DB_PORT": "6000",
                "DB_PASSWORD": "from-dotenv",
                "DB_OPTIONS": '{"target_session_attrs": "read-write"}',
            },
        )
        database = load_settings(env_file=str(path)).database
        assert (database.host, database.port) == ("dotenv.example.com", 6000)
        assert database.password.get_secret_value() == "from-dotenv"
        assert database.options == {"target_session_attrs": "read-write"}

    def test_unrelated_lines_are_ignored(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Comments, other applications' variables and stray DB / DATABASE lines do no harm."""
        path = _env_file(
            tmp_path,
            {"LOG_LEVEL": "warning"},
            "# a comment",
            "REDIS_URL=redis://cache:6379/0",
            "NODE_ENV=production",
            "DB=other",
            'DATABASE=\'{"host": "x"}\'',
        )
        settings = load_settings(env_file=path)
        assert settings.log_level == "WARNING"
        assert settings.database.host == "localhost"
        assert not any("REDIS_URL" in r.getMessage() for r in caplog.records)

    def test_missing_file_is_ignored(self, tmp_path: Path) -> None:
        """A .env path that does not exist is the same as none."""
        assert load_settings(env_file=tmp_path / "absent.env").log_level == "INFO"

    @pytest.mark.parametrize(
        ("content", "reason"),
        [(None, "Is a directory"), ("DB_PASSWORD=p\xe4sswort\n".encode("latin-1"), "not UTF-8")],
    )
    def test_unreadable_file_is_refused(
        self, tmp_path: Path, content: bytes | None, reason: str
    ) -> None:
        """A .env file that is not UTF-8 text is a ConfigurationError naming it, not a crash."""
        path = tmp_path / ".env"
        if content is None:
            path.mkdir()
            assert load_settings(env_file=path).log_level == "INFO"  # not a file: as if absent
            return
        path.write_bytes(content)
        with pytest.raises(ConfigurationError) as info:
            load_settings(env_file=path)
        assert info.value.variables == ("env_file",)
        assert str(path) in str(info.value)
        assert reason in str(info.value)
        assert info.value.__context__ is None

    def test_typo_in_the_file_is_suggested(self, tmp_path: Path) -> None:
        """A near-miss name in the .env file gets a did-you-mean like one in the environment."""
        path = _env_file(tmp_path, {"DB_HSOT": "db.internal"})
        with pytest.raises(ConfigurationError, match=r"DB_HSOT: .* did you mean DB_HOST\?"):
            load_settings(env_file=path)

    def test_bad_value_in_the_file_names_the_variable(self, tmp_path: Path) -> None:
        """A bad value from the .env file is reported under its variable."""
        path = _env_file(tmp_path, {"DB_PORT": "abc"})
        with pytest.raises(
            ConfigurationError, match=r"\n  DB_PORT: expected a whole number, got 'abc'"
        ):
            load_settings(env_file=path)

    def test_environment_in_the_file(self, tmp_path: Path) -> None:
        """ENVIRONMENT in the .env file selects the environment and its rules."""
        path = _env_file(tmp_path, {"ENVIRONMENT": "prod"})
        with pytest.raises(ConfigurationError, match="SECRET_KEY: is not set"):
            load_settings(env_file=path)


class TestSecretFiles:
    @pytest.mark.parametrize(
        ("variable", "read"),
        [
            ("SECRET_KEY", _given_secret_key),
            ("DB_PASSWORD", lambda s: s.database.password.get_secret_value()),
        ],
    )
    def test_file_is_read(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        variable: str,
        read: Callable[[EnvironmentSettings], str | None],
    ) -> None:
        """<VAR>_FILE names a file whose content, final newline removed, is the value."""
        path = _secret_file(tmp_path, "secret", "from a file with spaces \n")
        monkeypatch.setenv(variable + FILE_SUFFIX, str(path))
        assert read(load_settings()) == "from a file with spaces "

    @pytest.mark.parametrize("variable", SECRET_FILE_VARIABLES)
    def test_each_file_fills_what_its_variable_fills(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
    ) -> None:
        """Every secret variable's <VAR>_FILE gives the settings that <VAR> itself gives."""
        value = "postgresql://u:p%40w@file.example.com:5433/d" if "URL" in variable else "S" * 40
        path = _secret_file(tmp_path, "secret", value + "\n")
        if variable != "SECRET_KEY":
            monkeypatch.setenv("SECRET_KEY", "K" * 40)  # not generated anew for each load
        loads = []
        for name, given in ((variable, value), (variable + FILE_SUFFIX, str(path))):
            with monkeypatch.context() as patched, warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # DATABASE_URL's
                patched.setenv(name, given)
                loads.append(_revealed(load_settings()))
        by_variable, by_file = loads
        # DB_PASSWORD_FILE and DB_READ_PASSWORD_FILE are settings of their own as well:
        # the files read again once rotated.
        for secret, field in (
            ("DB_PASSWORD", "password_file"),
            ("DB_READ_PASSWORD", "read_password_file"),
        ):
            assert by_file["database"].pop(field) == (str(path) if variable == secret else None)
            by_variable["database"].pop(field)
        assert by_file == by_variable
        assert by_file != _revealed(load_settings())

    def test_database_url_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """DATABASE_URL_FILE names a file holding the legacy URL."""
        path = _secret_file(tmp_path, "url", "postgresql://u:pw@file.example.com/d\r\n")
        monkeypatch.setenv("DATABASE_URL_FILE", str(path))
        with pytest.warns(DeprecationWarning, match="^DATABASE_URL is deprecated"):
            assert load_settings().database.host == "file.example.com"

    def test_file_variable_in_the_env_file(self, tmp_path: Path) -> None:
        """A <VAR>_FILE line in the .env file is honoured too."""
        secret = _secret_file(tmp_path, "key", "k" * 10 + "from-dotenv-named-file")
        path = _env_file(tmp_path, {"SECRET_KEY_FILE": str(secret)})
        settings = load_settings(env_file=path)
        assert settings.secret_key is not None
        assert settings.secret_key.get_secret_value() == "k" * 10 + "from-dotenv-named-file"

    def test_empty_file_variable_is_ignored(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An empty <VAR>_FILE is the same as none."""
        monkeypatch.setenv("DB_PASSWORD_FILE", "")
        assert load_settings().database.password.get_secret_value() == ""

    @pytest.mark.parametrize(
        ("variable", "read"),
        [
            ("SECRET_KEY", _given_secret_key),
            ("DB_PASSWORD", lambda s: s.database.password.get_secret_value()),
        ],
    )
    def test_empty_variable_does_not_hide_its_file(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        variable: str,
        read: Callable[[EnvironmentSettings], str | None],
    ) -> None:
        """An empty <VAR> (a compose file's ${VAR} left unset) counts as unset: <VAR>_FILE wins."""
        path = _secret_file(tmp_path, "secret", "from-the-file-0123456789abcdef-0123")
        monkeypatch.setenv(variable, "")
        monkeypatch.setenv(variable + FILE_SUFFIX, str(path))
        assert read(load_settings()) == "from-the-file-0123456789abcdef-0123"

    def test_undecodable_file_is_not_chained(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The UnicodeDecodeError, whose repr holds the file's bytes, is not chained."""
        path = tmp_path / "secret"
        path.write_bytes("Hunter2-p\xe4ssw\xf6rd".encode("latin-1"))
        monkeypatch.setenv("DB_PASSWORD_FILE", str(path))
        with pytest.raises(ConfigurationError) as info:
            load_settings()
        assert info.value.__context__ is None
        assert info.value.__cause__ is None

    @pytest.mark.parametrize("variable", SECRET_FILE_VARIABLES)
    def test_missing_file_is_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
    ) -> None:
        """A <VAR>_FILE naming no file is a finding about that _FILE variable."""
        path = tmp_path / "nowhere"
        monkeypatch.setenv(variable + FILE_SUFFIX, str(path))
        with pytest.raises(ConfigurationError) as info:
            load_settings()
        assert str(info.value) == (
            f"{variable}_FILE: cannot read the secret file {str(path)!r} (No such file or "
            "directory) - point it at a readable UTF-8 file, or unset it and set the variable "
            "itself"
        )

    @pytest.mark.parametrize(
        ("content", "reason"),
        [(None, "Is a directory"), (b"\xff\xfe\x00not utf-8", "UnicodeDecodeError")],
    )
    def test_unreadable_file_is_refused(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        content: bytes | None,
        reason: str,
    ) -> None:
        """A directory or a non-UTF-8 file is refused with the reason, naming the variable."""
        path = tmp_path / "secret"
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        monkeypatch.setenv("SECRET_KEY_FILE", str(path))
        with pytest.raises(ConfigurationError) as info:
            load_settings()
        assert info.value.variables == ("SECRET_KEY_FILE",)
        assert f"({reason})" in str(info.value)

    def test_unreadable_file_joins_other_findings(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An unreadable secret file is reported together with the typo hints."""
        monkeypatch.setenv("DB_PASSWORD_FILE", str(tmp_path / "nowhere"))
        monkeypatch.setenv("DB_HSOT", "db")
        with pytest.raises(ConfigurationError) as info:
            load_settings()
        assert set(info.value.variables) == {"DB_PASSWORD_FILE", "DB_HSOT"}


@dataclass(frozen=True)
class _Chain:
    """How one variable is given at each level of precedence, and how to read it back."""

    variable: str
    argument: Callable[[str], dict[str, Any]]
    read: Callable[[EnvironmentSettings], object]
    value: Callable[[str], str]
    default: object
    has_file: bool = True


_CHAINS: Final = (
    _Chain(
        "SECRET_KEY",
        lambda v: {"secret_key": v},
        _given_secret_key,
        lambda level: f"{level}-secret-key-0123456789abcdef",
        None,
    ),
    _Chain(
        "DB_PASSWORD",
        lambda v: {"database": {"password": v}},
        lambda s: s.database.password.get_secret_value(),
        lambda level: f"{level}-password",
        "",
    ),
    _Chain(
        "DATABASE_URL",
        lambda v: {"database_url": v},
        lambda s: s.database.host,
        lambda level: f"postgresql://u:p@{level}.example.com/d",
        "localhost",
    ),
    _Chain(
        "LOG_LEVEL",
        lambda v: {"log_level": v},
        lambda s: s.log_level,
        lambda level: {"argument": "debug", "environment": "error", "dotenv": "critical"}[level],
        "INFO",
        has_file=False,
    ),
    _Chain(
        "DB_HOST",
        lambda v: {"database": {"host": v}},
        lambda s: s.database.host,
        lambda level: f"{level}.example.com",
        "localhost",
        has_file=False,
    ),
)
_LEVELS: Final = ("argument", "environment", "file", "dotenv", "default")


def _expected(chain: _Chain, level: str) -> object:
    if level == "default":
        return chain.default
    if chain.variable == "DATABASE_URL":
        return f"{level}.example.com"
    if chain.variable == "LOG_LEVEL":
        return chain.value(level).upper()
    return chain.value(level)


class TestPrecedence:
    @pytest.mark.parametrize(
        ("chain", "top"),
        [
            pytest.param(chain, top, id=f"{chain.variable}-{top}")
            for chain in _CHAINS
            for top in _LEVELS
            if chain.has_file or top != "file"
        ],
    )
    def test_highest_given_level_wins(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chain: _Chain, top: str
    ) -> None:
        """Arguments > environment > <VAR>_FILE > .env file > default, each level over the next."""
        levels = [lvl for lvl in _LEVELS[_LEVELS.index(top) :] if chain.has_file or lvl != "file"]
        arguments: dict[str, Any] = {}
        if "argument" in levels:
            arguments = chain.argument(chain.value("argument"))
        if "environment" in levels:
            monkeypatch.setenv(chain.variable, chain.value("environment"))
        if "file" in levels:
            secret = _secret_file(tmp_path, "secret", chain.value("file"))
            monkeypatch.setenv(chain.variable + FILE_SUFFIX, str(secret))
        if "dotenv" in levels:
            arguments["env_file"] = _env_file(tmp_path, {chain.variable: chain.value("dotenv")})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            settings = load_settings(**arguments)
        assert chain.read(settings) == _expected(chain, levels[0])

    def test_db_variables_merge_across_sources(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each DB_* part comes from the highest source that gives it."""
        secret = _secret_file(tmp_path, "pw", "file-password")
        monkeypatch.setenv("DB_HOST", "env.example.com")
        monkeypatch.setenv("DB_PASSWORD_FILE", str(secret))
        path = _env_file(
            tmp_path,
            {"DB_HOST": "dotenv.example.com", "DB_PORT": "6001", "DB_PASSWORD": "dotenv-pw"},
        )
        database = load_settings(env_file=path, database={"database": "argdb"}).database
        assert (database.host, database.port, database.database) == (
            "env.example.com",
            6001,
            "argdb",
        )
        assert database.password.get_secret_value() == "file-password"

    def test_database_url_parts_lose_to_db_variables_of_any_source(self, tmp_path: Path) -> None:
        """A DB_* line in the .env file wins over the same part of DATABASE_URL."""
        path = _env_file(
            tmp_path,
            {"DATABASE_URL": "postgresql://u:p@url.example.com:7000/d", "DB_PORT": "7001"},
        )
        with pytest.warns(DeprecationWarning, match="^DATABASE_URL is deprecated"):
            database = load_settings(env_file=path).database
        assert (database.host, database.port) == ("url.example.com", 7001)
