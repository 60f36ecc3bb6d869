"""Run the whole test suite on every Python of the hatch-test matrix this machine has.

    python -m pip install "hatch>=1.16,<2" && python tools/test_all.py [pytest arguments]

``hatch test --all`` stops with a traceback when one interpreter of the matrix
is missing, and most machines lack some. This script reads the matrix from
hatch (``hatch env show --json``), looks for each interpreter the way hatch
does (with python-discovery, the library hatch itself uses, when it can be
imported here, as it can after ``pip install hatch``; otherwise by running each
``python3.X`` on ``PATH``), says in one line which versions it skips, and runs
``hatch test --python <the others>``. Nothing is printed after hatch's own
output, so pytest's summary stays the last line; the exit status is hatch's.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Run as a file, this script has tools/ on sys.path, not the repository root
# that makes tools/ importable as the package its helpers live in.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
from tools.installed_tool import tool_command  # noqa: E402

_MATRIX_PREFIX = "hatch-test."
_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"


def hatch_command() -> list[str]:
    return tool_command(
        "hatch", "test_all: hatch is not installed here (python -m pip install hatch)"
    )


def matrix_versions(hatch: Sequence[str]) -> list[str]:
    """The Python versions of the hatch-test matrix, in the matrix's order."""
    shown = subprocess.run(
        [*hatch, "env", "show", "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    environments: dict[str, dict[str, object]] = json.loads(shown.stdout)
    versions = (
        str(config["python"])
        for name, config in environments.items()
        if name.startswith(_MATRIX_PREFIX) and "python" in config
    )
    return list(dict.fromkeys(versions))


def _discovered_by_hatchs_library() -> Callable[[str], bool] | None:
    try:
        discovery = importlib.import_module("python_discovery")
    except ImportError:
        return None

    def exists(version: str) -> bool:
        return discovery.get_interpreter(version, (), env=dict(os.environ)) is not None

    return exists


def _runs_as(executable: str, version: str) -> bool:
    try:
        probe = subprocess.run(
            [executable, "-c", _PROBE], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    # A pyenv shim for a version that is not selected exits non-zero here.
    return probe.returncode == 0 and probe.stdout.strip() == version


def _found_on_path(version: str) -> bool:
    if _runs_as(sys.executable, version):
        return True
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory) / f"python{version}"
        if directory and candidate.is_file() and _runs_as(str(candidate), version):
            return True
    return False


def interpreter_finder() -> Callable[[str], bool]:
    return _discovered_by_hatchs_library() or _found_on_path


def main(argv: Sequence[str]) -> int:
    # pyenv's shims choose by the .python-version of the working directory,
    # for hatch as for us.
    os.chdir(REPO_ROOT)
    hatch = hatch_command()
    versions = matrix_versions(hatch)
    exists = interpreter_finder()
    found = [version for version in versions if exists(version)]
    skipped = [version for version in versions if version not in found]
    if not found:
        print(
            f"test_all: none of Python {', '.join(versions)} was found on this machine;"
            " install one and put it on PATH",
            flush=True,
        )
        return 1
    skipped_text = (
        f"skipping Python {', '.join(skipped)} (not found on this machine)"
        if skipped
        else "skipping none"
    )
    print(f"test_all: {skipped_text}; testing on Python {', '.join(found)}", flush=True)
    command = [*hatch, "test", "--python", ",".join(found)]
    if argv:
        command += ["--", *argv]
    return subprocess.call(command, cwd=REPO_ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
