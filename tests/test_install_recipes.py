"""The install recipes of the root README ("Installing next to PyPI"), each run for real.

Every recipe installs into a fresh virtual environment from this checkout's
wheels plus PyPI (Django comes from there), then checks what a user would:
``pip list``, where the modules load from, warnings at import, ``pip check``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from install_testing import (
    MIXED_INSTALL_WARNING,
    UPSTREAM_MATCHED,
    UPSTREAM_OLD,
    assert_clean_release,
    assert_ours_alone,
    constraints_file,
    import_report,
    pip,
    pip_install_release,
    pip_list,
    pip_unchecked,
    release_version,
)

from monorepo_testing import DISTRIBUTIONS, MakeVenv, Venv, _clean_env, run_checked, uv_binary

pytestmark = pytest.mark.timeout(900)


def _simple_index(root: Path, wheels: list[Path]) -> str:
    """A PEP 503 index of ``wheels`` under ``root`` (a private index, served from disk)."""
    for wheel in wheels:
        project = wheel.name.split("-", 1)[0].replace("_", "-")
        page = root / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f'<html><body><a href="{wheel.as_uri()}">{wheel.name}</a></body></html>')
    return root.as_uri()


def _django_probe(venv: Venv) -> None:
    # Django's ASGI handler imports asgiref.sync and asgiref.local at import time.
    proc = venv.run("import django.core.handlers.asgi")
    assert proc.returncode == 0, proc.stderr


# --- pip: a wheelhouse or a private index, plus constraints ---------------------------


@pytest.mark.parametrize("source", ["wheelhouse", "private index"])
def test_pip_with_constraints_installs_this_release_for_django(
    make_venv: MakeVenv, wheelhouse: Path, tmp_path: Path, source: str
) -> None:
    if source == "wheelhouse":
        where = ["--find-links", str(wheelhouse)]
    else:
        index = _simple_index(tmp_path / "simple", sorted(wheelhouse.glob("*.whl")))
        where = ["--extra-index-url", index]
    venv = make_venv(seed=True)
    pip(venv, "install", "--quiet", *where, "-c", constraints_file(tmp_path), "django")
    assert_clean_release(venv)
    _django_probe(venv)


def test_pip_constraints_refuse_an_upstream_pin(
    make_venv: MakeVenv, wheelhouse: Path, tmp_path: Path
) -> None:
    # An old requirements.txt line that pins upstream: without the constraint
    # it would install upstream over this release; with it, pip refuses.
    venv = make_venv(seed=True)
    proc = pip_unchecked(
        venv,
        "install",
        "--find-links",
        wheelhouse,
        "-c",
        constraints_file(tmp_path),
        "django",
        f"asgiref=={UPSTREAM_OLD}",
    )
    assert proc.returncode != 0, proc.stdout
    assert "ResolutionImpossible" in proc.stderr, proc.stderr
    assert "asgiref" not in pip_list(venv)


# --- uv: override-dependencies ------------------------------------------------------


def _wheel_requiring(directory: Path, name: str, requirement: str) -> Path:
    """A wheel of an empty project ``name`` 1.0 that requires ``requirement``."""
    stem = name.replace("-", "_")
    dist_info = f"{stem}-1.0.dist-info"
    files = {
        f"{stem}/__init__.py": b"",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nRequires-Dist: {requirement}\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{stem}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def _uv_site(wheelhouse: Path, tmp_path: Path, override: bool) -> tuple[Venv, dict[str, str]]:
    """``uv sync`` of the README's project: Django plus a plugin that pins upstream
    asgiref exactly, with this release's wheels as find-links. The project's venv,
    and distribution name -> version in it."""
    links = tmp_path / "links"
    links.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        shutil.copy(wheel, links)
    _wheel_requiring(links, "legacy-plugin", f"asgiref=={UPSTREAM_MATCHED}")
    project = tmp_path / "site"
    project.mkdir()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    lines = [
        "[project]",
        'name = "site"',
        'version = "0"',
        f'requires-python = ">={python}"',
        'dependencies = ["django", "legacy-plugin"]',
        "",
        "[tool.uv]",
        "package = false",
        f"find-links = [{str(links)!r}]",
    ]
    if override:
        lines.append(f'override-dependencies = ["asgiref=={release_version()}"]')
    (project / "pyproject.toml").write_text("\n".join(lines) + "\n")
    command = [uv_binary(), "sync", "--quiet", "--python", sys.executable]
    run_checked(command, timeout=600, env=_clean_env(), cwd=project)
    venv = Venv(path=project / ".venv", python=project / ".venv" / "bin" / "python")
    listed = run_checked(
        [uv_binary(), "pip", "list", "--format", "json", "--python", venv.python],
        timeout=120,
        env=_clean_env(),
    )
    return venv, {entry["name"]: entry["version"] for entry in json.loads(listed)}


def test_uv_override_gives_this_release_to_a_dependency_that_pins_upstream(
    wheelhouse: Path, tmp_path: Path
) -> None:
    venv, versions = _uv_site(wheelhouse, tmp_path, override=True)
    shown = {name: versions.get(name) for name in DISTRIBUTIONS}
    assert shown == dict.fromkeys(DISTRIBUTIONS, release_version()), versions
    assert_ours_alone(venv)
    _django_probe(venv)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="upstream 3.13.0 requires Python 3.11")
def test_uv_without_the_override_resolves_the_pin_to_upstream(
    wheelhouse: Path, tmp_path: Path
) -> None:
    # Why the recipe needs the override: the plugin's pin is satisfied by
    # upstream only, and a constraint could not change that.
    _, versions = _uv_site(wheelhouse, tmp_path, override=False)
    assert versions["asgiref"] == UPSTREAM_MATCHED
    assert "asgiref-sync" not in versions


# --- one split alone, in a project that also has Django ------------------------------

_SPLIT_MODULE = {"asgiref-sync": "asgiref.sync", "asgiref-types": "asgiref.typing"}


@pytest.mark.parametrize("split", sorted(_SPLIT_MODULE))
def test_a_split_with_django_alone_gets_upstream_beside_it_and_warns(
    make_venv: MakeVenv, wheelhouse: Path, tmp_path: Path, split: str
) -> None:
    # What the resolver does when the only source of our asgiref metapackage
    # is missing: the splits come from the wheelhouse, Django's asgiref from PyPI.
    splits_only = tmp_path / "splits"
    splits_only.mkdir()
    for wheel in wheelhouse.glob("asgiref_*.whl"):
        shutil.copy(wheel, splits_only)
    venv = make_venv(seed=True)
    pip(venv, "install", "--quiet", "--find-links", splits_only, split, "django")
    listed = pip_list(venv)
    assert listed[split] == release_version()
    assert listed["asgiref"] != release_version(), "upstream, from PyPI"
    report = import_report(venv, [_SPLIT_MODULE[split]])
    assert [w.category for w in report.warnings] == [MIXED_INSTALL_WARNING]


@pytest.mark.parametrize("split", sorted(_SPLIT_MODULE))
def test_a_split_with_django_plus_our_asgiref_by_constraint(
    make_venv: MakeVenv, wheelhouse: Path, tmp_path: Path, split: str
) -> None:
    # What the user adds: the source of our asgiref and the constraints.
    venv = make_venv(seed=True)
    pip_install_release(venv, wheelhouse, tmp_path, split, "django")
    assert_clean_release(venv)
    _django_probe(venv)
