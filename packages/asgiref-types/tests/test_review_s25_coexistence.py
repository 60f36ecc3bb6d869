"""Review of the asgire naming in MixedInstallWarning: both asgire and upstream installed.

pip lets both distributions list the same ``asgiref/__init__.py`` in their
RECORD; the one installed last wrote the file. Stand-in installs, as pip lays
them out, with the recorded hashes pip writes.
"""

from __future__ import annotations

import base64
import hashlib
import types
from pathlib import Path

import pytest

from asgiref.coexistence import MixedInstallWarning, warn_if_mixed

_ASGIRE_INIT = '"""asgire: the fork."""\n__version__ = "3.13.0"\n'
_UPSTREAM_INIT = '__version__ = "3.11.0"\n'


def _record_line(relative: str, content: str) -> str:
    digest = hashlib.sha256(content.encode()).digest()
    encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{relative},sha256={encoded},{len(content.encode())}"


def _install(site: Path, name: str, version: str, init_content: str) -> None:
    """Write ``name``'s .dist-info recording asgiref/__init__.py with ``init_content``'s hash."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    recorded = _record_line("asgiref/__init__.py", init_content)
    (info / "RECORD").write_text(f"{recorded}\n{info.name}/RECORD,,\n")


def _loaded(init: Path, version: str) -> types.ModuleType:
    module = types.ModuleType("asgiref")
    module.__version__ = version  # type: ignore[attr-defined]
    module.__file__ = str(init)
    return module


def _message(site: Path, init_content: str, version: str) -> str:
    init = site / "asgiref" / "__init__.py"
    init.parent.mkdir(parents=True)
    init.write_text(init_content)
    with pytest.warns(MixedInstallWarning) as record:
        warn_if_mixed(_loaded(init, version))
    return str(record[0].message)


@pytest.mark.parametrize(
    ("installed_last", "expected"),
    [
        # pip install asgire; pip install asgiref==3.11.0: upstream's file is on
        # disk, though asgire's RECORD still lists the same path.
        ("asgiref", "asgiref 3.11.0 (upstream's asgiref/__init__.py)"),
        ("asgire", "asgire 3.13.0 (asgire's asgiref/__init__.py)"),
    ],
)
def test_the_distribution_that_wrote_the_file_last_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installed_last: str, expected: str
) -> None:
    installs = {"asgire": ("3.13.0", _ASGIRE_INIT), "asgiref": ("3.11.0", _UPSTREAM_INIT)}
    for name in sorted(installs, key=lambda name: name == installed_last):
        _install(tmp_path, name, *installs[name])
    monkeypatch.syspath_prepend(str(tmp_path))
    version, content = installs[installed_last]
    message = _message(tmp_path, content, version)
    assert expected in message, message
