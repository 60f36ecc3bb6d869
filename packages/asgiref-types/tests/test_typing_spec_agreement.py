"""The validator tables and the TypedDicts describe the same specification.

For every scope and message, the keys and which of them are required must be
identical in ``asgiref.typing.validate._spec`` and in ``asgiref.typing``; the
send and receive unions must hold exactly the table's send and receive types.
"""

from __future__ import annotations

import sys
import typing
from typing import Any, Literal, get_args, get_origin

import pytest

if sys.version_info >= (3, 11):
    from typing import get_type_hints
else:  # typing's version keeps typing_extensions' NotRequired[...] wrapped around the hint
    from typing_extensions import get_type_hints

import asgiref.typing as types_module
from asgiref.typing.validate._rules import Shape
from asgiref.typing.validate._spec import ASGI_VERSIONS, EXTENSIONS, MESSAGES, SCOPES, TLS


def _members(alias: Any) -> list[Any]:
    """The TypedDicts behind a TypedDict or a union of them."""
    if get_origin(alias) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [member for arg in get_args(alias) for member in _members(arg)]
    return [alias]


def _literal_type(typed_dict: Any) -> str:
    hint = typing.get_type_hints(typed_dict)["type"]
    assert get_origin(hint) is Literal
    (value,) = get_args(hint)
    return str(value)


def _keys(members: list[Any]) -> tuple[set[str], set[str]]:
    """All keys of a union of TypedDicts, and the keys every member requires."""
    keys: set[str] = set()
    required: set[str] | None = None
    for member in members:
        keys |= set(member.__required_keys__) | set(member.__optional_keys__)
        own = set(member.__required_keys__)
        required = own if required is None else required & own
    return keys, required or set()


def _table_keys(shape: Shape) -> tuple[set[str], set[str]]:
    return set(shape.fields), {key for key, field in shape.fields.items() if field.required}


MESSAGE_TYPEDDICTS = [
    member
    for alias in (types_module.ASGISendEvent, types_module.ASGIReceiveEvent)
    for member in _members(alias)
]


def _by_type(kind: str) -> list[Any]:
    return [member for member in MESSAGE_TYPEDDICTS if _literal_type(member) == kind]


def test_send_union_is_exactly_the_send_messages() -> None:
    union = {_literal_type(member) for member in _members(types_module.ASGISendEvent)}
    assert union == {kind for kind, spec in MESSAGES.items() if spec.direction == "send"}


def test_receive_union_is_exactly_the_receive_messages() -> None:
    union = {_literal_type(member) for member in _members(types_module.ASGIReceiveEvent)}
    assert union == {kind for kind, spec in MESSAGES.items() if spec.direction == "receive"}
    assert "http.disconnect" in union


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_message_keys_agree(kind: str) -> None:
    members = _by_type(kind)
    assert members, f"no TypedDict for {kind}"
    assert _keys(members) == _table_keys(MESSAGES[kind].shape)


@pytest.mark.parametrize(
    ("typed_dict", "shape"),
    [
        (types_module.HTTPScope, SCOPES["http"]),
        (types_module.WebSocketScope, SCOPES["websocket"]),
        (types_module.LifespanScope, SCOPES["lifespan"]),
        (types_module.ASGIVersions, ASGI_VERSIONS),
        (types_module.TLSExtension, TLS),
        (types_module.ScopeExtensions, EXTENSIONS),
    ],
    ids=lambda value: getattr(value, "__name__", "shape"),
)
def test_scope_keys_agree(typed_dict: Any, shape: Shape) -> None:
    assert _keys([typed_dict]) == _table_keys(shape)


def _accepts_none(hint: Any) -> bool:
    return hint is type(None) or type(None) in get_args(hint)


SHAPED_TYPEDDICTS = [
    (types_module.HTTPScope, SCOPES["http"]),
    (types_module.WebSocketScope, SCOPES["websocket"]),
    (types_module.LifespanScope, SCOPES["lifespan"]),
    (types_module.ASGIVersions, ASGI_VERSIONS),
    (types_module.TLSExtension, TLS),
    *((member, MESSAGES[_literal_type(member)].shape) for member in MESSAGE_TYPEDDICTS),
]


@pytest.mark.parametrize(
    ("typed_dict", "shape"),
    SHAPED_TYPEDDICTS,
    ids=lambda value: getattr(value, "__name__", "shape"),
)
def test_none_is_allowed_in_the_same_places(typed_dict: Any, shape: Shape) -> None:
    hints = get_type_hints(typed_dict)
    typed = {key for key, hint in hints.items() if _accepts_none(hint)}
    tabled = {key for key, field in shape.fields.items() if field.rule.find(None) is None}
    assert typed == tabled


def test_extension_names_agree() -> None:
    assert set(get_args(types_module.ExtensionName)) == set(EXTENSIONS.fields)
    needed = {spec.extension for spec in MESSAGES.values() if spec.extension}
    assert needed <= set(EXTENSIONS.fields)


def test_every_scope_type_is_in_the_scope_union() -> None:
    kinds = {_literal_type(member) for member in _members(types_module.Scope)}
    assert kinds == set(SCOPES)
