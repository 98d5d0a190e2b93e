"""Run every benchmark and print one table of their ratios: ``nox -s benchmarks`` runs this.

Run it as ``python benchmarks/run_all.py`` (``--quick`` for fewer rounds,
``--only NAME`` for some of the scripts). Each script runs in a process of its
own, its output shown as it comes; the lines ``ratio <name>: <x>`` and
``goal <name>: <= <x>`` it prints are gathered into the table, in Markdown,
with the date, the CPU count and the Python version it was measured on, ready
for ``docs/performance.md``. A ratio is a time over its baseline's time:
below 1.0 is faster. A script that fails is named after the table, and the
exit status is then 1.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Each script, and the arguments --quick gives it.
_SCRIPTS: dict[str, tuple[str, ...]] = {
    "bench_import.py": ("--rounds", "8"),
    "bench_settings_load.py": ("--rounds", "100"),
    "bench_request_overhead.py": ("--rounds", "60"),
    "bench_health_probes.py": ("--rounds", "5"),
    "bench_session_isolation.py": (),
    "bench_migration_start.py": (),
}
# A ratio may be followed by an "x" and a comment; a name may be in parentheses.
_RATIO = re.compile(r"^ratio \(?(?P<name>.+?)\)?:\s+(?P<value>[0-9.]+)x?\b.*$")
_GOAL = re.compile(r"^goal (?P<name>.+?):\s+<=\s*(?P<value>[0-9.]+)\s*$")


@dataclass
class _Row:
    """One ratio of the table, and its goal when its script states one."""

    name: str
    ratio: float
    goal: float | None = None

    def cells(self) -> list[str]:
        """The row's cells: what, baseline, ratio, goal, met?"""
        what, _, baseline = self.name.partition(" / ")
        # Judged as shown: two decimals are more than the noise of a shared machine allows.
        shown = round(self.ratio, 2)
        goal = "-" if self.goal is None else f"<= {self.goal:.2f}"
        met = "-" if self.goal is None else ("yes" if shown <= round(self.goal, 2) else "no")
        return [what, baseline or "-", f"{shown:.2f}", goal, met]


def _run(script: str, arguments: tuple[str, ...]) -> tuple[list[_Row], bool]:
    """Run *script*, echoing its output; its rows, and whether it succeeded."""
    print(f"\n=== {script} {' '.join(arguments)}".rstrip(), flush=True)
    process = subprocess.Popen(  # noqa: S603 - this interpreter, a script of this directory
        [sys.executable, str(_HERE / script), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=_HERE.parent,
    )
    rows: dict[str, _Row] = {}
    goals: dict[str, float] = {}
    assert process.stdout is not None  # asked for with stdout=PIPE
    for line in process.stdout:
        print(line, end="", flush=True)
        if ratio := _RATIO.match(line.strip()):
            rows[ratio["name"]] = _Row(ratio["name"], float(ratio["value"]))
        elif goal := _GOAL.match(line.strip()):
            goals[goal["name"]] = float(goal["value"])
    for name, most in goals.items():
        if name in rows:
            rows[name].goal = most
    return list(rows.values()), process.wait() == 0


def _table(rows: list[_Row]) -> str:
    """*rows* as a Markdown table."""
    lines = ["| what | baseline | ratio | goal | met? |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    """Run the scripts, then print the table; 1 when a script failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a rough table")
    parser.add_argument(
        "--only", action="append", choices=sorted(_SCRIPTS), help="run this script (repeatable)"
    )
    options = parser.parse_args()
    rows: list[_Row] = []
    failed: list[str] = []
    for script in options.only or _SCRIPTS:
        found, succeeded = _run(script, _SCRIPTS[script] if options.quick else ())
        rows += found
        if not succeeded:
            failed.append(script)
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    print(
        f"\nMeasured {today} on {os.cpu_count()} CPUs, Python {platform.python_version()}"
        " (ratio: time over the baseline's time; below 1.0 is faster)\n"
    )
    print(_table(rows))
    for script in failed:
        print(f"\n{script} failed: its rows are missing above", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
