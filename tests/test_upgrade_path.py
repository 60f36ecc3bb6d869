"""``pip install -U asgiref`` from a wheelhouse replaces upstream asgiref in one command.

Two things make it work. Our version is a post-release of the upstream release
it matches (3.13.0.post1 over 3.13.0), so pip sees an upgrade where an equal
version would leave upstream in place ("Requirement already satisfied"). And
every module of ours is a package (``asgiref/sync/__init__.py``): pip removes
the old distribution's files, upstream's ``asgiref/sync.py`` among them, and
nothing of ours is in their way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from install_testing import (
    UPSTREAM_MATCHED,
    UPSTREAM_OLD,
    assert_clean_release,
    pip,
    pip_list,
    upstream_leftovers,
)

from monorepo_testing import MakeVenv


@pytest.mark.timeout(900)
@pytest.mark.parametrize("upstream", [UPSTREAM_OLD, UPSTREAM_MATCHED])
def test_pip_upgrade_from_a_wheelhouse_replaces_upstream(
    make_venv: MakeVenv, wheelhouse: Path, upstream: str
) -> None:
    if upstream == UPSTREAM_MATCHED and sys.version_info < (3, 11):
        pytest.skip(f"upstream asgiref {upstream} requires Python 3.11")
    venv = make_venv(seed=True)
    pip(venv, "install", "--quiet", f"asgiref=={upstream}")
    assert pip_list(venv)["asgiref"] == upstream
    assert upstream_leftovers(venv), "upstream's modules should be single files"

    # The one command a user types (the wheelhouse holds this checkout's wheels).
    pip(venv, "install", "--upgrade", "--no-index", "--find-links", wheelhouse, "asgiref")

    assert_clean_release(venv)
    # ... under a version that tells it from every upstream release.
    assert pip_list(venv)["asgiref"] not in (UPSTREAM_OLD, UPSTREAM_MATCHED)
