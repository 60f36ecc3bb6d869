"""Every ```python example in a package README runs as written.

A block meant only to be read (a fragment, or one that serves forever) opens
with the line ``# example only: <reason>``; every other block is run in a
fresh interpreter with the workspace installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from monorepo_testing import PACKAGES_DIR, REPO_ROOT

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_READ_ONLY = "# example only:"


def _examples() -> list[tuple[str, str]]:
    found = []
    for readme in sorted([REPO_ROOT / "README.md", *PACKAGES_DIR.glob("*/README.md")]):
        for number, block in enumerate(_BLOCK.findall(readme.read_text("utf-8")), 1):
            if not block.lstrip().startswith(_READ_ONLY):
                found.append((f"{readme.parent.name}-{number}", block))
    return found


EXAMPLES = _examples()


def test_every_package_readme_has_a_runnable_example() -> None:
    with_examples = {name.rsplit("-", 1)[0] for name, _ in EXAMPLES}
    packages = {p.name for p in PACKAGES_DIR.iterdir() if (p / "pyproject.toml").exists()}
    missing = packages - with_examples
    assert not missing, f"READMEs without a runnable example: {sorted(missing)}"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "code"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_readme_example_runs(name: str, code: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
