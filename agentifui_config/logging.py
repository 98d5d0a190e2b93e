"""Structured logging that cannot leak secrets: one format for structlog and ``logging`` alike.

:func:`configure_logging` installs one handler on the root logger whose
:class:`structlog.stdlib.ProcessorFormatter` renders every line, whether it
came from structlog or from a standard-library logger (SQLAlchemy, Alembic,
uvicorn, asyncpg, this library): JSON lines in staging and production, a
readable console in development. Every line passes through
:class:`~agentifui_config.redaction.RedactSecrets` after its message,
arguments and traceback have been rendered to text, so a secret cannot slip
through inside a message string.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TextIO

import structlog

from agentifui_config.redaction import RedactSecrets, without_background
from agentifui_config.settings import get_settings

if TYPE_CHECKING:
    from pydantic import SecretStr
    from structlog.typing import EventDict, Processor, WrappedLogger

    from agentifui_config.settings import EnvironmentSettings

__all__ = ["ROUTED_LOGGERS", "configure_logging", "reset_logging"]

ROUTED_LOGGERS: Final = ("agentifui_config", "alembic", "asyncpg", "sqlalchemy", "uvicorn")
"""Logger hierarchies whose console handlers are replaced by the root handler."""

# SQLAlchemy adds its own stdout handler to these when echo is on and they have none.
_ECHO_LOGGERS: Final = (
    "sqlalchemy.engine.Engine",
    *(
        f"sqlalchemy.pool.impl.{pool}"
        for pool in ("QueuePool", "AsyncAdaptedQueuePool", "NullPool", "StaticPool")
    ),
)
# LogRecord attributes a previous formatter may have set, and uvicorn's coloured duplicate.
_RECORD_NOISE: Final = ("message", "asctime", "color_message")
_LEADING_KEYS: Final = ("timestamp", "level", "logger", "event_name", "event")


class _Handler(logging.StreamHandler[TextIO]):
    """The root handler :func:`configure_logging` installs, holding what it replaced."""

    def __init__(self, stream: TextIO, replaced: _Replaced) -> None:
        """Write to *stream*; remember *replaced* for :func:`reset_logging`."""
        super().__init__(stream)
        self.replaced = replaced

    def handleError(self, record: logging.LogRecord) -> None:
        """Report a record that failed to format, without its message or arguments.

        ``logging``'s own report prints both, unredacted.
        """
        if logging.raiseExceptions:
            kind = sys.exc_info()[0]
            reason = kind.__name__ if kind is not None else "an error"
            # The report itself must never raise.
            with contextlib.suppress(Exception):
                sys.stderr.write(f"--- agentifui_config: {record.name!r} record failed: {reason}\n")


@dataclass
class _Replaced:
    """What :func:`configure_logging` changed, so :func:`reset_logging` can put it back."""

    root_level: int
    removed: list[tuple[logging.Logger, logging.Handler]] = field(default_factory=list)
    propagate: list[tuple[logging.Logger, bool]] = field(default_factory=list)
    added: list[tuple[logging.Logger, logging.Handler]] = field(default_factory=list)

    def restore(self) -> None:
        """Put back the handlers, propagation flags and root level as they were."""
        for logger, handler in self.added:
            logger.removeHandler(handler)
        for logger, propagate in self.propagate:
            logger.propagate = propagate
        for logger, handler in self.removed:
            logger.addHandler(handler)
        logging.getLogger().setLevel(self.root_level)


def configure_logging(
    settings: EnvironmentSettings | None = None,
    *,
    json: bool | None = None,
    stream: TextIO | None = None,
    colors: bool | None = None,
    extra_secrets: Iterable[str | SecretStr | None] = (),
    extra_secret_keys: Iterable[str] = (),
) -> None:
    """Route structlog and standard-library logging through one redacting formatter.

    Installs one handler on the root logger, replacing the one a previous call
    installed, and the console handlers of :data:`ROUTED_LOGGERS` and the root
    logger (uvicorn's, SQLAlchemy's echo handler, ``logging.basicConfig``'s),
    so every line has one format. Other handlers are left alone.

    Args:
        settings: The configuration: ``LOG_LEVEL`` sets the level, ``ENVIRONMENT``
            the format, its secrets are masked. Defaults to :func:`get_settings`.
        json: JSON lines (``True``) or the console format (``False``); by
            default JSON outside development.
        stream: Where lines are written; standard error by default.
        colors: Colour the console format; by default only when *stream* is a terminal.
        extra_secrets: Further values to mask wherever they appear.
        extra_secret_keys: Further key name parts whose values are masked.

    Raises:
        ConfigurationError: *settings* was not given and the environment is invalid.
    """
    settings = get_settings() if settings is None else settings
    reset_logging()
    as_json = not settings.environment.is_development if json is None else json
    output = sys.stderr if stream is None else stream
    level = logging.getLevelNamesMapping()[settings.log_level]
    redactor = RedactSecrets.from_settings(
        settings, extra_secrets=extra_secrets, extra_secret_keys=extra_secret_keys
    )
    handler = _Handler(output, _take_over(level))
    handler.setLevel(level)
    colors = _is_terminal(output) if colors is None else colors
    handler.setFormatter(_formatter(redactor, as_json, colors))
    logging.getLogger().addHandler(handler)
    _configure_structlog()


def reset_logging() -> None:
    """Undo :func:`configure_logging`: drop its handler, restore what it replaced, reset structlog.

    Does nothing when logging is not configured by this module.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _Handler)]
    for handler in ours:
        root.removeHandler(handler)
        handler.replaced.restore()
        handler.close()
    if ours:
        structlog.reset_defaults()


def _configure_structlog() -> None:
    """Send structlog events to standard-library loggers, to meet the root handler's formatter."""
    structlog.configure(
        processors=[
            # Below the level, skip the processors altogether.
            structlog.stdlib.filter_by_level,
            *_shared(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Nothing above depends on the settings: time stamps, redaction and
        # rendering live in the handler, so a cached logger follows a new call.
        cache_logger_on_first_use=True,
    )


def _take_over(level: int) -> _Replaced:
    """Set the root level; silence console handlers that would print a second, raw line."""
    root = logging.getLogger()
    replaced = _Replaced(root.level)
    root.setLevel(level)
    for logger in [root, *_routed()]:
        for handler in list(logger.handlers):
            # Exactly StreamHandler: a console handler. File handlers and test
            # capture handlers (subclasses) are the host's and stay.
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
                replaced.removed.append((logger, handler))
        if logger is not root and not logger.propagate:
            replaced.propagate.append((logger, logger.propagate))
            logger.propagate = True
    for name in _ECHO_LOGGERS:
        logger = logging.getLogger(name)
        if not logger.handlers:
            null = logging.NullHandler()
            logger.addHandler(null)
            replaced.added.append((logger, null))
    return replaced


def _routed() -> list[logging.Logger]:
    """The existing loggers in the :data:`ROUTED_LOGGERS` hierarchies."""
    names = [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
        and any(name == top or name.startswith(f"{top}.") for top in ROUTED_LOGGERS)
    ]
    return [logging.getLogger(name) for name in sorted(names)]


def _shared() -> list[Processor]:
    """The processors both structlog events and standard-library records go through first."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
    ]


def _formatter(
    redactor: RedactSecrets, as_json: bool, colors: bool
) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of the root handler: one processor chain for every record."""
    stamp = (
        structlog.processors.TimeStamper(fmt="iso", utc=True)
        if as_json
        else structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False)
    )
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=structlog.dev.plain_traceback
        )
    )
    return structlog.stdlib.ProcessorFormatter(
        # A foreign record arrives with its message already rendered (msg % args).
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _tidy_record, *_shared()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            stamp,
            # Tracebacks become text first, so the redactor sees and scrubs them.
            structlog.processors.format_exc_info,
            redactor,
            *([_lead] if as_json else []),
            _Scrubbed(renderer, redactor),
        ],
    )


def _tidy_record(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Drop copies of the message a record may carry; name its stack like structlog's."""
    for key in _RECORD_NOISE:
        event_dict.pop(key, None)
    stack = event_dict.pop("stack_info", None)
    if stack:
        event_dict["stack"] = stack
    return event_dict


def _lead(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Put the keys a reader filters on first: timestamp, level, logger, event_name, event."""
    leading = {key: event_dict[key] for key in _LEADING_KEYS if key in event_dict}
    return {**leading, **event_dict}


class _Scrubbed:
    """A renderer whose output is scrubbed once more, as text."""

    def __init__(self, renderer: Processor, redactor: RedactSecrets) -> None:
        """Render with *renderer*, then scrub with *redactor*."""
        self._renderer = renderer
        self._redactor = redactor

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
        rendered = self._renderer(logger, method_name, event_dict)
        text = rendered.decode() if isinstance(rendered, bytes) else str(rendered)
        return without_background(self._redactor.scrub_rendered(text))


def _is_terminal(stream: TextIO) -> bool:
    """Whether *stream* is a terminal (and so worth colouring)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
