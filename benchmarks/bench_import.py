"""What importing the library costs against importing pydantic-settings, in fresh interpreters.

Run it as ``python benchmarks/bench_import.py`` (``--rounds N``). Each sample
starts a new interpreter (``python -c``) that times one import statement with
``time.perf_counter()`` and prints it, so the interpreter's own start-up, the
same for every statement, does not dilute the ratio. The statements run in
turn, round after round, and the medians are compared:

- ``import pydantic_settings``: the baseline, what any settings class needs;
- ``import agentifui_config``: the package, its errors and nothing else;
- ``from agentifui_config import load_settings``: the settings layer, what a
  service that reads its configuration imports (no SQLAlchemy: a URL is built
  only when one is asked for).

It also times a pytest start in a project with one trivial test, with the
plugin loaded and without it, each in a fresh process: the plugin must cost
next to nothing until one of its fixtures is used. Other installed plugins are
kept out (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), so that they neither add to
both sides nor add their noise, and with no ``AGENTIFUI_TEST_DATABASE_URL``,
as in a project that does not use the plugin. pytest-asyncio, when installed,
is loaded on both sides: a host where it is installed loads it whether or not
this plugin is there (its entry point), and where it is not, the plugin's
import of it fails at once.

The package's bytecode is compiled first, as installing a wheel compiles it
(and as the packages it is compared with were): a checkout run with
``PYTHONDONTWRITEBYTECODE`` would otherwise compile every module from source
in each fresh interpreter.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

from harness import interleave, print_goal, print_medians, print_ratio, timed

import agentifui_config

_TIMER = (
    "import time; started = time.perf_counter(); {statement}; print(time.perf_counter() - started)"
)
_IMPORTS = {
    "pydantic_settings": "import pydantic_settings",
    "agentifui_config": "import agentifui_config",
    "load_settings": "from agentifui_config import load_settings",
}
# The most an import may cost, as a multiple of pydantic-settings' own.
_IMPORT_GOAL = 1.15
_TEST = "def test_nothing() -> None:\n    assert True\n"
_PLUGIN = "agentifui_config.testing.plugin"
_SERVER_VARIABLE = "AGENTIFUI_TEST_DATABASE_URL"
# Loaded on both sides when installed, as a host's plugin autoloading loads it.
_ASYNCIO: tuple[str, ...] = (
    ("-p", "pytest_asyncio") if importlib.util.find_spec("pytest_asyncio") else ()
)
# The most the plugin may add to a pytest start, in seconds.
_PLUGIN_BUDGET = 0.05


def _import_seconds(statement: str) -> float:
    """The seconds *statement* takes in a fresh interpreter."""
    completed = subprocess.run(  # noqa: S603 - this interpreter, a fixed statement
        [sys.executable, "-c", _TIMER.format(statement=statement)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(completed.stdout.strip())


def _pytest_start(project: Path, *options: str) -> float:
    """The wall time of one pytest run of *project*'s single test."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *_ASYNCIO, *options]
    # A project that does not use the plugin names no test server either.
    environment = {
        **{name: value for name, value in os.environ.items() if name != _SERVER_VARIABLE},
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }

    def run() -> None:
        subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            command, cwd=project, env=environment, capture_output=True, check=True
        )

    return timed(run)


def main() -> None:
    """Time the imports and the pytest starts, interleaved, and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20, help="fresh interpreters per statement")
    rounds = parser.parse_args().rounds
    compileall.compile_dir(Path(agentifui_config.__file__).parent, quiet=1)
    imports = interleave(
        {name: partial(_import_seconds, statement) for name, statement in _IMPORTS.items()},
        rounds,
    )
    print_medians("import, in a fresh interpreter: median", imports, unit="ms")
    baseline = imports["pydantic_settings"]
    for name in ("agentifui_config", "load_settings"):
        print_ratio(f"import {name} / pydantic_settings", imports[name], baseline)
        print_goal(f"import {name} / pydantic_settings", _IMPORT_GOAL)
    with tempfile.TemporaryDirectory(prefix="bench-pytest-") as directory:
        project = Path(directory)
        (project / "test_nothing.py").write_text(_TEST)
        # An empty configuration file: the project's own pytest settings play no part.
        (project / "pytest.ini").write_text("[pytest]\n")
        starts = interleave(
            {
                "with the plugin": lambda: _pytest_start(project, "-p", _PLUGIN),
                "without": lambda: _pytest_start(project),
            },
            rounds,
        )
    print_medians("pytest start, one trivial test: median", starts, unit="ms")
    bare = starts["without"]
    added = starts["with the plugin"] - bare
    print(f"  the plugin adds {added * 1e3:.1f} ms (goal: at most {_PLUGIN_BUDGET * 1e3:.0f} ms)")
    name = "pytest start with the plugin / without"
    print_ratio(name, starts["with the plugin"], bare)
    print_goal(name, (bare + _PLUGIN_BUDGET) / bare)


if __name__ == "__main__":
    main()
