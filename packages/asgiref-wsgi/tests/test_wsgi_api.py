"""The public names of asgiref.wsgi present themselves as upstream's do."""

from __future__ import annotations

import pickle

import pytest

import asgiref.wsgi
from asgiref.wsgi import ClientDisconnected, WsgiToAsgi

OURS = [
    name
    for name in asgiref.wsgi.__all__
    if getattr(getattr(asgiref.wsgi, name), "__module__", "").startswith("asgiref.wsgi")
]


def test_every_exported_class_is_ours() -> None:
    assert {"WsgiToAsgi", "WsgiToAsgiInstance", "FileWrapper"} <= set(OURS)


@pytest.mark.parametrize("name", OURS)
def test_exported_names_report_the_public_module(name: str) -> None:
    public = getattr(asgiref.wsgi, name)
    assert public.__module__ == "asgiref.wsgi"
    assert f"asgiref.wsgi.{name}" in repr(public)


def test_exceptions_and_adapters_pickle_by_their_public_name() -> None:
    assert b"asgiref.wsgi\n" in pickle.dumps(ClientDisconnected, protocol=0)
    error = pickle.loads(pickle.dumps(ClientDisconnected("gone")))
    assert isinstance(error, ClientDisconnected)
    assert pickle.loads(pickle.dumps(WsgiToAsgi)) is WsgiToAsgi
