"""What an install left in a fresh virtual environment, seen the way a user sees it.

The upgrade, coexistence and install-recipe tests drive pip (and uv) in venvs
made by ``monorepo_testing.make_venv`` and then ask the same questions: which
versions does ``pip list`` show, did a single-file module of upstream asgiref
survive, which warnings does importing our modules give. The answers are
computed here, once.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monorepo_testing import (  # _clean_env: the environment every venv command here gets
    DISTRIBUTIONS,
    PACKAGES_DIR,
    Venv,
    _clean_env,
    run_checked,
)

# Every module package our distributions ship, by import name.
OUR_MODULES = (
    "asgiref.sync",
    "asgiref.local",
    "asgiref.current_thread_executor",
    "asgiref.compatibility",
    "asgiref.timeout",
    "asgiref.wsgi",
    "asgiref.server",
    "asgiref.testing",
    "asgiref.typing",
)
# The upstream release this one is a post-release of, and an old one that
# Django 5.2's range still accepts (what an old requirements.txt pins).
UPSTREAM_MATCHED = "3.13.0"
UPSTREAM_OLD = "3.8.1"
MIXED_INSTALL_WARNING = "asgiref.coexistence.MixedInstallWarning"
_PIP_TIMEOUT = 600


def release_version() -> str:
    """The version all six distributions of this checkout are released under."""
    init = (PACKAGES_DIR / "asgiref" / "src" / "asgiref" / "__init__.py").read_text("utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', init, re.MULTILINE)
    assert match, "the metapackage's __init__.py must hold __version__"
    return match[1]


def pip(venv: Venv, *args: str | Path, cwd: Path | None = None) -> str:
    """Run ``python -m pip`` of ``venv``; fail the test, showing pip's output, if it fails."""
    command = [venv.python, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    return run_checked(command, timeout=_PIP_TIMEOUT, env=_clean_env(), cwd=cwd)


def constraints_file(directory: Path) -> Path:
    """The README's constraints.txt, written in ``directory``: this release, under
    each name it ships."""
    path = directory / "constraints.txt"
    path.write_text("".join(f"{name}=={release_version()}\n" for name in DISTRIBUTIONS))
    return path


def pip_install_release(venv: Venv, wheelhouse: Path, directory: Path, *requirements: str) -> str:
    """The README's recipe: ``pip install`` ``requirements`` from ``wheelhouse`` plus
    PyPI, held to this release by a constraints file written in ``directory``."""
    constraints = constraints_file(directory)
    return pip(
        venv, "install", "--quiet", "--find-links", wheelhouse, "-c", constraints, *requirements
    )


def pip_unchecked(venv: Venv, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m pip`` of ``venv``, for a test that expects it to fail."""
    return subprocess.run(
        [
            str(venv.python),
            "-m",
            "pip",
            "--disable-pip-version-check",
            "--no-input",
            *map(str, args),
        ],
        capture_output=True,
        text=True,
        timeout=_PIP_TIMEOUT,
        check=False,
        env=_clean_env(),
    )


def pip_list(venv: Venv) -> dict[str, str]:
    """Distribution name (normalised) -> version, as ``pip list`` shows them."""
    listed = json.loads(pip(venv, "list", "--format", "json"))
    return {entry["name"].lower().replace("_", "-"): entry["version"] for entry in listed}


def assert_pip_check_clean(venv: Venv) -> None:
    proc = pip_unchecked(venv, "check")
    assert proc.returncode == 0, f"pip check:\n{proc.stdout}{proc.stderr}"


def assert_release_installed(venv: Venv, distributions: Sequence[str] = DISTRIBUTIONS) -> None:
    """``pip list`` shows each of ``distributions`` at this checkout's version."""
    listed = pip_list(venv)
    version = release_version()
    shown = {name: listed.get(name) for name in distributions}
    assert shown == dict.fromkeys(distributions, version), f"pip list: {listed}"


def upstream_leftovers(venv: Venv) -> list[str]:
    """Files of upstream's single-file modules (and their bytecode) left in ``asgiref/``.

    Our modules are packages (``asgiref/sync/__init__.py``); anything named
    ``asgiref/<module>.py``, or its compiled form, is upstream's.
    """
    package = venv.site_packages() / "asgiref"
    stems = {name.rsplit(".", 1)[1] for name in OUR_MODULES}
    found = [path for path in package.glob("*.py") if path.stem in stems]
    found += [
        path
        for path in (package / "__pycache__").glob("*.pyc")
        if path.name.split(".", 1)[0] in stems
    ]
    return sorted(str(path.relative_to(package.parent)) for path in found)


@dataclass(frozen=True)
class Caught:
    """One warning raised while importing, as the probe reports it."""

    category: str  # module.qualname of the warning class
    bases: tuple[str, ...]  # qualnames of its method resolution order
    message: str
    filename: str


@dataclass(frozen=True)
class ImportReport:
    version: str | None  # asgiref.__version__, None for the bare namespace
    files: dict[str, str]  # module -> __file__
    warnings: tuple[Caught, ...]


_IMPORT_PROBE = """
import importlib, json, warnings
with warnings.catch_warnings(record=True) as caught:
    # "always": a check that ran twice would show twice.
    warnings.simplefilter("always")
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # asgiref.timeout, by design
    files = {name: importlib.import_module(name).__file__ for name in %r}
import asgiref
print(json.dumps({
    "version": getattr(asgiref, "__version__", None),
    "files": files,
    "warnings": [
        {
            "category": w.category.__module__ + "." + w.category.__qualname__,
            "bases": [c.__qualname__ for c in w.category.__mro__],
            "message": str(w.message),
            "filename": w.filename,
        }
        for w in caught
    ],
}))
"""


def import_report(venv: Venv, modules: Sequence[str] = OUR_MODULES) -> ImportReport:
    """Import ``modules`` in that order in a fresh interpreter of ``venv``; what it saw."""
    proc = venv.run(_IMPORT_PROBE % (tuple(modules),))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    raw = json.loads(proc.stdout)
    caught = tuple(
        Caught(w["category"], tuple(w["bases"]), w["message"], w["filename"])
        for w in raw["warnings"]
    )
    return ImportReport(version=raw["version"], files=raw["files"], warnings=caught)


def assert_ours_alone(venv: Venv) -> None:
    """Every module is ours, loaded from its package, under our version, warning nothing."""
    report = import_report(venv)
    assert report.warnings == (), report.warnings
    assert report.version == release_version()
    site = venv.site_packages()
    for module, location in report.files.items():
        expected = site / Path(*module.split(".")) / "__init__.py"
        assert location == str(expected), (module, location)
    assert upstream_leftovers(venv) == []


def assert_clean_release(venv: Venv) -> None:
    """What every good install ends with: ``pip list`` shows this release under all six
    names, its modules alone are imported, silently, and ``pip check`` is clean."""
    assert_release_installed(venv)
    assert_ours_alone(venv)
    assert_pip_check_clean(venv)
