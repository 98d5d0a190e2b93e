"""A guided tour of agentifui-config, through the configuration service of ``examples/``.

``nox -s demo`` runs it on a machine with nothing configured, and it exits 0
when every step worked:

1. starts a throwaway PostgreSQL (the ``embedded`` extra), or uses the server
   ``AGENTIFUI_TEST_DATABASE_URL`` names, and creates a database of its own on it;
2. loads the settings from the environment, the database pointed at that one,
   and prints them, secrets masked;
3. applies the service's Alembic migrations (``agentifui_config.migrations.upgrade``);
4. starts the service with uvicorn on a free port of 127.0.0.1, in a thread;
5. creates an application and a configuration through the HTTP API, reads them
   back, shows the 409 a taken name gets, and prints ``/health``;
6. stops the service, drops the database and stops the server.

``nox -s demo -- --serve`` (or ``python -m examples.demo --serve``, from the
repository root) keeps the service up after the tour, for a person to open
``/docs``, until Ctrl-C. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

import httpx
import uvicorn

from agentifui_config import ConfigurationError, DatabaseConfig, EnvironmentSettings, load_settings
from agentifui_config.logging import configure_logging
from agentifui_config.migrations import get_migration_status, upgrade
from agentifui_config.testing.postgres import start_server, temporary_database
from examples.config_service.app import ALEMBIC_INI, create_app
from examples.demo_settings import describe_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["DemoError", "ServiceThread", "main", "tour"]

_HOST: Final = "127.0.0.1"
_START_TIMEOUT: Final = 30.0  # seconds for the service to open its pool and answer
_STOP_TIMEOUT: Final = 10.0  # seconds for it to finish requests and close the pool
_REQUEST_TIMEOUT: Final = 10.0  # seconds for one HTTP request of the tour
_LOCK_TIMEOUT: Final = 30.0  # seconds to wait for the migration lock
_DOCUMENT: Final = {
    "region": "eu-west-1",
    "replicas": 3,
    "features": {"new_checkout": True, "beta_search": False},
    "payment_providers": ["stripe", "adyen"],
}


class DemoError(RuntimeError):
    """A step of the tour did not go as it should; the message says which and why."""


class ServiceThread:
    """An ASGI app served by uvicorn in a background thread, on a socket bound before it starts.

    Binding first means the port is known, and ours, before the server runs:
    port 0 picks a free one.

    Args:
        app: The application.
        port: The port on 127.0.0.1; 0 for a free one.
        access_log: Log every request, as a server for a person does.
    """

    def __init__(self, app: FastAPI, *, port: int = 0, access_log: bool = False) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((_HOST, port))
        # log_config=None: logging is the app's, configured by configure_logging().
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=access_log,
            lifespan="on",
            timeout_graceful_shutdown=int(_STOP_TIMEOUT),
        )
        self._server = uvicorn.Server(config)
        # Set when the server has stopped. The demo waits on this event, never on
        # Thread.join(): a Ctrl-C landing in join() makes Python 3.11 take a running
        # thread for finished (bpo-45274), and the socket would be closed under it.
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        """The base URL the service answers on."""
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = _START_TIMEOUT) -> None:
        """Start serving and wait until the app's lifespan has started.

        Raises:
            DemoError: The lifespan failed (its error is logged), or *timeout* passed.
        """
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._stopped.is_set():
                raise DemoError("the service did not start: its error is logged above")
            if time.monotonic() > deadline:
                self.stop()
                raise DemoError(f"the service did not start within {timeout:.0f} s")
            self._stopped.wait(0.05)

    def wait(self) -> None:
        """Block until the server stops; Ctrl-C (``KeyboardInterrupt``) ends the wait."""
        while not self._stopped.wait(0.5):
            pass

    def stop(self, timeout: float = _STOP_TIMEOUT) -> None:
        """Ask the server to finish, run the lifespan's shutdown, and wait up to *timeout*."""
        self._server.should_exit = True
        if self._thread.ident is None or self._stopped.wait(timeout):
            # Not started, or stopped: the socket is no longer the server's.
            self._socket.close()

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._stopped.set()

    def __enter__(self) -> ServiceThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _section(title: str) -> None:
    print(f"\n=== {title} ===")


def _expect(response: httpx.Response, status: int, *, show: bool = True) -> dict[str, Any]:
    """Print the exchange and return the JSON body, or raise if the status is not *status*.

    Raises:
        DemoError: The status is another one.
    """
    request = response.request
    print(f"{request.method} {request.url.raw_path.decode()} -> {response.status_code}")
    if response.status_code != status:
        raise DemoError(
            f"{request.method} {request.url} answered {response.status_code}: {response.text}"
        )
    body: dict[str, Any] = response.json()
    if show:
        print(json.dumps(body, indent=2))
    return body


def tour(client: httpx.Client) -> None:
    """Walk the API: create, read back, conflict, filter, then the health report.

    Raises:
        DemoError: An answer was not the one expected.
    """
    _section("Create an application, then a configuration in it")
    new = {"name": "checkout", "description": "The shop's checkout."}
    application = _expect(client.post("/api/v1/applications", json=new), 201)
    configurations = f"/api/v1/applications/{application['id']}/configurations"
    created = _expect(
        client.post(configurations, json={"name": "production", "data": _DOCUMENT}), 201
    )
    _section("Read them back: the configuration by its name, the applications as a page")
    read = _expect(client.get(f"{configurations}/production"), 200, show=False)
    if read != created:
        raise DemoError(f"read back {read}, not what was created")
    print("(the configuration as created)")
    _expect(client.get("/api/v1/applications", params={"limit": 10}), 200)
    _section("A taken name is refused with 409, in problem details")
    _expect(client.post(configurations, json={"name": "production"}), 409)
    _section("Filter by content: the documents that contain a JSON object (GIN index)")
    wanted = json.dumps({"features": {"new_checkout": True}})
    page = _expect(client.get(configurations, params={"contains": wanted}), 200, show=False)
    print(f"total {page['total']}: {[item['name'] for item in page['items']]}")
    _section("GET /health: the database and the migrations, and no secret")
    _expect(client.get("/health"), 200)


def _settings_for(database: DatabaseConfig) -> EnvironmentSettings:
    """The environment's settings, with the database moved to *database*'s server and name.

    Everything else (pool, timeouts, CORS, secret key, flags) stays as the
    environment says, and the result is validated again as a whole.
    """
    location = {
        field: getattr(database, field)
        for field in ("host", "port", "username", "password", "database")
    }
    configured = load_settings().database
    return load_settings(database=configured.model_copy(update=location))


async def _migrate(database: DatabaseConfig) -> None:
    await upgrade(database, ALEMBIC_INI, lock_timeout=_LOCK_TIMEOUT)
    status = await get_migration_status(database, ALEMBIC_INI)
    print(f"migrations: {status.state.value}, at {', '.join(status.current_revisions)}")


def _serve_until_interrupted(service: ServiceThread) -> None:
    print(f"\nThe service runs at {service.url}")
    print(f"  API docs:  {service.url}/docs")
    print(f"  health:    {service.url}/health")
    print(f"  data:      {service.url}/api/v1/applications")
    print("Press Ctrl-C to stop it.")
    with contextlib.suppress(KeyboardInterrupt):
        service.wait()
    print("\nStopping.")


@contextlib.contextmanager
def _database() -> Iterator[DatabaseConfig]:
    """A database of the demo's own on a PostgreSQL server, both gone on exit."""
    _section("A PostgreSQL server and a database for the demo")
    with start_server() as server, temporary_database(server) as database:
        kind = "a throwaway embedded server" if server.embedded else "AGENTIFUI_TEST_DATABASE_URL"
        print(f"{database.masked_url}  ({kind})")
        yield database


def run(*, serve: bool, port: int) -> None:
    """Run the tour; with *serve*, keep the service up afterwards until Ctrl-C.

    Raises:
        ConfigurationError: The settings are refused, or no PostgreSQL can be had.
        DemoError: A step of the tour failed.
    """
    with _database() as database:
        settings = _settings_for(database)
        _section("The settings, as load_settings() reads them (secrets masked)")
        print(describe_settings(settings))
        _configure_logging(settings)
        _section("The service's migrations, applied by agentifui_config.migrations.upgrade()")
        asyncio.run(_migrate(settings.database))
        # The health endpoint reads the migration status; Alembic logs each read at INFO.
        logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
        app = create_app(settings, retry_for=5.0, configure_logs=False)
        service = ServiceThread(app, port=port, access_log=serve)
        _section(f"The service, started with uvicorn at {service.url}")
        with service:
            with httpx.Client(base_url=service.url, timeout=_REQUEST_TIMEOUT) as client:
                tour(client)
            if serve:
                _serve_until_interrupted(service)


def _configure_logging(settings: EnvironmentSettings) -> None:
    """One log format for every line, on standard output so that it interleaves with the tour."""
    configure_logging(settings, stream=sys.stdout)
    # The tour prints its own requests, and the embedded server's commands are no news.
    for chatty in ("httpx", "pgserver"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """Treat SIGTERM like Ctrl-C, so the service, the database and the server are stopped."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when every step worked, 1 with the reason otherwise."""
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__)
    parser.add_argument("--serve", action="store_true", help="keep the service up after the tour")
    parser.add_argument(
        "--port", type=int, default=0, help="port for --serve (default: a free one)"
    )
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # Line by line, so that the tour and the log lines keep their order in a pipe too.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    started = time.monotonic()
    try:
        run(serve=options.serve, port=options.port)
    except (ConfigurationError, DemoError, httpx.HTTPError) as exc:
        print(f"\nThe demo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted; the service, the database and the server were stopped.")
        return 130
    print(f"\nDone in {time.monotonic() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
