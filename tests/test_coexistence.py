"""Upstream asgiref installed over this release is detected when our modules are imported.

pip replaces only the files the two ``asgiref`` distributions share, so after
``pip install asgiref==3.8.1`` (an old requirements.txt pin) our five splits
stay: our packages shadow upstream's single-file modules, our code runs, and
``asgiref.__version__`` says 3.8.1. ``pip check`` cannot see it (no split
depends on the metapackage), so the first of our modules imported warns, once,
with a warning class of its own that says how to repair the environment.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from install_testing import (
    MIXED_INSTALL_WARNING,
    OUR_MODULES,
    UPSTREAM_OLD,
    Caught,
    assert_clean_release,
    import_report,
    pip,
    pip_list,
    release_version,
)

from monorepo_testing import (
    DISTRIBUTIONS,
    MakeVenv,
    Venv,
    _clean_env,
    pyright_installed_package,
)

pytestmark = pytest.mark.timeout(900)

_REPAIR = re.compile(r'python -m pip install "asgiref==(?P<version>[^"]+)"')


def _upstream_over_ours(make_venv: MakeVenv) -> Venv:
    venv = make_venv("asgiref", seed=True)
    pip(venv, "install", "--quiet", f"asgiref=={UPSTREAM_OLD}")
    listed = pip_list(venv)
    assert listed["asgiref"] == UPSTREAM_OLD
    assert listed["asgiref-sync"] == release_version(), "the splits stay: what this guards"
    return venv


def _the_one_warning(caught: tuple[Caught, ...]) -> Caught:
    assert [w.category for w in caught] == [MIXED_INSTALL_WARNING], caught
    return caught[0]


def _import_sync_after_filter(venv: Venv, action: str) -> subprocess.CompletedProcess[str]:
    # Set in code, as a program does: python -W resolves a category before
    # site-packages is on sys.path, so it can only name built-in ones.
    program = (
        "import warnings\n"
        "from asgiref.coexistence import MixedInstallWarning\n"
        f"warnings.simplefilter({action!r}, MixedInstallWarning)\n"
        "import asgiref.sync\n"
    )
    return subprocess.run(
        [str(venv.python), "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=venv.path,
        env=_clean_env(),
    )


def test_upstream_over_ours_warns_once_naming_both_versions_and_the_repair(
    make_venv: MakeVenv,
) -> None:
    venv = _upstream_over_ours(make_venv)
    for module in OUR_MODULES:
        report = import_report(venv, [module])
        assert report.version == UPSTREAM_OLD
        warning = _the_one_warning(report.warnings)
        # Its own class, so it can be filtered or escalated by category.
        assert warning.bases[:2] == ("MixedInstallWarning", "RuntimeWarning"), warning.bases
        assert UPSTREAM_OLD in warning.message
        assert release_version() in warning.message
        repair = _REPAIR.search(warning.message)
        assert repair, warning.message
        assert repair["version"] == release_version()
        # Attributed to the module whose import found it, not to importlib.
        expected_file = str(Path(*module.split(".")) / "__init__.py")
        assert warning.filename.endswith(expected_file), (module, warning.filename)

    # All nine in one process: still one warning.
    _the_one_warning(import_report(venv).warnings)

    # Escalated or silenced by its category.
    escalated = _import_sync_after_filter(venv, "error")
    assert escalated.returncode != 0
    assert f"{MIXED_INSTALL_WARNING}: asgiref {UPSTREAM_OLD}" in escalated.stderr
    silenced = _import_sync_after_filter(venv, "ignore")
    assert (silenced.returncode, silenced.stderr) == (0, "")


def test_the_named_repair_command_restores_this_release(
    make_venv: MakeVenv, wheelhouse: Path
) -> None:
    venv = _upstream_over_ours(make_venv)
    warning = _the_one_warning(import_report(venv, ["asgiref.sync"]).warnings)
    repair = _REPAIR.search(warning.message)
    assert repair, warning.message
    # The command as the warning gives it, pointed at where this release is.
    pip(venv, "install", "--no-index", "--find-links", wheelhouse, f"asgiref=={repair['version']}")
    assert_clean_release(venv)


def test_asgire_installed_last_is_named_and_its_repair_works(
    make_venv: MakeVenv, wheelhouse: Path
) -> None:
    # The asgire fork ships asgiref/__init__.py under another distribution
    # name: reinstalling asgiref alone would leave it installed and in place.
    venv = make_venv(*DISTRIBUTIONS, seed=True)
    pip(venv, "install", "--quiet", "asgire==3.13.0")
    warning = _the_one_warning(import_report(venv, ["asgiref.sync"]).warnings)
    assert "asgire 3.13.0 (asgire's asgiref/__init__.py)" in warning.message, warning.message
    repair = re.search(r"Repair: (.+?) from the wheelhouse", warning.message)
    assert repair, warning.message
    # Each command as the warning gives it; installs pointed at where this release is.
    for command in repair[1].split(" && "):
        words = shlex.split(command)
        assert words[:3] == ["python", "-m", "pip"], command
        where = ["--find-links", str(wheelhouse)] if words[3] == "install" else []
        pip(venv, *words[3:], *where)
    assert "asgire" not in pip_list(venv)
    assert_clean_release(venv)


@pytest.mark.parametrize("distribution", ["asgiref", "asgiref-sync", "asgiref-types"])
def test_no_warning_without_upstream(make_venv: MakeVenv, distribution: str) -> None:
    # The metapackage; a split alone, where asgiref is a bare namespace.
    modules = {
        "asgiref": OUR_MODULES,
        "asgiref-sync": ("asgiref.sync",),
        "asgiref-types": ("asgiref.typing",),
    }[distribution]
    report = import_report(make_venv(distribution), modules)
    assert report.warnings == ()


def test_pyright_strict_accepts_the_check_where_asgiref_is_a_bare_namespace(
    make_venv: MakeVenv, tmp_path: Path
) -> None:
    # With asgiref-types alone there is no asgiref/__init__.py (and no py.typed
    # for the namespace itself); tests/test_wheel_typing.py covers the metapackage.
    errors = pyright_installed_package(make_venv("asgiref-types"), tmp_path)
    assert not errors, "\n".join(errors)
