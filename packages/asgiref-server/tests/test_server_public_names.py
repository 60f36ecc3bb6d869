"""Every name asgiref.server exports reports that module, as upstream's do."""

from __future__ import annotations

import pickle
import pydoc

import pytest

import asgiref.server

EXPORTED = sorted(asgiref.server.__all__)


@pytest.mark.parametrize("name", EXPORTED)
def test_exported_name_reports_the_public_module(name: str) -> None:
    exported = getattr(asgiref.server, name)
    assert exported.__module__ == "asgiref.server"
    assert pydoc.locate(f"asgiref.server.{name}") is exported
    assert pickle.loads(pickle.dumps(exported)) is exported
