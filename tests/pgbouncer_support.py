"""A real PgBouncer in transaction mode for the tests, started on a free loopback port.

The tests write its configuration to a temporary directory, start it in the
foreground and stop it by its pid. Without the binary (Debian's package
``pgbouncer``, which ``.ci/run`` installs) the tests that need it skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:
    from agentifui_config import DatabaseConfig

__all__ = [
    "Pooler",
    "password_checking_pgbouncer",
    "pgbouncer_binary",
    "running_pgbouncer",
    "server_password_pgbouncer",
]

_START_BUDGET: Final = 10.0
# Debian installs it outside a normal user's PATH.
_SEARCH_PATH: Final = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def pgbouncer_binary() -> str:
    """The path of the ``pgbouncer`` binary; skips the test when it is not installed."""
    found = shutil.which("pgbouncer", path=_SEARCH_PATH)
    if found is None:
        pytest.skip("pgbouncer is not installed (apt-get install -y pgbouncer, as .ci/run does)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quoted(value: str) -> str:
    """A value for PgBouncer's connection string, quoted as libpq quotes it."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class Pooler:
    """A running PgBouncer: the configuration that reaches the server through it, and its users."""

    config: DatabaseConfig
    pid: int
    auth_file: Path

    def set_users(self, users: Mapping[str, str]) -> None:
        """Make *users* (name: password) the only logins PgBouncer accepts, from now on."""
        lines = (f"{_double_quoted(name)} {_double_quoted(pw)}\n" for name, pw in users.items())
        self.auth_file.write_text("".join(lines), encoding="utf-8")
        os.kill(self.pid, signal.SIGHUP)  # PgBouncer reloads its files
        time.sleep(0.3)


def _double_quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _auth(server: DatabaseConfig, auth_file: Path | None, checks: str) -> tuple[str, str]:
    """The ``[databases]`` target's login and the ``[pgbouncer]`` lines that check clients."""
    login = f" user={_quoted(server.username)}"
    password = server.password.get_secret_value()
    if password:
        login += f" password={_quoted(password)}"
    if checks == "server":
        # Clients keep their own user; PgBouncer checks their password against the
        # server's own (SCRAM) secret, read with auth_query as the admin.
        admin = _double_quoted(server.username)
        lines = f"auth_type = scram-sha-256\nauth_user = {server.username}\n"
        if auth_file is not None:
            auth_file.write_text(f"{admin} {_double_quoted(password)}\n", encoding="utf-8")
            lines += f"auth_file = {auth_file}\n"
        return "", lines
    # Every client logs in as the server's user given above, whatever name it sends;
    # with an auth file, PgBouncer first checks the client's password against it.
    if checks == "file":
        return login, f"auth_type = plain\nauth_file = {auth_file}\n"
    return login, "auth_type = any\n"


def _ini(server: DatabaseConfig, port: int, auth_file: Path | None, checks: str) -> str:
    login, auth = _auth(server, auth_file, checks)
    target = f"host={_quoted(server.host)} port={server.port}{login}"
    return (
        "[databases]\n"
        f"* = {target}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        f"{auth}"
        "pool_mode = transaction\n"
        "max_client_conn = 200\n"
        "default_pool_size = 20\n"
        "ignore_startup_parameters = extra_float_digits,statement_timeout\n"
    )


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + _START_BUDGET
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not start: {log.read_text(errors='replace')[-2000:]}")


@contextlib.contextmanager
def running_pgbouncer(server: DatabaseConfig) -> Iterator[DatabaseConfig]:
    """A PgBouncer in transaction mode in front of *server*; yields *server* reached through it.

    The configuration yielded has ``pgbouncer=True`` and PgBouncer's host and
    port, and *server*'s user, password and database.
    """
    with _pgbouncer(server, checks="none") as pooler:
        yield pooler.config


@contextlib.contextmanager
def password_checking_pgbouncer(server: DatabaseConfig) -> Iterator[Pooler]:
    """A PgBouncer in front of *server* that accepts the logins of :meth:`Pooler.set_users` only."""
    with _pgbouncer(server, checks="file") as pooler:
        yield pooler


@contextlib.contextmanager
def server_password_pgbouncer(server: DatabaseConfig) -> Iterator[Pooler]:
    """A PgBouncer in front of *server* that checks each login against the role's password.

    For a server that trusts loopback logins: the password a role has there
    (``ALTER ROLE ... PASSWORD``) is then checked, by PgBouncer, on every new connection.
    """
    with _pgbouncer(server, checks="server") as pooler:
        yield pooler


@contextlib.contextmanager
def _pgbouncer(server: DatabaseConfig, *, checks: str) -> Iterator[Pooler]:
    binary = pgbouncer_binary()
    directory = Path(tempfile.mkdtemp(prefix="agentifui-pgbouncer-"))
    port = _free_port()
    ini, log = directory / "pgbouncer.ini", directory / "pgbouncer.log"
    auth_file = directory / "users.txt"
    auth_file.write_text("", encoding="utf-8")
    ini.write_text(_ini(server, port, auth_file, checks), encoding="utf-8")
    command = [binary, str(ini)]
    if os.geteuid() == 0:
        # PgBouncer refuses to run as root; it drops to a user that can read its files.
        for path in (directory, ini, auth_file):
            shutil.chown(path, "nobody")
        command.insert(1, "--user=nobody")
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        _wait_until_listening(process, port, log)
        config = server.model_copy(update={"host": "127.0.0.1", "port": port, "pgbouncer": True})
        yield Pooler(config, process.pid, auth_file)
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=_START_BUDGET)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(directory, ignore_errors=True)
