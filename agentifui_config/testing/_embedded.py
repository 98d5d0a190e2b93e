"""A throwaway PostgreSQL server in its own temporary directory, by one of two routes.

pgserver ships PostgreSQL in a wheel (Python 3.11 and 3.12: it has none for
3.13). It initialises a data directory (as the ``pgserver`` system user when run
as root, since PostgreSQL refuses root) and starts the server listening on a
unix socket only: it takes no server options. So the server is restarted at
once with pgserver's ``pg_ctl`` to listen on a free TCP port of 127.0.0.1 as
well, and is stopped and started the same way.

Without pgserver, the machine's own PostgreSQL server binaries do the same on
any Python: ``initdb`` and ``pg_ctl`` from the directory ``pg_config --bindir``
names, or found on ``PATH``, or the newest ``/usr/lib/postgresql/*/bin``
(Debian and Ubuntu keep them there, off ``PATH``). Run as root, they run as the
``postgres`` system user, or ``nobody`` when there is none.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, Self

if TYPE_CHECKING:
    import pwd

__all__ = ["EmbeddedPostgres", "EmbeddedStartError", "NoEmbeddedServerError", "StopMode"]

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
# Where Debian and Ubuntu install each major version's server binaries, off PATH.
_VERSIONED_BINDIRS: Final = "/usr/lib/postgresql/*/bin"
# Who runs the server binaries when the tests run as root, which PostgreSQL refuses.
_UNPRIVILEGED_USERS: Final = ("postgres", "nobody")

_Ctl = Callable[[Sequence[str]], None]


class EmbeddedStartError(RuntimeError):
    """The server could not be started; the message ends with the server log's last lines."""


class NoEmbeddedServerError(ImportError):
    """Neither pgserver nor the machine's PostgreSQL server binaries can be had."""


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

    def __init__(
        self,
        root: Path,
        pgdata: Path,
        socket_dir: Path,
        ctl: _Ctl,
        forget: Callable[[], object] = lambda: None,
    ) -> None:
        self.root = root
        self.pgdata = pgdata
        self.socket_dir = socket_dir
        self.port = 0
        self.running = True
        self._ctl_run = ctl
        self._forget = forget

    @classmethod
    def start_new(cls) -> Self:
        """Initialise and start a server in a new temporary directory.

        pgserver is used when it can be imported, the machine's server binaries
        otherwise.

        Raises:
            NoEmbeddedServerError: Neither pgserver nor the binaries were found.
            EmbeddedStartError: The server failed to start; the directory is removed.
        """
        try:
            pgserver = _import_pgserver()
        except ImportError as missing:
            bindir = find_bindir()
            if bindir is None:
                raise NoEmbeddedServerError(
                    f"pgserver cannot be imported ({missing}), and no PostgreSQL server "
                    f"binaries (initdb, pg_ctl) were found through pg_config, PATH or "
                    f"{_VERSIONED_BINDIRS}"
                ) from None
            return cls._start_from_binaries(bindir)
        return cls._start_from_pgserver(pgserver)

    @classmethod
    def _start_from_pgserver(cls, pgserver: Any) -> Self:
        root = Path(tempfile.mkdtemp(prefix="agentifui-pg-"))
        try:
            handle = pgserver.get_server(root / "pgdata", cleanup_mode=None)
            pgdata = Path(handle.pgdata)

            def ctl(args: Sequence[str]) -> None:
                # PostgreSQL's tools refuse to run as root: pgserver runs them as its own user.
                pgserver.pg_ctl(
                    list(args), pgdata=pgdata, user=handle.system_user, timeout=_PG_CTL_TIMEOUT + 10
                )

            socket_dir = Path(handle.get_postmaster_info().socket_dir)
            embedded = cls(root, pgdata, socket_dir, ctl, handle.cleanup)
        except (subprocess.SubprocessError, OSError, RuntimeError, AssertionError) as exc:
            # pgserver asserts on the server's state and passes pg_ctl failures on as they are.
            message = _describe(exc, root)
            shutil.rmtree(root, ignore_errors=True)
            raise EmbeddedStartError(message) from exc
        try:
            embedded.stop("fast")
            embedded._start_on_free_port()
        except (subprocess.SubprocessError, OSError) as exc:
            embedded._abandon(exc)
        return embedded

    @classmethod
    def _start_from_binaries(cls, bindir: Path) -> Self:
        root = Path(tempfile.mkdtemp(prefix="agentifui-pg-"))
        pgdata, socket_dir = root / "pgdata", root / "socket"
        try:
            run = _Runner(bindir, root)
            socket_dir.mkdir()
            run.own(root, socket_dir)
            # --no-sync: a throwaway cluster need not wait for the disk.
            run("initdb", "--no-sync", "-A", "trust", "-E", "UTF8", "-U", "postgres", "-D", pgdata)
        except (subprocess.SubprocessError, OSError) as exc:
            message = _describe(exc, root)
            shutil.rmtree(root, ignore_errors=True)
            raise EmbeddedStartError(f"{bindir}: {message}") from exc
        except EmbeddedStartError:
            shutil.rmtree(root, ignore_errors=True)
            raise
        embedded = cls(root, pgdata, socket_dir, lambda args: run("pg_ctl", "-D", pgdata, *args))
        embedded.running = False
        try:
            embedded._start_on_free_port()
        except (subprocess.SubprocessError, OSError) as exc:
            embedded._abandon(exc)
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
            self._forget()  # pgserver's cleanup_mode=None: it only drops its record
            shutil.rmtree(self.root, ignore_errors=True)

    def _abandon(self, exc: BaseException) -> NoReturn:
        """Remove a server that failed to start, raising the failure with its log's last lines."""
        message = _describe(exc, self.root)
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.close()
        raise EmbeddedStartError(message) from exc

    def _start_on_free_port(self) -> None:
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
        self._ctl_run(args)


class _Runner:
    """Runs the server binaries of one directory, as an unprivileged user when we are root."""

    def __init__(self, bindir: Path, cwd: Path) -> None:
        self._bindir = bindir
        self._cwd = cwd  # the user that runs them may not be allowed into the current directory
        self._user = _unprivileged_user() if getattr(os, "geteuid", lambda: 1)() == 0 else None

    def own(self, *paths: Path) -> None:
        """Hand *paths* to the user the binaries run as, so that they can write there."""
        if self._user is not None:
            for path in paths:
                os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def __call__(self, program: str, *args: str | Path) -> None:
        command = [str(self._bindir / program), *map(str, args)]
        as_user: dict[str, Any] = {}
        if self._user is not None:
            as_user = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        subprocess.run(  # noqa: S603 - the server binaries, with arguments built here
            command,
            check=True,
            capture_output=True,
            text=True,
            cwd=self._cwd,
            timeout=_PG_CTL_TIMEOUT + 10,
            **as_user,
        )


def find_bindir() -> Path | None:
    """The directory of the machine's PostgreSQL server binaries, or ``None``.

    ``pg_config --bindir`` first, then ``initdb`` on ``PATH``, then the newest
    ``/usr/lib/postgresql/*/bin``; a directory counts only when it holds both
    ``initdb`` and ``pg_ctl``.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            found = subprocess.run(  # noqa: S603 - pg_config found on PATH, no input of ours
                [pg_config, "--bindir"], check=True, capture_output=True, text=True, timeout=10
            )
            candidates.append(Path(found.stdout.strip()))
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(Path(initdb).resolve().parent)
    versioned = glob.glob(_VERSIONED_BINDIRS)
    candidates.extend(sorted(map(Path, versioned), key=_major_version, reverse=True))
    for candidate in candidates:
        if all(os.access(candidate / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return candidate
    return None


def _major_version(bindir: Path) -> int:
    """The major version in ``/usr/lib/postgresql/<major>/bin``, 0 when it is not a number."""
    return int(bindir.parent.name) if bindir.parent.name.isdigit() else 0


def _unprivileged_user() -> pwd.struct_passwd:
    import pwd  # noqa: PLC0415 - Unix only, and needed only there when running as root

    for name in _UNPRIVILEGED_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise EmbeddedStartError(
        f"running as root, and none of the users {', '.join(_UNPRIVILEGED_USERS)} exists "
        "to run PostgreSQL, which refuses root"
    )


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
    output = getattr(exc, "stderr", None)
    if isinstance(output, str) and output.strip():
        text += f" ({' | '.join(output.strip().splitlines()[-lines:])})"
    try:
        tail = (root / "pgdata" / "log").read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return text
    return f"{text}; server log ends: {' | '.join(tail)}" if tail else text
