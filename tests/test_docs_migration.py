"""The pip commands of docs/migration.md that leave this release or the asgire fork,
run as written, in fresh virtual environments (wheels of this checkout, PyPI for
upstream asgiref and asgire).

The commands are read from the page's console blocks under the section's
heading, so a recipe that goes stale on the page fails here.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
from docs_pages import DOCS, read_blocks
from install_testing import (
    MIXED_INSTALL_WARNING,
    UPSTREAM_MATCHED,
    assert_clean_release,
    assert_pip_check_clean,
    constraints_file,
    import_report,
    pip,
    pip_install_release,
    pip_list,
    release_version,
)

from monorepo_testing import DISTRIBUTIONS, MakeVenv, Venv

pytestmark = pytest.mark.timeout(900)

PAGE = DOCS / "migration.md"
# The fork's release the page describes (its wheel was read for the page).
ASGIRE = "asgire==3.13.0"


def _section_commands(heading: str) -> list[list[str]]:
    """The `pip ...` lines of the console blocks of one section of the page."""
    text = PAGE.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = [block for block in read_blocks(PAGE, section) if block.language == "console"]
    lines = [line for block in blocks for line in block.body.splitlines()]
    commands = [shlex.split(line) for line in lines if line.startswith("pip ")]
    assert commands, f"no pip command under {heading!r}"
    return commands


def _run_page_commands(venv: Venv, heading: str, wheelhouse: Path, constraints: Path) -> None:
    for command in _section_commands(heading):
        arguments = [
            str(wheelhouse)
            if word == "./wheelhouse"
            else str(constraints)
            if word == "constraints.txt"
            else word
            for word in command[1:]
        ]
        pip(venv, *arguments)


def _version_attribute(venv: Venv) -> str:
    proc = venv.run("import asgiref; print(getattr(asgiref, '__version__', 'missing'))")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_page_quotes_the_asgire_version_it_was_written_for() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert re.search(r"`asgire`.*\n?.*\(3\.13\.0 at the time of writing", text), ASGIRE


def test_uninstalling_asgire_after_this_release_takes_its_init_and_the_recipe_repairs_it(
    make_venv: MakeVenv, wheelhouse: Path, tmp_path: Path
) -> None:
    """The page: "Installed over `asgire`, this release takes that file and works,
    but uninstalling `asgire` later deletes it"; the section's commands repair it."""
    venv = make_venv(seed=True)
    pip(venv, "install", "--quiet", ASGIRE)
    pip_install_release(venv, wheelhouse, tmp_path, "asgiref")
    assert _version_attribute(venv) == release_version()
    pip(venv, "uninstall", "-y", "asgire")
    assert _version_attribute(venv) == "missing"

    _run_page_commands(venv, "From the asgire fork", wheelhouse, constraints_file(tmp_path))
    assert_clean_release(venv)


def test_asgire_installed_last_warns_and_the_recipe_repairs_it(
    make_venv: MakeVenv, wheelhouse: Path, tmp_path: Path
) -> None:
    """The page: "installed under `asgire` (asgire installed last), `asgire`'s
    `asgiref/__init__.py` wins and every import warns with `MixedInstallWarning`
    naming version 3.13.0"."""
    venv = make_venv(*DISTRIBUTIONS, seed=True)
    pip(venv, "install", "--quiet", ASGIRE)
    report = import_report(venv)
    assert report.version == "3.13.0"
    assert [caught.category for caught in report.warnings] == [MIXED_INSTALL_WARNING]
    # It names the fork, not upstream, and a repair that removes the fork.
    message = report.warnings[0].message
    assert "asgire 3.13.0 (asgire's asgiref/__init__.py)" in message, message
    assert "pip uninstall -y asgire && python -m pip install --force-reinstall" in message

    _run_page_commands(venv, "From the asgire fork", wheelhouse, constraints_file(tmp_path))
    assert "asgire" not in pip_list(venv)
    assert_clean_release(venv)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="upstream 3.13.0 requires Python 3.11")
def test_back_to_upstream_leaves_upstream_alone(make_venv: MakeVenv, tmp_path: Path) -> None:
    venv = make_venv(*DISTRIBUTIONS, seed=True)
    _run_page_commands(venv, "Back to upstream asgiref", tmp_path, tmp_path / "unused")
    listed = pip_list(venv)
    assert listed.get("asgiref") == UPSTREAM_MATCHED
    assert not [name for name in DISTRIBUTIONS if name != "asgiref" and name in listed]
    report = import_report(venv, ("asgiref.sync", "asgiref.wsgi", "asgiref.testing"))
    assert report.version == UPSTREAM_MATCHED
    assert report.warnings == ()
    site = venv.site_packages()
    assert report.files["asgiref.sync"] == str(site / "asgiref" / "sync.py")
    assert_pip_check_clean(venv)
