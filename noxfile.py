"""Development sessions: ``nox`` runs lint, typecheck and coverage; ``nox --list`` shows the rest.

Each session builds its own virtualenv under ``.nox/`` from the interpreter that
runs nox (``--force-python 3.12`` picks another), so a fresh checkout needs
nothing but nox itself; ``tests_all_pythons`` and ``wheel_smoke`` run on every
supported Python found on ``PATH`` (``python3.11``, ...) and skip the missing ones
(with pyenv, ``PYENV_VERSION=3.11.7:3.12.1:3.13.0 nox ...`` puts them all there).
Tool versions come from the ``dev`` and ``docs`` extras in ``pyproject.toml``,
the one place they are pinned.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.sessions = ["lint", "typecheck", "coverage"]
# uv where it is installed (`pip install 'nox[uv]'`, as the README says): it builds a
# session's virtualenv in seconds where pip takes most of a minute. Otherwise
# virtualenv, which comes with nox and, unlike venv, works on a Debian python3
# without python3-venv.
nox.options.default_venv_backend = "uv|virtualenv"
# A tool missing from the session's virtualenv must fail, not fall back to a global copy.
nox.options.error_on_external_run = True
# The sessions over every supported Python run on those installed and skip the others.
nox.options.error_on_missing_interpreters = False

# The interpreters the classifiers in pyproject.toml promise.
_PYTHONS = ["3.11", "3.12", "3.13"]
# What the tests import: every extra and the tools (the type checks add `bench`).
_DEVELOP = ".[all,dev]"

_PYPROJECT = nox.project.load_toml("pyproject.toml")

# Two workers per core (pytest-xdist), each starting its own throwaway server when the
# suite starts one: much of the suite waits on timeouts, servers and processes, which
# a second worker per core fills (on 2 cores, 4 workers take 0.8 of the time 2 take,
# and 6 take as long as 2). `-- -n 0` runs in one process. Work stealing evens out
# the few long tests.
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_PYTEST_ARGS = ("-n", str(2 * (_CORES or 1)), "--dist", "worksteal")
# Hypothesis's "ci" profile (tests/conftest.py): derandomised, no example database.
_TEST_ENV = {"HYPOTHESIS_PROFILE": "ci"}

# What the demo's service reads besides its database, which the demo provides
# itself (a throwaway PostgreSQL): a plausible development configuration.
_DEMO_ENV = {
    "ENVIRONMENT": "development",
    "DB_APPLICATION_NAME": "config-service-demo",
    "CORS_ORIGINS": "http://localhost:3000,http://localhost:5173",
    "SECRET_KEY": "demo-only-secret-key-0123456789abcdef",
    "LOG_LEVEL": "INFO",
    "FEATURE_FLAGS": "new_dashboard,beta_search",
}

# The same service misconfigured for production: a misspelt DB_HOST, a port that
# is not a number, a short secret key, CORS open to every origin. The demo shows
# that all of it is reported at once, and that no secret value is printed: the
# password carries "@" and "/", which a hand-built URL would trip on.
_BROKEN_ENV = {
    **_DEMO_ENV,
    "ENVIRONMENT": "production",
    "DB_HSOT": "db.internal",
    "DB_PORT": "54e2",
    "DB_USERNAME": "app",
    "DB_PASSWORD": "s3cr@t/pass",
    "DB_DATABASE": "app",
    "SECRET_KEY": "changeme",
    "CORS_ORIGINS": "*",
}

# Seconds nox waits, after Ctrl-C, for `demo -- --serve` to stop its service and
# its PostgreSQL before it terminates it.
_DEMO_STOP_GRACE = 30.0


def _dev_requirements(*names: str) -> list[str]:
    """Return the ``dev`` extra's requirement strings for the distributions *names*."""
    wanted = {name.lower() for name in names}
    found = [
        requirement
        for requirement in _PYPROJECT["project"]["optional-dependencies"]["dev"]
        if re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower() in wanted
    ]
    if len(found) != len(wanted):
        msg = f"pyproject.toml's dev extra lacks one of {sorted(wanted)}"
        raise RuntimeError(msg)
    return found


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite on every core; ``nox -s tests -- ARGS`` passes ARGS to pytest.

    Without PostgreSQL on the machine each worker starts its own throwaway
    server (the ``embedded`` extra, or the machine's PostgreSQL binaries);
    ``AGENTIFUI_TEST_DATABASE_URL`` points the suite at an existing one instead.
    ``nox -s coverage`` runs the same suite under branch coverage.
    """
    _run_tests(session)


@nox.session(python=_PYTHONS)
def tests_all_pythons(session: nox.Session) -> None:
    """Run the test suite, as ``tests`` does, on each supported Python that is installed."""
    _run_tests(session)


def _run_tests(session: nox.Session) -> None:
    session.install("-e", _DEVELOP)
    session.run("pytest", *_PYTEST_ARGS, *session.posargs, env=_TEST_ENV)


@nox.session
def coverage(session: nox.Session) -> None:
    """Run the test suite under branch coverage and hold it to ``fail_under`` in pyproject.toml.

    Every process is measured: the test workers, and the CLI and migration
    processes the tests start (``patch = ["subprocess"]``). The threshold binds
    full runs only: arguments (``nox -s coverage -- ARGS``) may select a subset.
    """
    session.install("-e", _DEVELOP)
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", *_PYTEST_ARGS, *session.posargs, env=_TEST_ENV)
    session.run("coverage", "combine", "--quiet")
    if session.posargs:
        session.log("pytest was given arguments: coverage is reported, not held to its threshold")
        session.run("coverage", "report", "--fail-under=0")
    else:
        session.run("coverage", "report")


@nox.session
def lint(session: nox.Session) -> None:
    """Check style (ruff), import layers (import-linter) and docstrings (interrogate)."""
    session.install(*_dev_requirements("ruff", "import-linter", "interrogate"))
    session.run("ruff", "check", *session.posargs, ".")
    session.run("ruff", "format", "--check", ".")
    # import-linter finds the package in the working directory; it needs no install.
    # --no-cache: the cache would be left behind as an untracked directory.
    session.run("lint-imports", "--no-cache", "--no-logo")
    session.run("interrogate", "agentifui_config")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the package, its tests, the examples and the benchmarks with ``mypy --strict``."""
    # The benchmarks import the alternatives they measure against: the `bench` extra.
    session.install("-e", ".[all,dev,bench]")
    session.run(
        "mypy", "--strict", "agentifui_config", "tests", "examples", "benchmarks", *session.posargs
    )


@nox.session
def demo(session: nox.Session) -> None:
    """Tour the configuration service example, then show the report that refuses a broken setup.

    Needs nothing configured: it starts a throwaway PostgreSQL, migrates it, runs
    the service and calls its API (``examples/demo.py``). ``nox -s demo -- --serve``
    keeps the service up afterwards for its ``/docs``, until Ctrl-C.
    """
    session.install("-e", ".[examples]")
    # -m from the repository root: the examples import each other as `examples.*`.
    session.run(
        "python",
        "-m",
        "examples.demo",
        *session.posargs,
        env=_DEMO_ENV,
        interrupt_timeout=_DEMO_STOP_GRACE,
    )
    if "--serve" in session.posargs:
        return
    session.log("The same service misconfigured for production is refused with one report:")
    # Exit status 1 is the refusal the demo is there to show; 0 would mean it was accepted.
    session.run("python", "examples/demo_settings.py", env=_BROKEN_ENV, success_codes=[1])


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Measure what the library costs against what a user would write instead; print one table.

    Each script times the library and its baselines in one run, interleaved,
    and prints ratios, which do not depend on how fast or busy the machine is:
    the FastAPI request path (raw asyncpg, a hand-written dependency,
    advanced-alchemy, ``SessionDep``, ``TransactionDep``, ``setup()``), the
    import, the settings load (pydantic-settings, dynaconf, environs), a probe
    storm, per-test isolation and a rolling start. ``benchmarks/run_all.py``
    gathers the ratios into the table ``docs/performance.md`` shows;
    ``nox -s benchmarks -- --quick`` takes fewer rounds. The database is
    ``AGENTIFUI_TEST_DATABASE_URL``'s server, or a throwaway embedded one.
    """
    # The alternatives measured against (advanced-alchemy, dynaconf, environs) are in `bench`.
    session.install("-e", ".[all,dev,bench]")
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into ``site/`` with ``mkdocs build --strict``.

    Any warning fails the build: a broken link or anchor, a page left out of the
    nav in ``mkdocs.yml``, a docstring reference that does not resolve.
    ``nox -s docs -- serve`` serves it at http://127.0.0.1:8000 instead.
    """
    # ruff formats the signatures mkdocstrings shows.
    session.install("-e", ".[docs]", *_dev_requirements("ruff"))
    # Material's banner about its successor is not a warning of ours.
    env = {"NO_MKDOCS_2_WARNING": "1"}
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", "--strict", *session.posargs[1:], env=env)
    else:
        session.run("mkdocs", "build", "--strict", *session.posargs, env=env)


@nox.session(python=_PYTHONS)
def wheel_smoke(session: nox.Session) -> None:
    """Build the wheel, install it with its ``all`` extra in a clean virtualenv, and smoke-test it.

    It must import, show the CLI's help, and register the pytest plugin: the
    entry point is listed, loads, and ``pytest --trace-config`` names it. Runs in
    a temporary directory, so the installed wheel is tested, not the sources.
    """
    dist = Path(session.create_tmp()).resolve() / "dist"
    shutil.rmtree(dist, ignore_errors=True)  # a wheel of an earlier version must not linger
    session.install("build")
    session.run("python", "-m", "build", "--wheel", "--outdir", str(dist), silent=True)
    (wheel,) = dist.glob("agentifui_config-*.whl")
    session.install(f"{wheel}[all]", "pytest")
    # Outside the repository: its sources and its pytest configuration must play no part.
    session.chdir(tempfile.mkdtemp(prefix="wheel-smoke-"))
    session.run("python", "-c", _SMOKE)
    session.run("agentifui-config", "--help", silent=True)
    # No tests in the directory: exit status 5, and the header names the plugins loaded.
    output = session.run(
        "pytest", "--trace-config", "-p", "no:cacheprovider", success_codes=[5], silent=True
    )
    if "agentifui_config.testing.plugin" not in str(output):
        session.error(f"pytest --trace-config does not list the plugin:\n{output}")


# Run by wheel_smoke from the installed wheel: import, version, the plugin's entry point.
_SMOKE = """
import importlib.metadata as metadata
import sys

import agentifui_config

assert "site-packages" in agentifui_config.__file__, agentifui_config.__file__
assert agentifui_config.__version__ == metadata.version("agentifui-config")
(plugin,) = metadata.entry_points(group="pytest11", name="agentifui_config")
plugin.load()
print("agentifui_config", agentifui_config.__version__, "on Python", sys.version.split()[0])
"""
