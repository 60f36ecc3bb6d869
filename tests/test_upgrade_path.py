"""Upgrading an environment that has upstream asgiref keeps every import working.

pip removes the old distribution's files after installing the new ones; with
module *packages* (asgiref/sync/__init__.py) nothing of ours is in the way of
that removal, and nothing of upstream's single-file modules survives to
shadow ours.
"""

from __future__ import annotations

import json

import pytest

from monorepo_testing import DISTRIBUTIONS, MakeVenv, Venv, run_checked

UPSTREAM = "asgiref==3.8.1"
MODULES = (
    "sync",
    "local",
    "current_thread_executor",
    "compatibility",
    "timeout",
    "wsgi",
    "server",
    "testing",
    "typing",
)


def _pip(venv: Venv, *args: str) -> None:
    run_checked([venv.python, "-m", "pip", "--disable-pip-version-check", *args], timeout=300)


@pytest.mark.timeout(900)
def test_pip_upgrade_over_upstream_keeps_every_module(make_venv: MakeVenv, wheelhouse: str) -> None:
    venv = make_venv(seed=True)
    _pip(venv, "install", "--quiet", UPSTREAM)
    before = venv.run("import asgiref.sync, asgiref; print(asgiref.__version__)")
    assert before.stdout.strip() == "3.8.1", before.stderr

    _pip(
        venv,
        "install",
        "--quiet",
        "--upgrade",
        "--no-index",
        "--find-links",
        str(wheelhouse),
        *DISTRIBUTIONS,
    )
    probe = (
        "import importlib, json, warnings, asgiref\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        f"files = {{m: importlib.import_module('asgiref.' + m).__file__ for m in {MODULES!r}}}\n"
        "print(json.dumps({'version': asgiref.__version__, 'files': files}))\n"
    )
    proc = venv.run(probe)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["version"] != "3.8.1"
    site = venv.site_packages()
    for module, location in report["files"].items():
        # Ours are packages; upstream's were asgiref/<module>.py.
        assert location == str(site / "asgiref" / module / "__init__.py"), (module, location)
        assert not (site / "asgiref" / f"{module}.py").exists(), f"upstream {module}.py survived"
    check = venv.run(
        "import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'check']))"
    )
    assert check.returncode == 0, check.stdout + check.stderr
