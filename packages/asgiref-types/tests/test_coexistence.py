"""asgiref.coexistence: telling upstream's ``asgiref/__init__.py`` from this release's.

Here with stand-in ``asgiref`` modules; the real case, upstream installed over
this release in a fresh virtual environment, is tests/test_coexistence.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
import warnings
from importlib.metadata import version
from pathlib import Path

import pytest

import asgiref
from asgiref import coexistence
from asgiref.coexistence import MixedInstallWarning, repair_command, upstream_version, warn_if_mixed
from monorepo_testing import fresh_python_output


def _stand_in(**attributes: object) -> types.ModuleType:
    module = types.ModuleType("asgiref")
    for name, value in attributes.items():
        setattr(module, name, value)
    return module


UPSTREAM = _stand_in(__version__="3.8.1")


def test_this_checkouts_metapackage_is_not_taken_for_upstream() -> None:
    assert upstream_version(asgiref) is None


def test_the_bare_namespace_of_the_splits_is_not_taken_for_upstream() -> None:
    assert upstream_version(_stand_in()) is None


def test_upstream_is_a_version_without_the_marker() -> None:
    assert upstream_version(UPSTREAM) == "3.8.1"
    ours = _stand_in(__version__="3.13.0.post1", mixed_install_check=True)
    assert upstream_version(ours) is None
    # Where the check has run, the name is bound to the asgiref.mixed_install_check module.
    assert upstream_version(_stand_in(__version__="3.8.1", mixed_install_check=types)) == "3.8.1"


def test_the_warning_names_both_versions_and_the_repair() -> None:
    release = version("asgiref-types")
    with pytest.warns(MixedInstallWarning) as record:
        warn_if_mixed(UPSTREAM)
    assert len(record) == 1
    message = str(record[0].message)
    assert "asgiref 3.8.1" in message
    assert f"asgiref {release}" in message
    assert repair_command(release) in message
    assert repair_command(release) == f'python -m pip install "asgiref=={release}"'
    # stacklevel 1 is the caller, as for warnings.warn.
    assert record[0].filename == __file__


def test_no_warning_without_upstream() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_mixed(asgiref)
        warn_if_mixed(_stand_in())


def test_a_class_of_its_own() -> None:
    assert issubclass(MixedInstallWarning, RuntimeWarning)
    assert MixedInstallWarning is not RuntimeWarning


def test_without_distribution_metadata_it_still_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    # A zipapp or frozen binary may carry the code without its .dist-info.
    monkeypatch.setattr(coexistence, "_DISTRIBUTION", "asgiref-types-not-installed")
    with pytest.warns(MixedInstallWarning, match=r"asgiref 3\.8\.1"):
        warn_if_mixed(UPSTREAM)


_AS_IF_UPSTREAM = """
    import sys, types, warnings
    import asgiref
    # Upstream's __init__.py in place of ours: a version, no marker, the same directories.
    upstream = types.ModuleType("asgiref")
    upstream.__path__ = list(asgiref.__path__)
    upstream.__version__ = "3.8.1"
    sys.modules["asgiref"] = upstream
"""


def test_a_filter_set_before_the_first_import_applies() -> None:
    # Importing the class checks nothing; the first module of ours does.
    out = fresh_python_output(
        textwrap.dedent(_AS_IF_UPSTREAM)
        + textwrap.dedent("""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from asgiref.coexistence import MixedInstallWarning
        print(len(caught))
        warnings.simplefilter("error", MixedInstallWarning)
        try:
            import asgiref.local
        except MixedInstallWarning as escalated:
            print("raised", "3.8.1" in str(escalated))
        """)
    )
    assert out == ["0", "raised True"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("action", "outcome"), [("error", "1 failed"), ("ignore", "1 passed")])
def test_pytest_can_name_the_warning(tmp_path: Path, action: str, outcome: str) -> None:
    # The README's pytest filter (pytest resolves the category after start-up,
    # unlike python -W). Stand-in for upstream's asgiref, as above.
    (tmp_path / "test_program.py").write_text(
        "def test_import():\n"
        + textwrap.indent(textwrap.dedent(_AS_IF_UPSTREAM), "    ")
        + "    import asgiref.local\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-W",
            f"{action}::asgiref.coexistence.MixedInstallWarning",
            "test_program.py",
        ],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        cwd=tmp_path,
    )
    assert outcome in proc.stdout, proc.stdout + proc.stderr
    if action == "error":
        assert "MixedInstallWarning: asgiref 3.8.1" in proc.stdout
    else:
        assert "warning" not in proc.stdout.lower()


_NEW_MODULES = """
    import sys
    before = set(sys.modules) - {"asgiref"}
    import asgiref.typing
    print(sorted(set(sys.modules) - before))
"""


def test_with_the_metapackage_the_check_imports_nothing() -> None:
    # This checkout's asgiref/__init__.py binds the name the modules import.
    assert fresh_python_output(_NEW_MODULES) == [str(["asgiref", "asgiref.typing"])]


def test_without_it_the_check_imports_its_two_modules() -> None:
    # A stand-in for the bare namespace package of the splits alone.
    bare_namespace = """
        import sys, types, asgiref
        bare = types.ModuleType("asgiref")
        bare.__path__ = list(asgiref.__path__)
        sys.modules["asgiref"] = bare
    """
    out = fresh_python_output(textwrap.dedent(bare_namespace) + textwrap.dedent(_NEW_MODULES))
    assert out == [
        str(["asgiref", "asgiref.coexistence", "asgiref.mixed_install_check", "asgiref.typing"])
    ]


def _site_with_asgire(site: Path, records_init: bool = True) -> Path:
    """A directory laid out as pip leaves the asgire fork 3.13.0 installed:
    its ``asgiref/__init__.py`` and a .dist-info whose RECORD lists it (or not)."""
    init = site / "asgiref" / "__init__.py"
    init.parent.mkdir(parents=True)
    init.write_text('__version__ = "3.13.0"\n')
    info = site / "asgire-3.13.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: asgire\nVersion: 3.13.0\n")
    recorded = ["asgiref/__init__.py,,"] if records_init else ["asgiref/sync.py,,"]
    (info / "RECORD").write_text("\n".join([*recorded, "asgire-3.13.0.dist-info/RECORD,,", ""]))
    return init


def test_the_asgire_fork_is_named_with_a_repair_that_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # asgire installed last: its asgiref/__init__.py (no marker, version 3.13.0)
    # is the one loaded. Reinstalling asgiref alone would leave asgire in place.
    init = _site_with_asgire(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    release = version("asgiref-types")
    with pytest.warns(MixedInstallWarning) as record:
        warn_if_mixed(_stand_in(__version__="3.13.0", __file__=str(init)))
    message = str(record[0].message)
    assert "asgire 3.13.0" in message
    assert "upstream" not in message
    repair = repair_command(release, fork="asgire")
    assert repair in message
    assert repair == (
        "python -m pip uninstall -y asgire && "
        f'python -m pip install --force-reinstall "asgiref=={release}"'
    )


def test_an_asgiref_init_that_asgire_did_not_install_is_upstreams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # asgire installed but upstream's __init__.py loaded (upstream installed last):
    # only the file's owner decides.
    _site_with_asgire(tmp_path, records_init=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    upstream_init = tmp_path / "elsewhere" / "asgiref" / "__init__.py"
    with pytest.warns(MixedInstallWarning) as record:
        warn_if_mixed(_stand_in(__version__="3.13.0", __file__=str(upstream_init)))
    message = str(record[0].message)
    assert "upstream's asgiref/__init__.py" in message
    assert "asgire" not in message.replace("asgiref", "")
