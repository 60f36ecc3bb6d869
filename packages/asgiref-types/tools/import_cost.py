"""Measure what importing asgiref.typing costs, next to importing typing itself.

Usage: python tools/import_cost.py [--python PATH] [--runs N]

Each statement runs in a fresh interpreter under ``-X importtime``; the cost
of a statement is the summed cumulative time of the top-level imports it
triggers that a bare interpreter does not already perform at startup. The
statements are run interleaved (typing, asgiref.typing, first use, typing,
...) so that machine noise hits them alike; medians are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

STATEMENTS = {
    "import typing": "import typing",
    "import asgiref.typing": "import asgiref.typing",
    "first use (from asgiref.typing import HTTPScope)": "from asgiref.typing import HTTPScope",
}


# Installed packages normally run from compiled bytecode (pip compiles on
# install; the warm-up run below writes the caches otherwise), so bytecode
# writing must not be disabled for the measurement.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _top_level_imports(python: str, statement: str) -> dict[str, int]:
    proc = subprocess.run(
        [python, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=_ENV,
    )
    found: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit() and not name[1:].startswith(" "):
            found[name.strip()] = int(cumulative)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()

    for statement in STATEMENTS.values():  # warm-up: write the bytecode caches
        _top_level_imports(options.python, statement)
    at_startup = set(_top_level_imports(options.python, "pass"))
    samples: dict[str, list[int]] = {label: [] for label in STATEMENTS}
    for _ in range(options.runs):
        for label, statement in STATEMENTS.items():
            imports = _top_level_imports(options.python, statement)
            samples[label].append(sum(us for name, us in imports.items() if name not in at_startup))
    version = subprocess.run(
        [options.python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    baseline = statistics.median(samples["import typing"])
    print(f"Python {version}, median of {options.runs} fresh processes each:")
    for label, values in samples.items():
        median = statistics.median(values)
        print(f"  {label:<50} {median / 1000:7.2f} ms  ({median / baseline:.2f}x import typing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
