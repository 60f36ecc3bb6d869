"""pyright strict accepts the code of every wheel, as installed.

mypy --strict checks the sources in the workspace (``hatch run types``); pyright
cannot follow the namespace there, so it checks what users install.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monorepo_testing import MakeVenv, pyright_installed_package


@pytest.mark.timeout(900)
def test_pyright_strict_accepts_every_installed_module(make_venv: MakeVenv, tmp_path: Path) -> None:
    venv = make_venv("asgiref")
    errors = pyright_installed_package(venv, tmp_path)
    assert not errors, "pyright strict errors in the installed wheels:\n" + "\n".join(errors)
