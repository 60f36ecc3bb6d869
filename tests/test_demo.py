"""The README's second command: the demo runs end to end and reports success."""

from __future__ import annotations

import subprocess
import sys

import pytest

from monorepo_testing import REPO_ROOT


@pytest.mark.timeout(180)
def test_demo_runs_and_every_check_passes() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "demo" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Demo finished: all checks passed." in proc.stdout
    assert "[FAIL]" not in proc.stdout
