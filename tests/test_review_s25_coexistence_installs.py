"""Review: asgire and upstream both installed, upstream last, in a real virtual environment.

Both distributions list ``asgiref/__init__.py`` in their RECORD; upstream's
content is the one on disk, and the warning must name upstream, not asgire.
"""

from __future__ import annotations

import pytest
from install_testing import UPSTREAM_OLD, Caught, import_report, pip, pip_list

from monorepo_testing import DISTRIBUTIONS, MakeVenv

pytestmark = pytest.mark.timeout(900)


def test_upstream_installed_after_asgire_is_named_upstream(make_venv: MakeVenv) -> None:
    venv = make_venv(*DISTRIBUTIONS, seed=True)
    pip(venv, "install", "--quiet", "asgire==3.13.0")
    pip(venv, "install", "--quiet", f"asgiref=={UPSTREAM_OLD}")
    listed = pip_list(venv)
    assert listed["asgiref"] == UPSTREAM_OLD
    assert "asgire" in listed
    caught: tuple[Caught, ...] = import_report(venv, ["asgiref.sync"]).warnings
    assert len(caught) == 1, caught
    message = caught[0].message
    assert f"asgiref {UPSTREAM_OLD} (upstream's asgiref/__init__.py)" in message, message
    assert f"asgire {UPSTREAM_OLD}" not in message, message
