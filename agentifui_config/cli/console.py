"""Where ``agentifui-config`` writes: results on stdout, diagnostics on stderr, never a secret.

What the commands print is built from the library's masked forms (``mask()``,
``masked_url``, findings, which hold no secret by contract), and is printed as
it is: scrubbing it again would mangle it wherever a short secret happens to be
an ordinary word (a password ``postgres`` inside ``postgresql+asyncpg``). Only
text the library did not make, an unexpected error and its traceback, passes
through :func:`agentifui_config.secrecy.scrub` with every secret the command has
seen. SQLAlchemy's ``(Background on this error at: ...)`` link is left out of
every message (not of results, nor of a ``--debug`` traceback). Colour is
used only on a terminal, and never when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, TextIO

from agentifui_config.errors import Finding, Severity
from agentifui_config.redaction import without_background
from agentifui_config.secrecy import scrub

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["PROG", "Console", "counted"]

PROG: Final = "agentifui-config"
"""The command's name, as it prefixes error lines."""

# SGR codes per style; a style not listed is printed plain.
_STYLES: Final = {
    "ok": "32",
    "warn": "33",
    "warning": "33",
    "fail": "31",
    "error": "31",
    "skip": "2",
    "bold": "1",
}
_STATE_WIDTH: Final = 4
_STEP_WIDTH: Final = 15
_INDENT: Final = " " * (_STATE_WIDTH + _STEP_WIDTH + 2)


class Console:
    """The output of one command run.

    Args:
        stdout: Where results go; ``sys.stdout`` by default.
        stderr: Where errors, warnings and hints go; ``sys.stderr`` by default.
        colour: Force colour on or off; by default per stream, on a terminal
            unless ``NO_COLOR`` is set.
    """

    def __init__(
        self,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        *,
        colour: bool | None = None,
    ) -> None:
        self.stdout = sys.stdout if stdout is None else stdout
        self.stderr = sys.stderr if stderr is None else stderr
        self._colour_out = _wants_colour(self.stdout) if colour is None else colour
        self._colour_err = _wants_colour(self.stderr) if colour is None else colour
        self._secrets: set[str] = set()

    @property
    def colour(self) -> bool:
        """Whether results on stdout are coloured."""
        return self._colour_out

    @property
    def secrets(self) -> frozenset[str]:
        """The values masked in everything written, as :meth:`protect` collected them."""
        return frozenset(self._secrets)

    def protect(self, *values: str | SecretStr | None) -> None:
        """Mask each of *values* (plain or ``SecretStr``) wherever it is printed from now on."""
        for value in values:
            reveal = getattr(value, "get_secret_value", None)
            plain = reveal() if callable(reveal) else value
            if isinstance(plain, str) and plain:
                self._secrets.add(plain)

    def out(self, text: str = "") -> None:
        """Write a line to stdout."""
        self._write(self.stdout, text)

    def error(self, message: str) -> None:
        """Write ``agentifui-config: error: <message>`` to stderr."""
        self._say(self.stderr, f"{PROG}: {self._paint('error', 'error', err=True)}: {message}")

    def warning(self, message: str) -> None:
        """Write ``agentifui-config: warning: <message>`` to stderr."""
        label = self._paint("warning", "warning", err=True)
        self._say(self.stderr, f"{PROG}: {label}: {message}")

    def note(self, message: str) -> None:
        """Write a hint to stderr, where it does not mix with results piped on."""
        self._say(self.stderr, message)

    def warnings(self, findings: Iterable[Finding]) -> None:
        """Write each finding as a warning line on stderr."""
        for finding in findings:
            self.warning(str(finding))

    def step(self, state: str, name: str, detail: str, *notes: str) -> None:
        """Write one summary line (``ok    connect      ...``) and indented notes below it.

        Args:
            state: ``ok``, ``warn``, ``fail`` or ``skip``; coloured on a terminal.
            name: The step (``configuration``, ``connect``, ...).
            detail: What the step found, on the same line.
            *notes: Further lines, indented under the detail.
        """
        label = self._paint(state.ljust(_STATE_WIDTH), state)
        self._say(self.stdout, f"{label}  {name.ljust(_STEP_WIDTH)}{detail}")
        for note in notes:
            self._say(self.stdout, f"{_INDENT}{note}")

    def finding(self, finding: Finding) -> None:
        """Write a finding on stdout as ``error    VARIABLE: message [rule]``, its remedy below."""
        severity = finding.severity.value
        rule = f" [{finding.rule}]" if finding.rule else ""
        label = self._paint(severity.ljust(len(Severity.WARNING.value)), severity)
        self._say(self.stdout, f"{label}  {finding.variable}: {finding.message}{rule}")
        if finding.remedy:
            self._say(
                self.stdout, f"{' ' * (len(Severity.WARNING.value) + 2)}fix: {finding.remedy}"
            )

    def paint(self, text: str, style: str) -> str:
        """*text* in *style* (``ok``, ``fail``, ``bold``, ...) when stdout is coloured."""
        return self._paint(text, style)

    def unexpected(self, exc: BaseException, *, debug: bool) -> None:
        """Report an error no command expected: one line, or the traceback with *debug*.

        Both are scrubbed of every protected secret: their text comes from
        code that promised nothing about secrets.
        """
        if debug:
            trace = "".join(traceback.format_exception(exc)).rstrip("\n")
            self._write(self.stderr, scrub(trace, self._secrets))
        first = str(exc).strip().splitlines()[:1]
        reason = f"{type(exc).__name__}: {first[0]}" if first else type(exc).__name__
        hint = "" if debug else " (rerun with --debug for the traceback)"
        self.error(scrub(f"unexpected {reason}{hint}", self._secrets))

    def _paint(self, text: str, style: str, *, err: bool = False) -> str:
        code = _STYLES.get(style)
        coloured = self._colour_err if err else self._colour_out
        return f"\x1b[{code}m{text}\x1b[0m" if code and coloured else text

    def _say(self, stream: TextIO, message: str) -> None:
        """Write a message, without SQLAlchemy's link that would break it over two lines."""
        self._write(stream, without_background(message))

    def _write(self, stream: TextIO, text: str) -> None:
        stream.write(text + "\n")
        stream.flush()


def counted(findings: Iterable[Finding]) -> str:
    """``2 errors, 1 warning``: how many findings of each severity, zero counts left out."""
    listed = list(findings)
    errors = sum(f.severity is Severity.ERROR for f in listed)
    counts = ((errors, "error"), (len(listed) - errors, "warning"))
    parts = [f"{n} {noun}" + ("s" if n != 1 else "") for n, noun in counts if n]
    return ", ".join(parts) or "no findings"


def _wants_colour(stream: TextIO) -> bool:
    """Whether to colour *stream*: a terminal, and no ``NO_COLOR`` (https://no-color.org).

    ``NO_COLOR`` is read here, not through the settings: it is a convention of
    the terminal the command runs in, not configuration of a service.
    """
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
