"""Tests for ``agentifui_config.logging``: one redacting format for structlog and ``logging``."""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from typing import Any, Final

import pytest
import structlog
from sqlalchemy import create_engine
from sqlalchemy.pool import QueuePool

from agentifui_config import DatabaseConfig, EnvironmentSettings, load_settings
from agentifui_config.checkouts import CheckoutTracker
from agentifui_config.logging import ROUTED_LOGGERS, configure_logging, reset_logging

PASSWORD: Final = "Pw-9f3Kq7-zZ1x"
SECRET_KEY: Final = "SK-k7Yx2pQ9vL4mN8rT1wZ5bC3dF6gH0jS2aE4u"
URL_PASSWORD: Final = "Url-Pw-4d8Hj2"
DATABASE_URL: Final = f"postgresql+asyncpg://app:{URL_PASSWORD}@db.internal:5432/app"
# Secrets the configuration does not know: the URL and pair rules must catch them.
REDIS_PASSWORD: Final = "Redis-Pw-77aa"
REDIS_URL: Final = f"redis://:{REDIS_PASSWORD}@cache:6379/0"
TOKEN: Final = "Tok-Unconfigured-123"
SECRETS: Final = (PASSWORD, SECRET_KEY, URL_PASSWORD, REDIS_PASSWORD, TOKEN)

_CONSOLE_LINE: Final = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[(?P<level>\w+) *\] (?P<event>.+?) +\[(?P<logger>[\w.]+)\]"
)


@pytest.fixture(autouse=True)
def _isolated_logging(clean_env: pytest.MonkeyPatch) -> Iterator[None]:
    """Read settings from arguments only (clean_env), and leave logging as it was found."""
    yield
    reset_logging()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def foreign_loggers() -> Iterator[dict[str, io.StringIO]]:
    """The uvicorn loggers as uvicorn configures them: own console handlers, no propagation."""
    streams: dict[str, io.StringIO] = {}
    for name in ("uvicorn.error", "uvicorn.access"):
        streams[name] = io.StringIO()
        logger = logging.getLogger(name)
        logger.addHandler(logging.StreamHandler(streams[name]))
        logger.setLevel(logging.INFO)
        logger.propagate = False
    yield streams
    for name in streams:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def _settings(environment: str = "production", **overrides: Any) -> EnvironmentSettings:
    """A configuration every rule accepts, with distinctive secrets."""
    values: dict[str, Any] = {
        "environment": environment,
        "secret_key": SECRET_KEY,
        "database": DatabaseConfig(
            host="db.internal", username="app", password=PASSWORD, database="app"
        ),
        "cors_origins": ["https://app.example.com"],
        **overrides,
    }
    if "database_url" not in values:
        return load_settings(**values)
    with pytest.warns(DeprecationWarning, match="DATABASE_URL is deprecated"):
        return load_settings(**values)


def _configure(environment: str = "production", **options: Any) -> io.StringIO:
    """Configure logging for *environment* into a fresh buffer, and return the buffer."""
    overrides = {name: options.pop(name) for name in ("database_url",) if name in options}
    level = options.pop("log_level", "INFO")
    stream = options.pop("stream", None) or io.StringIO()
    settings = _settings(environment, log_level=level, **overrides)
    configure_logging(settings, stream=stream, **options)
    return stream


def _sqlite_connection() -> Any:
    """A DB-API connection for a pool that needs no server."""
    return sqlite3.connect(":memory:")


def _json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _connect(url: str) -> None:
    """Fail the way a driver does, with the secrets in the exception and its cause."""
    password = PASSWORD
    try:
        raise KeyError(f"no route for key {SECRET_KEY}")
    except KeyError as exc:
        raise ConnectionError(f"cannot reach {url} as app/{password}") from exc


def _leaky_session() -> None:
    """Log secrets every way a service might: keys, messages, arguments, extras, exceptions."""
    log = structlog.get_logger("app.leaky")
    std = logging.getLogger("thirdparty.client")
    log.info(f"connecting with {PASSWORD}")
    log.info("login", user="alice", password=PASSWORD, api_token=TOKEN)
    log.info(
        "nested",
        payload={"db": {"password": PASSWORD, "urls": [DATABASE_URL, REDIS_URL]}},
        keys=(SECRET_KEY,),
    )
    log.info("key is %s", SECRET_KEY)
    log.info("config", database=DatabaseConfig(host="db.internal", password=PASSWORD), raw=b"x")
    std.warning("pw=%s via %s", PASSWORD, REDIS_URL)
    std.info("with extras", extra={"api_token": TOKEN, "note": f"the key {SECRET_KEY}"})
    std.info(f"GET /callback?access_token={TOKEN}&page=2")
    try:
        _connect(DATABASE_URL)
    except ConnectionError as exc:
        log.exception("connect failed")
        std.exception("connect failed in the driver")
        log.error("failure as a value", error=exc)
        log.error("failure as exc_info", exc_info=exc)


class TestRedaction:
    @pytest.mark.parametrize(
        ("environment", "options"),
        [
            ("production", {}),
            ("staging", {}),
            ("development", {}),
            ("development", {"colors": True}),
            ("production", {"json": False}),
        ],
    )
    def test_no_secret_reaches_the_output(self, environment: str, options: dict[str, Any]) -> None:
        """A session that logs secrets every way shows none of them, and everything else."""
        stream = _configure(environment, database_url=DATABASE_URL, **options)
        _leaky_session()
        output = stream.getvalue()
        for secret in SECRETS:
            assert secret not in output
        for visible in (
            "connecting with",
            "alice",
            "app.leaky",
            "thirdparty.client",
            "cache:6379",
            "db.internal",
            "GET /callback",
            "Traceback (most recent call last)",
            "KeyError",
            "ConnectionError",
            "cannot reach",
            "_connect",
        ):
            assert visible in output

    def test_masks_in_place_of_the_secrets(self) -> None:
        """Each secret is replaced by the mask, so a reader sees that something was there."""
        stream = _configure()
        structlog.get_logger("app").info(f"pw {PASSWORD}", password="x", url=REDIS_URL)
        line = _json_lines(stream)[0]
        assert line["event"] == "pw **********"
        assert line["password"] == "**********"
        assert line["url"] == "redis://:**********@cache:6379/0"

    def test_extra_secrets_and_keys_are_masked(self) -> None:
        """Values and key names given to configure_logging are masked too."""
        stream = _configure(extra_secrets=["Vendor-Key-31"], extra_secret_keys=["signature"])
        structlog.get_logger("app").info("call Vendor-Key-31", request_signature="abc")
        line = _json_lines(stream)[0]
        assert line["event"] == "call **********"
        assert line["request_signature"] == "**********"

    def test_a_record_that_fails_to_format_is_reported_without_its_content(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The report names the logger only; logging's own would print message and arguments."""
        stream = _configure()
        logging.getLogger("app.broken").info("pw=%s", PASSWORD, extra={"data": {(1, 2): "x"}})
        err = capsys.readouterr().err
        assert "'app.broken' record failed: TypeError" in err
        assert PASSWORD not in err
        assert stream.getvalue() == ""

    def test_a_failed_record_is_silent_when_logging_says_so(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With logging.raiseExceptions off, a failed record is dropped quietly."""
        _configure()
        monkeypatch.setattr(logging, "raiseExceptions", False)
        logging.getLogger("app.broken").info("x", extra={"data": {(1, 2): "x"}})
        assert capsys.readouterr().err == ""


class TestFormat:
    @pytest.mark.parametrize("environment", ["staging", "production"])
    def test_json_lines_outside_development(self, environment: str) -> None:
        """Staging and production write one JSON object per line."""
        stream = _configure(environment)
        structlog.get_logger("app").info("started", port=8000)
        logging.getLogger("app.std").warning("slow")
        started, slow = _json_lines(stream)
        assert started == {
            "timestamp": started["timestamp"],
            "level": "info",
            "logger": "app",
            "event": "started",
            "port": 8000,
        }
        assert started["timestamp"].endswith("Z")
        assert (slow["level"], slow["logger"], slow["event"]) == ("warning", "app.std", "slow")

    @pytest.mark.parametrize("environment", ["development", "production"])
    def test_sqlalchemys_background_link_is_left_out(self, environment: str) -> None:
        """An error's text keeps its message, not SQLAlchemy's link on a line of its own."""
        stream = _configure(environment)
        reason = "DBAPIError: database does not exist\n(Background on this error at: https://sqlalche.me/e/20/dbapi)"
        structlog.get_logger("app").warning("health check failed", reason=reason)
        assert "database does not exist" in stream.getvalue()
        assert "Background on this error" not in stream.getvalue()

    def test_console_in_development(self) -> None:
        """Development writes readable console lines, not JSON."""
        stream = _configure("development")
        structlog.get_logger("app").info("started", port=8000)
        match = _CONSOLE_LINE.match(stream.getvalue())
        assert match is not None
        assert match.group("level", "event", "logger") == ("info", "started", "app")
        assert stream.getvalue().rstrip().endswith("port=8000")

    @pytest.mark.parametrize(
        ("environment", "as_json"), [("production", False), ("development", True)]
    )
    def test_json_argument_overrides_the_environment(self, environment: str, as_json: bool) -> None:
        """json= picks the format whatever the environment."""
        stream = _configure(environment, json=as_json)
        structlog.get_logger("app").info("started")
        assert stream.getvalue().startswith("{") is as_json

    def test_exceptions_render_as_text_in_json(self) -> None:
        """A traceback is one string field of the JSON line."""
        stream = _configure()
        try:
            raise ValueError("boom")
        except ValueError:
            structlog.get_logger("app").exception("failed")
        line = _json_lines(stream)[0]
        assert line["exception"].startswith("Traceback (most recent call last)")
        assert line["exception"].rstrip().endswith("ValueError: boom")

    def test_stack_info_is_shown_for_both_kinds(self) -> None:
        """stack_info=True adds a `stack` field to structlog and stdlib lines alike."""
        stream = _configure()
        structlog.get_logger("app").info("here", stack_info=True)
        logging.getLogger("app.std").info("there", stack_info=True)
        assert all("stack" in line for line in _json_lines(stream))

    def test_context_variables_reach_stdlib_lines(self) -> None:
        """Context bound with structlog.contextvars appears on every line, stdlib ones too."""
        stream = _configure()
        structlog.contextvars.bind_contextvars(request_id="req-1")
        structlog.get_logger("app").info("a")
        logging.getLogger("sqlalchemy.engine").warning("b")
        assert [line["request_id"] for line in _json_lines(stream)] == ["req-1", "req-1"]

    def test_colour_only_on_a_terminal(self) -> None:
        """Console colours appear on a terminal, or when asked; never in a file or pipe."""

        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        outputs = []
        for stream, colors in ((io.StringIO(), None), (Terminal(), None), (Terminal(), False)):
            _configure("development", stream=stream, colors=colors)
            structlog.get_logger("app").info("hello")
            outputs.append("\x1b[" in stream.getvalue())
        assert outputs == [False, True, False]

    def test_a_stream_that_cannot_tell_gets_no_colour(self) -> None:
        """A stream whose isatty() fails, or that has none, is not taken for a terminal."""

        class Failing(io.StringIO):
            def isatty(self) -> bool:
                raise ValueError("I/O operation on closed file")

        class Bare:
            def __init__(self) -> None:
                self.text = ""

            def write(self, text: str) -> None:
                self.text += text

            def flush(self) -> None:
                """Nothing is buffered."""

        failing, bare = Failing(), Bare()
        for stream in (failing, bare):
            configure_logging(_settings("development"), stream=stream)  # type: ignore[arg-type]
            structlog.get_logger("app").info("hello")
        assert "hello" in failing.getvalue()
        assert "hello" in bare.text
        assert "\x1b[" not in failing.getvalue() + bare.text

    def test_writes_to_standard_error_by_default(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without a stream, lines go to standard error and nothing to standard output."""
        configure_logging(_settings())
        structlog.get_logger("app").info("to stderr")
        out, err = capsys.readouterr()
        assert (out, json.loads(err)["event"]) == ("", "to stderr")

    def test_settings_default_to_get_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without settings, the environment's settings choose the level and the format."""
        for name, value in {
            "ENVIRONMENT": "production",
            "LOG_LEVEL": "error",
            "SECRET_KEY": SECRET_KEY,
            "DB_HOST": "db.internal",
            "DB_USERNAME": "app",
            "DB_PASSWORD": PASSWORD,
            "DB_DATABASE": "app",
            "CORS_ORIGINS": "https://app.example.com",
        }.items():
            monkeypatch.setenv(name, value)
        stream = io.StringIO()
        configure_logging(stream=stream)
        structlog.get_logger("app").warning("dropped")
        structlog.get_logger("app").error(f"kept {PASSWORD}")
        assert [line["event"] for line in _json_lines(stream)] == ["kept **********"]


class TestLevel:
    def test_level_from_log_level(self) -> None:
        """LOG_LEVEL=WARNING drops info from structlog and stdlib, keeps warnings."""
        stream = _configure(log_level="WARNING")
        structlog.get_logger("app").info("s-info")
        structlog.get_logger("app").warning("s-warning")
        logging.getLogger("app.std").info("l-info")
        logging.getLogger("app.std").error("l-error")
        assert [line["event"] for line in _json_lines(stream)] == ["s-warning", "l-error"]

    def test_debug_shows_debug_lines(self) -> None:
        """LOG_LEVEL=DEBUG shows debug lines of both kinds."""
        stream = _configure(log_level="DEBUG")
        structlog.get_logger("app").debug("s-debug")
        logging.getLogger("app.std").debug("l-debug")
        assert [line["level"] for line in _json_lines(stream)] == ["debug", "debug"]

    def test_a_library_logger_set_lower_is_still_bounded(
        self, foreign_loggers: dict[str, io.StringIO]
    ) -> None:
        """uvicorn.access logs at INFO, but LOG_LEVEL=WARNING keeps it out."""
        stream = _configure(log_level="WARNING")
        logging.getLogger("uvicorn.access").info("GET / 200")
        assert stream.getvalue() == ""

    def test_sqlalchemy_keeps_its_own_quiet_default(self) -> None:
        """LOG_LEVEL=DEBUG does not turn on SQL statement logging."""
        stream = _configure(log_level="DEBUG")
        engine = create_engine("sqlite://")
        with engine.connect() as connection:
            connection.exec_driver_sql("select 42")
        engine.dispose()
        assert "select 42" not in stream.getvalue()


class TestStandardLibrary:
    @pytest.mark.parametrize(
        "name",
        [
            "sqlalchemy.engine",
            "alembic.runtime.migration",
            "uvicorn.error",
            "asyncpg.pool",
            "agentifui_config.connection",
            "some_vendor.sdk",
        ],
    )
    def test_stdlib_lines_have_the_structlog_format(self, name: str) -> None:
        """Any library's stdlib line carries the same fields as a structlog line."""
        stream = _configure()
        structlog.get_logger("app").warning("from structlog")
        logging.getLogger(name).warning("hello from %s", name)
        ours, theirs = _json_lines(stream)
        assert set(ours) == set(theirs) == {"timestamp", "level", "logger", "event"}
        assert (theirs["logger"], theirs["event"]) == (name, f"hello from {name}")

    @pytest.mark.parametrize("name", ["uvicorn.error", "sqlalchemy.engine", "some_vendor.sdk"])
    def test_stdlib_lines_have_the_console_format(self, name: str) -> None:
        """In development a stdlib line reads like a structlog line."""
        stream = _configure("development")
        logging.getLogger(name).warning("hello")
        match = _CONSOLE_LINE.match(stream.getvalue())
        assert match is not None
        assert match.group("level", "event", "logger") == ("warning", "hello", name)

    def test_uvicorn_handlers_are_replaced_and_restored(
        self, foreign_loggers: dict[str, io.StringIO]
    ) -> None:
        """The uvicorn handlers fall silent while configured, and come back on reset."""
        stream = _configure()
        logging.getLogger("uvicorn.error").info("Application startup complete.")
        logging.getLogger("uvicorn.access").info('%s - "%s %s" %d', "1.2.3.4", "GET", "/", 200)
        events = [line["event"] for line in _json_lines(stream)]
        assert events == ["Application startup complete.", '1.2.3.4 - "GET /" 200']
        assert all(s.getvalue() == "" for s in foreign_loggers.values())
        reset_logging()
        logging.getLogger("uvicorn.error").info("after reset")
        assert foreign_loggers["uvicorn.error"].getvalue() == "after reset\n"
        assert not logging.getLogger("uvicorn.error").propagate

    def test_uvicorn_colour_copy_is_dropped(self) -> None:
        """The coloured duplicate of the message uvicorn adds does not become a field."""
        stream = _configure()
        logging.getLogger("uvicorn.error").info("up", extra={"color_message": "\x1b[1mup\x1b[0m"})
        assert "color_message" not in _json_lines(stream)[0]

    def test_sqlalchemy_echo_goes_through_the_root_handler_only(self) -> None:
        """With echo=True, SQL is logged once, in our format, not also by SQLAlchemy's handler."""
        stream = _configure()
        engine = create_engine("sqlite://", echo=True)
        with engine.connect() as connection:
            connection.exec_driver_sql("select 42")
        engine.dispose()
        lines = [line for line in _json_lines(stream) if line["event"] == "select 42"]
        assert [line["logger"] for line in lines] == ["sqlalchemy.engine.Engine"]
        handlers = logging.getLogger("sqlalchemy.engine.Engine").handlers
        assert not any(type(h) is logging.StreamHandler for h in handlers)

    def test_routed_hierarchies(self) -> None:
        """The library, Alembic, asyncpg, SQLAlchemy and uvicorn are taken over."""
        assert set(ROUTED_LOGGERS) == {
            "agentifui_config",
            "alembic",
            "asyncpg",
            "sqlalchemy",
            "uvicorn",
        }


class TestConfigureOnce:
    def test_calling_twice_installs_one_handler(self) -> None:
        """A second call replaces the first handler: each line is written once, by the latest."""
        root = logging.getLogger()
        before = len(root.handlers)
        first = _configure()
        second = _configure()
        structlog.get_logger("app").info("once")
        logging.getLogger("app.std").info("once too")
        assert len(root.handlers) == before + 1
        assert first.getvalue() == ""
        assert [line["event"] for line in _json_lines(second)] == ["once", "once too"]

    def test_a_cached_logger_follows_a_new_configuration(self) -> None:
        """A logger used before a second call writes in the format of the second call."""
        _configure("production")
        log = structlog.get_logger("app")
        log.info("cached now")
        stream = _configure("development")
        log.info("second")
        match = _CONSOLE_LINE.match(stream.getvalue())
        assert match is not None
        assert match.group("event") == "second"

    def test_reset_restores_what_was_there(self) -> None:
        """reset_logging() puts back the root level and handlers and unconfigures structlog."""
        root = logging.getLogger()
        console = logging.StreamHandler(io.StringIO())
        root.addHandler(console)
        try:
            handlers, level = list(root.handlers), root.level
            _configure(log_level="DEBUG")
            assert console not in root.handlers
            assert structlog.is_configured()
            reset_logging()
            assert (root.handlers, root.level) == (handlers, level)
            assert not structlog.is_configured()
        finally:
            root.removeHandler(console)

    def test_host_handlers_that_are_not_consoles_stay(self) -> None:
        """A file handler or a test capture handler (StreamHandler subclasses) is left alone."""

        class Capture(logging.StreamHandler[io.StringIO]):
            pass

        root = logging.getLogger()
        capture = Capture(io.StringIO())
        root.addHandler(capture)
        try:
            _configure()
            assert capture in root.handlers
        finally:
            root.removeHandler(capture)

    def test_reset_without_configure_does_nothing(self) -> None:
        """reset_logging() on an unconfigured process changes nothing."""
        root = logging.getLogger()
        handlers = list(root.handlers)
        structlog.configure(cache_logger_on_first_use=False)
        reset_logging()
        assert root.handlers == handlers
        assert structlog.is_configured()
        structlog.reset_defaults()


class TestEventNames:
    def test_configuration_warning(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A configuration warning carries event_name, rule and variable as fields."""
        monkeypatch.setenv("REDIS_PASSWORD", "x")
        stream = _configure()
        generated = load_settings(environment="development")
        warnings = [line for line in _json_lines(stream) if line.get("rule") == "unknown-variable"]
        assert [line["event_name"] for line in warnings] == ["configuration_warning"]
        assert warnings[0]["variable"] == "REDIS_PASSWORD"
        assert warnings[0]["logger"] == "agentifui_config"
        # The generated development key is a GeneratedSecretKeyWarning, not a log line.
        assert not [line for line in _json_lines(stream) if "SECRET_KEY" in line["event"]]
        assert generated.secret_key is not None
        assert generated.secret_key.get_secret_value() not in stream.getvalue()

    def test_legacy_database_url(self) -> None:
        """The DATABASE_URL deprecation carries event_name and the replacement lines, masked."""
        stream = _configure()
        with pytest.warns(DeprecationWarning, match="DATABASE_URL is deprecated"):
            load_settings(database_url="postgresql://app:Legacy-Pw-55@db.internal/app")
        (line,) = [
            line for line in _json_lines(stream) if line.get("event_name") == "legacy_database_url"
        ]
        assert "DB_HOST=db.internal" in line["replacement"]
        assert "Legacy-Pw-55" not in stream.getvalue()

    def test_suspected_connection_leak(self) -> None:
        """A connection held past the threshold is logged with event_name and held_seconds."""
        stream = _configure()
        pool = QueuePool(_sqlite_connection, pool_size=1)
        tracker = CheckoutTracker(leak_threshold=0.0)
        tracker.attach(pool)
        connection = pool.connect()
        time.sleep(0.01)
        connection.close()
        tracker.detach()
        pool.dispose()
        (line,) = [line for line in _json_lines(stream) if line.get("event_name")]
        assert line["event_name"] == "suspected_connection_leak"
        assert line["logger"] == "agentifui_config.connection"
        assert line["held_seconds"] > 0

    def test_event_name_leads_the_json_line(self) -> None:
        """event_name comes right after timestamp, level and logger, before the message."""
        stream = _configure()
        logging.getLogger("agentifui_config").warning("w", extra={"event_name": "x", "rule": "r"})
        keys = list(_json_lines(stream)[0])
        assert keys == ["timestamp", "level", "logger", "event_name", "event", "rule"]
