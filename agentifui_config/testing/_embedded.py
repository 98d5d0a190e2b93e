"""A throwaway PostgreSQL server from the ``pgserver`` package, in its own temporary directory.

pgserver ships PostgreSQL in a wheel. It initialises a data directory (as the
``pgserver`` system user when run as root, since PostgreSQL refuses root) and
starts the server listening on a unix socket only: it takes no server options.
So the server is restarted at once with pgserver's ``pg_ctl`` to listen on a
free TCP port of 127.0.0.1 as well, and is stopped and started the same way.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal, Self

__all__ = ["EmbeddedPostgres", "EmbeddedStartError", "StopMode"]

StopMode = Literal["fast", "immediate"]
"""How to stop a server.

``"fast"`` disconnects clients and shuts down cleanly; ``"immediate"`` aborts
like a crash, so the next start runs crash recovery.
"""

_PG_CTL_TIMEOUT: Final = 60  # seconds pg_ctl waits for the server to start or stop
_PORT_ATTEMPTS: Final = 3  # a free port can be taken between choosing it and binding it
# Durability a throwaway server does not need: a fast or immediate stop still
# keeps every committed row; only an operating-system crash would lose some.
# synchronous_commit stays on: off, an immediate stop loses the last commits,
# which would break the crash-recovery tests.
_TUNING: Final = ("-c fsync=off", "-c full_page_writes=off")


class EmbeddedStartError(RuntimeError):
    """pgserver could not start a server; the message ends with the server log's last lines."""


class EmbeddedPostgres:
    """A running throwaway server: its directory, socket, port and pgserver handle.

    Use :meth:`start_new`; :meth:`close` stops the server and removes the directory.

    Attributes:
        root: The temporary directory holding everything (``pgdata`` inside).
        pgdata: The data directory; its ``log`` file is the server log.
        socket_dir: The directory of the unix socket.
        port: The TCP port on 127.0.0.1.
        running: Whether the server was last started rather than stopped.
    """

    def __init__(self, root: Path, handle: Any, pg_ctl: Callable[..., str]) -> None:
        self.root = root
        self._handle = handle
        self._pg_ctl = pg_ctl
        self.pgdata = Path(handle.pgdata)
        self.socket_dir = Path(handle.get_postmaster_info().socket_dir)
        self.port = 0
        self.running = True

    @classmethod
    def start_new(cls) -> Self:
        """Initialise and start a server in a new temporary directory.

        Raises:
            ImportError: pgserver is not installed.
            EmbeddedStartError: pgserver or ``pg_ctl`` failed; the directory is removed.
        """
        pgserver = _import_pgserver()
        root = Path(tempfile.mkdtemp(prefix="agentifui-pg-"))
        try:
            handle = pgserver.get_server(root / "pgdata", cleanup_mode=None)
            embedded = cls(root, handle, pgserver.pg_ctl)
        except (subprocess.SubprocessError, OSError, RuntimeError, AssertionError) as exc:
            # pgserver asserts on the server's state and passes pg_ctl failures on as they are.
            message = _describe(exc, root)
            shutil.rmtree(root, ignore_errors=True)
            raise EmbeddedStartError(message) from exc
        try:
            embedded._listen_on_tcp()
        except (subprocess.SubprocessError, OSError) as exc:
            message = _describe(exc, root)
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                embedded.close()
            raise EmbeddedStartError(message) from exc
        return embedded

    def start(self) -> None:
        """Start the server on its port, socket and data directory, waiting until it is ready.

        Raises:
            subprocess.CalledProcessError: ``pg_ctl`` failed; see the server log.
        """
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            f"-c unix_socket_directories={shlex.quote(str(self.socket_dir))}",
            *_TUNING,
        ]
        log = str(self.pgdata / "log")
        self._ctl("-w", "-t", str(_PG_CTL_TIMEOUT), "-l", log, "-o", " ".join(options), "start")
        self.running = True

    def stop(self, mode: StopMode = "fast") -> None:
        """Stop the server, waiting until it is down.

        Raises:
            subprocess.CalledProcessError: ``pg_ctl`` failed, for example the
                server was not running.
        """
        self._ctl("-w", "-t", str(_PG_CTL_TIMEOUT), "-m", mode, "stop")
        self.running = False

    def close(self) -> None:
        """Stop the server if it runs, forget pgserver's handle and remove the directory."""
        try:
            if self.running:
                self._stop_at_exit()
        finally:
            self._handle.cleanup()  # cleanup_mode=None: pgserver only drops its record
            shutil.rmtree(self.root, ignore_errors=True)

    def _listen_on_tcp(self) -> None:
        self.stop("fast")
        for attempt in range(_PORT_ATTEMPTS):
            self.port = _free_port()
            try:
                self.start()
            except subprocess.CalledProcessError:
                if attempt == _PORT_ATTEMPTS - 1:
                    raise
            else:
                return

    def _stop_at_exit(self) -> None:
        try:
            self.stop("fast")
        except (subprocess.SubprocessError, OSError):
            self.stop("immediate")

    def _ctl(self, *args: str) -> None:
        user = self._handle.system_user  # PostgreSQL's tools refuse to run as root
        self._pg_ctl(list(args), pgdata=self.pgdata, user=user, timeout=_PG_CTL_TIMEOUT + 10)


def _import_pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns at pgserver's import when XDG_RUNTIME_DIR is unset (CI,
        # containers), then falls back to a directory under /tmp, which is fine here.
        warnings.filterwarnings(
            "ignore", message="XDG_RUNTIME_DIR is not set", category=UserWarning
        )
        import pgserver  # noqa: PLC0415 - an optional extra, imported only when used
    return pgserver


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _describe(exc: BaseException, root: Path, lines: int = 5) -> str:
    """The error and the last lines of the server log, read before the directory goes."""
    text = f"{type(exc).__name__}: {exc}"
    try:
        tail = (root / "pgdata" / "log").read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return text
    return f"{text}; server log ends: {' | '.join(tail)}" if tail else text
