"""mypy --strict over the whole monorepo: every package's sources and tests, the
repo-level tests and the demo, with the one configuration in mypy.ini.

Each package's tests are checked from that package's directory, so their module
names (``tests.test_...``) are unique per package and a ``conftest.py`` in one
package never collides with another's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "mypy.ini"


def _mypy(*targets: str, cwd: Path) -> int:
    command = [sys.executable, "-m", "mypy", "--config-file", str(CONFIG), *targets]
    print(f"$ (cd {cwd.relative_to(ROOT) or '.'}) mypy {' '.join(targets)}", flush=True)
    return subprocess.call(command, cwd=cwd)


def main() -> int:
    packages = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
    sources = [str(p.relative_to(ROOT) / "src") for p in packages]
    roots = ("tests", "conftest.py", "demo", "tools", "benchmarks", "compat")
    statuses = [_mypy(*sources, *roots, cwd=ROOT)]
    statuses += [
        _mypy("tests", cwd=package)
        for package in packages
        if any((package / "tests").rglob("*.py"))
    ]
    return 1 if any(statuses) else 0


if __name__ == "__main__":
    sys.exit(main())
