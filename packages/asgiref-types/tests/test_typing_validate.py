"""The runtime validators accept what the spec allows and name what it forbids."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from typing import IO, Any

import pytest

from asgiref.typing.validate import (
    ASGIValidationError,
    validate_receive_event,
    validate_scope,
    validate_send_event,
    validating,
)
from asgiref.typing.validate._spec import MESSAGES

ALL_EXTENSIONS: dict[str, Any] = {
    "websocket.http.response": {},
    "http.response.push": {},
    "http.response.zerocopysend": {},
    "http.response.pathsend": {},
    "http.response.early_hint": {},
    "http.response.trailers": {},
    "http.response.debug": {},
    "tls": {"server_cert": None, "tls_version": 0x0304, "cipher_suite": 0x1301},
}


def http_scope(**changes: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.5"},
        "http_version": "1.1",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [(b"host", b"example.org")],
        "extensions": ALL_EXTENSIONS,
    }
    scope.update(changes)
    return scope


def ws_scope(**changes: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.5"},
        "path": "/ws",
        "headers": [],
        "extensions": ALL_EXTENSIONS,
    }
    scope.update(changes)
    return scope


LIFESPAN_SCOPE: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}


def scope_for(message_type: str) -> dict[str, Any]:
    protocol = MESSAGES[message_type].protocol
    return {"http": http_scope(), "websocket": ws_scope(), "lifespan": LIFESPAN_SCOPE}[protocol]


@pytest.fixture(scope="module")
def real_file() -> Iterator[IO[bytes]]:
    with tempfile.TemporaryFile() as handle:
        handle.write(b"0123456789")
        handle.seek(0)
        yield handle


# --------------------------------------------------------------------------
# Scopes

VALID_SCOPES: list[dict[str, Any]] = [
    http_scope(),
    http_scope(extensions={}, asgi={"version": "2.0"}),
    {k: v for k, v in http_scope().items() if k != "extensions"},
    http_scope(
        scheme="https",
        raw_path=b"/%2F",
        root_path="/app",
        client=["10.0.0.1", 5000],
        server=("/run/app.sock", None),
        state={"pool": object()},
        http_version="2",
        method="PATCH",
        headers=[[b"X-Mixed-Case", b"allowed on requests"]],
        extensions={**ALL_EXTENSIONS, "custom.server.feature": {"level": 3}},
    ),
    http_scope(raw_path=None, client=None, server=None),
    ws_scope(),
    ws_scope(
        http_version="2",
        scheme="wss",
        query_string=None,
        subprotocols=["chat", "superchat"],
        client=("::1", 1),
        state={},
    ),
    dict(LIFESPAN_SCOPE),
    {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}},
]


@pytest.mark.parametrize("scope", VALID_SCOPES)
def test_valid_scopes_pass(scope: dict[str, Any]) -> None:
    assert validate_scope(scope) is scope


INVALID_SCOPES: list[tuple[object, str | None, str]] = [
    ([("type", "http")], None, "a scope must be a dict"),
    ({"type": "tcp"}, "type", "must be one of 'http', 'websocket', 'lifespan'"),
    ({k: v for k, v in http_scope().items() if k != "method"}, "method", "is required"),
    (http_scope(method="get"), "method", "must be upper-case"),
    (http_scope(http_version="1.2"), "http_version", "must be one of"),
    (http_scope(asgi={"version": "1.0"}), "asgi", "must be one of '2.0', '3.0'"),
    (http_scope(asgi={"spec_version": "2.5"}), "asgi", "is required"),
    (http_scope(scheme=""), "scheme", "must not be empty"),
    (http_scope(path=b"/"), "path", "must be a Unicode string"),
    (http_scope(query_string="a=b"), "query_string", "must be a byte string"),
    (http_scope(raw_path="/"), "raw_path", "must be a byte string or None"),
    (http_scope(root_path=None), "root_path", "must be a Unicode string"),
    (http_scope(headers=[("host", "x")]), "headers", "must be a byte string"),
    (http_scope(headers=[(b":authority", b"x")]), "headers", "pseudo header"),
    (http_scope(headers=[(b"a", b"b", b"c")]), "headers", "two-item"),
    (http_scope(headers=b"host: x"), "headers", "must be an iterable"),
    (http_scope(client=["1.2.3.4"]), "client", "two-item [host, port]"),
    (http_scope(client=["1.2.3.4", None]), "client", "must be a port number"),
    (http_scope(server=[b"host", 80]), "server", "must be a Unicode string"),
    (http_scope(state=[]), "state", "must be a dict"),
    (http_scope(extensions={"http.response.push": None}), "extensions", "must be a dict"),
    (http_scope(extensions={"mine": True}), "extensions", "must be a dict"),
    (
        http_scope(extensions={"tls": {"server_cert": None, "tls_version": 771}}),
        "extensions",
        "is required",
    ),
    (
        http_scope(
            extensions={"tls": {"server_cert": 1, "tls_version": None, "cipher_suite": None}}
        ),
        "extensions",
        "must be a Unicode string or None",
    ),
    (ws_scope(subprotocols="chat"), "subprotocols", "must be an iterable"),
    (ws_scope(http_version="1.0"), "http_version", "must be one of"),
    (ws_scope(query_string="x"), "query_string", "byte string or None"),
    ({"type": "lifespan"}, "asgi", "is required"),
    ({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {1: 2}}, "state", "Unicode"),
]


@pytest.mark.parametrize(("scope", "key", "rule"), INVALID_SCOPES)
def test_invalid_scopes_name_key_and_rule(scope: object, key: str | None, rule: str) -> None:
    with pytest.raises(ASGIValidationError) as caught:
        validate_scope(scope)
    assert caught.value.key == key
    assert rule in str(caught.value)
    if key is not None:
        assert f"scope[{key!r}]" in str(caught.value)


def test_error_is_a_value_error_with_a_path() -> None:
    with pytest.raises(ValueError, match=r"scope\['headers'\]\[1\]\[0\]") as caught:
        validate_scope(http_scope(headers=[(b"a", b"1"), ("b", b"2")]))
    assert isinstance(caught.value, ASGIValidationError)
    assert caught.value.path == ("headers", 1, 0)
    assert caught.value.subject == "http scope"
    assert caught.value.rule.startswith("must be a byte string")


# --------------------------------------------------------------------------
# Messages: one or more valid and invalid examples of every message type.

VALID_MESSAGES: list[dict[str, Any]] = [
    {"type": "http.request"},
    {"type": "http.request", "body": b"abc", "more_body": True, "extra": "ignored"},
    {"type": "http.disconnect"},
    {"type": "http.response.start", "status": 200},
    {"type": "http.response.start", "status": 599, "headers": [[b"a", b"b"]], "trailers": True},
    {"type": "http.response.body"},
    {"type": "http.response.body", "body": b"x", "more_body": False},
    {"type": "http.response.trailers", "headers": [(b"x-digest", b"abc")]},
    {"type": "http.response.trailers", "headers": (), "more_trailers": True},
    {"type": "http.response.push", "path": "/style.css", "headers": []},
    {"type": "http.response.zerocopysend", "file": "REAL_FILE"},
    {"type": "http.response.zerocopysend", "file": "REAL_FILE", "offset": 2, "count": 3},
    {"type": "http.response.pathsend", "path": os.path.abspath(__file__)},
    {"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]},
    {"type": "http.response.debug", "info": {"template": "t.html", "context": {}}},
    {"type": "websocket.connect"},
    {"type": "websocket.accept"},
    {"type": "websocket.accept", "subprotocol": None, "headers": [(b"x-a", b"1")]},
    {"type": "websocket.receive", "text": "hi"},
    {"type": "websocket.receive", "bytes": b"hi", "text": None},
    {"type": "websocket.send", "bytes": b""},
    {"type": "websocket.send", "bytes": None, "text": ""},
    {"type": "websocket.disconnect", "code": 1005},
    {"type": "websocket.disconnect", "code": 1000, "reason": None},
    {"type": "websocket.close"},
    {"type": "websocket.close", "code": 4000, "reason": "bye"},
    {"type": "websocket.http.response.start", "status": 403},
    {"type": "websocket.http.response.start", "status": 401, "headers": [(b"a", b"b")]},
    {"type": "websocket.http.response.body", "body": b"no", "more_body": False},
    {"type": "lifespan.startup"},
    {"type": "lifespan.startup.complete"},
    {"type": "lifespan.startup.failed"},
    {"type": "lifespan.startup.failed", "message": "database down"},
    {"type": "lifespan.shutdown"},
    {"type": "lifespan.shutdown.complete"},
    {"type": "lifespan.shutdown.failed", "message": ""},
]


def bad(
    message: dict[str, Any], key: str, rule: str, kind: str | None = None
) -> tuple[str, dict[str, Any], str, str]:
    """An invalid example; ``kind`` names the message type whose ``type`` it corrupts."""
    return (kind or str(message["type"]), message, key, rule)


INVALID_MESSAGES: list[tuple[str, dict[str, Any], str, str]] = [
    bad({"type": "http.request", "body": "text"}, "body", "must be a byte string"),
    bad({"type": "http.request", "more_body": 1}, "more_body", "must be a bool"),
    bad({"type": 5}, "type", kind="http.disconnect", rule="message type"),
    bad({"type": "http.response.start"}, "status", "is required"),
    bad({"type": "http.response.start", "status": "200"}, "status", "HTTP status code"),
    bad({"type": "http.response.start", "status": True}, "status", "HTTP status code"),
    bad({"type": "http.response.start", "status": 99}, "status", "from 100 to 599"),
    bad(
        {"type": "http.response.start", "status": 200, "headers": [(b"A", b"b")]},
        "headers",
        "lower-case",
    ),
    bad({"type": "http.response.start", "status": 200, "trailers": "yes"}, "trailers", "bool"),
    bad({"type": "http.response.body", "body": bytearray(b"x")}, "body", "byte string"),
    bad({"type": "http.response.trailers"}, "headers", "is required"),
    bad(
        {"type": "http.response.trailers", "headers": [], "more_trailers": None},
        "more_trailers",
        "bool",
    ),
    bad(
        {"type": "http.response.push", "path": "/", "headers": [(b":path", b"/")]},
        "headers",
        "pseudo",
    ),
    bad({"type": "http.response.push", "headers": []}, "path", "is required"),
    bad(
        {"type": "http.response.zerocopysend", "file": io.BytesIO(b"x")}, "file", "fileno() failed"
    ),
    bad({"type": "http.response.zerocopysend", "file": b"data"}, "file", "fileno() method"),
    bad(
        {"type": "http.response.zerocopysend", "file": "REAL_FILE", "offset": -1}, "offset", ">= 0"
    ),
    bad({"type": "http.response.pathsend", "path": "relative/file.txt"}, "path", "absolute"),
    bad({"type": "http.response.pathsend"}, "path", "is required"),
    bad({"type": "http.response.early_hint", "links": ["</a>"]}, "links", "must be a byte string"),
    bad(
        {"type": "http.response.early_hint", "links": b"</a>"}, "links", "iterable of byte strings"
    ),
    bad({"type": "http.response.debug", "info": "x"}, "info", "must be a dict"),
    bad(
        {"type": "websocket.connected"}, "type", kind="websocket.connect", rule="not a message type"
    ),
    bad({"type": "websocket.accept", "subprotocol": 1}, "subprotocol", "Unicode string or None"),
    bad(
        {"type": "websocket.accept", "headers": [(b"sec-websocket-protocol", b"chat")]},
        "headers",
        "is not allowed here",
    ),
    bad({"type": "websocket.receive"}, "", "exactly one of 'bytes' or 'text' must be non-None"),
    bad({"type": "websocket.receive", "bytes": "x"}, "bytes", "byte string or None"),
    bad({"type": "websocket.send", "bytes": b"a", "text": "a"}, "", "exactly one of"),
    bad({"type": "websocket.send", "bytes": None, "text": None}, "", "exactly one of"),
    bad({"type": "websocket.send", "text": b"x"}, "text", "Unicode string or None"),
    bad({"type": "websocket.disconnect"}, "code", "is required"),
    bad({"type": "websocket.disconnect", "code": 999}, "code", "WebSocket close code"),
    bad({"type": "websocket.disconnect", "code": 1000, "reason": 5}, "reason", "Unicode"),
    bad({"type": "websocket.close", "code": 5000}, "code", "from 1000 to 4999"),
    bad({"type": "websocket.close", "reason": b"bye"}, "reason", "Unicode string or None"),
    bad({"type": "websocket.http.response.start", "status": 1000}, "status", "HTTP status"),
    bad({"type": "websocket.http.response.body", "body": "x"}, "body", "byte string"),
    bad({"type": None}, "type", kind="lifespan.startup", rule="Unicode string message type"),
    bad({"type": ["x"]}, "type", kind="lifespan.startup.complete", rule="message type"),
    bad({"type": "lifespan.startup.failed", "message": None}, "message", "Unicode string"),
    bad({"type": "lifespan.shutdown.now"}, "type", kind="lifespan.shutdown", rule="not a message"),
    bad(
        {"type": "lifespan.shutdown.completed"},
        "type",
        kind="lifespan.shutdown.complete",
        rule="not",
    ),
    bad({"type": "lifespan.shutdown.failed", "message": 1}, "message", "Unicode string"),
]


def _materialise(message: dict[str, Any], handle: IO[bytes]) -> dict[str, Any]:
    return {k: handle if v == "REAL_FILE" else v for k, v in message.items()}


def _check(message: dict[str, Any], scope: dict[str, Any] | None) -> None:
    kind = message.get("type")
    spec = MESSAGES.get(kind) if isinstance(kind, str) else None
    if spec is not None and spec.direction == "receive":
        validate_receive_event(message, scope)
    else:
        validate_send_event(message, scope)


@pytest.mark.parametrize("message", VALID_MESSAGES, ids=lambda m: str(m["type"]))
@pytest.mark.parametrize("with_scope", [False, True])
def test_valid_messages_pass(
    message: dict[str, Any], with_scope: bool, real_file: IO[bytes]
) -> None:
    message = _materialise(message, real_file)
    _check(message, scope_for(message["type"]) if with_scope else None)


@pytest.mark.parametrize(("kind", "message", "key", "rule"), INVALID_MESSAGES)
def test_invalid_messages_name_key_and_rule(
    kind: str, message: dict[str, Any], key: str, rule: str, real_file: IO[bytes]
) -> None:
    message = _materialise(message, real_file)
    with pytest.raises(ASGIValidationError) as caught:
        _check(message, None)
    assert rule in str(caught.value)
    if key:
        assert caught.value.key == key
        assert f"message[{key!r}]" in str(caught.value)
    else:
        assert caught.value.key is None


def test_every_message_type_has_valid_and_invalid_examples() -> None:
    assert {m["type"] for m in VALID_MESSAGES} == set(MESSAGES)
    assert {kind for kind, _, _, _ in INVALID_MESSAGES} == set(MESSAGES)


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_each_declared_key_is_checked(kind: str, real_file: IO[bytes]) -> None:
    # Generic counterpart of the hand-written table: from a valid message of each
    # kind, corrupt every declared key in turn, and drop every required one.
    valid = _materialise(next(m for m in VALID_MESSAGES if m["type"] == kind), real_file)
    for key, field in MESSAGES[kind].shape.fields.items():
        if key == "type":
            continue
        with pytest.raises(ASGIValidationError) as caught:
            _check({**valid, key: object()}, None)
        assert caught.value.key == key, str(caught.value)
        if field.required:
            without = {k: v for k, v in valid.items() if k != key}
            with pytest.raises(ASGIValidationError, match=f"\\['{key}'\\] is required"):
                _check(without, None)


# --------------------------------------------------------------------------
# Rules that depend on the scope and on the direction.


def test_direction_is_enforced() -> None:
    with pytest.raises(ASGIValidationError, match="an application cannot send it") as caught:
        validate_send_event({"type": "http.request"})
    assert caught.value.key == "type"
    with pytest.raises(ASGIValidationError, match="a server never delivers it"):
        validate_receive_event({"type": "websocket.send", "text": "x"})


def test_message_must_belong_to_the_scope_protocol() -> None:
    with pytest.raises(
        ASGIValidationError, match="is a websocket message, not allowed in a 'http'"
    ):
        validate_send_event({"type": "websocket.accept"}, http_scope())
    with pytest.raises(ASGIValidationError, match="lifespan message"):
        validate_receive_event({"type": "lifespan.startup"}, ws_scope())


@pytest.mark.parametrize(
    "message",
    [
        {"type": "http.response.pathsend", "path": os.path.abspath(__file__)},
        {"type": "http.response.push", "path": "/", "headers": []},
        {"type": "http.response.early_hint", "links": []},
        {"type": "http.response.trailers", "headers": []},
        {"type": "http.response.debug", "info": {}},
        {"type": "websocket.http.response.start", "status": 403},
        {"type": "websocket.http.response.body"},
    ],
    ids=lambda m: str(m["type"]),
)
def test_extension_messages_need_the_extension_advertised(message: dict[str, Any]) -> None:
    bare = scope_for(message["type"]) | {"extensions": {}}
    with pytest.raises(ASGIValidationError, match="extension, which scope\\['extensions'\\]"):
        validate_send_event(message, bare)
    validate_send_event(message, scope_for(message["type"]))


def test_trailers_flag_needs_the_trailers_extension() -> None:
    start = {"type": "http.response.start", "status": 200, "trailers": True}
    with pytest.raises(ASGIValidationError, match=r"\['trailers'\] is True") as caught:
        validate_send_event(start, http_scope(extensions={}))
    assert caught.value.key == "trailers"
    validate_send_event({**start, "trailers": False}, http_scope(extensions={}))
    validate_send_event(start, http_scope())


@pytest.mark.parametrize(
    ("message", "since"),
    [
        ({"type": "websocket.accept", "headers": []}, "2.1"),
        ({"type": "websocket.close", "reason": "bye"}, "2.3"),
    ],
)
def test_keys_newer_than_the_declared_spec_version_are_rejected(
    message: dict[str, Any], since: str
) -> None:
    old = ws_scope(asgi={"version": "3.0"})  # no spec_version: the spec says assume 2.0
    with pytest.raises(ASGIValidationError, match=f"added in spec version {since}"):
        validate_send_event(message, old)
    validate_send_event(message, ws_scope(asgi={"version": "3.0", "spec_version": since}))
    validate_send_event(message, ws_scope(asgi={"version": "3.0", "spec_version": "2.10"}))


def test_newer_keys_from_a_server_are_harmless_extra_keys() -> None:
    # The core spec: extra keys in a received event must not raise.
    message = {"type": "websocket.disconnect", "code": 1000, "reason": ""}
    validate_receive_event(message, ws_scope(asgi={"version": "3.0", "spec_version": "2.4"}))
    validate_receive_event(message, ws_scope())


def test_one_shot_iterators_are_not_consumed() -> None:
    headers = iter([(b"a", b"b")])
    validate_send_event({"type": "http.response.start", "status": 200, "headers": headers})
    assert list(headers) == [(b"a", b"b")]


def test_extensions_may_be_none() -> None:
    # Servers send None for "no extensions"; upstream's types allow it.
    validate_scope(http_scope(extensions=None))
    validate_scope(ws_scope(extensions=None))
    message = {"type": "http.response.pathsend", "path": os.path.abspath(os.sep)}
    with pytest.raises(ASGIValidationError, match="does not advertise") as caught:
        validate_send_event(message, http_scope(extensions=None))
    assert caught.value.key == "type"


class _Pair:
    """A re-iterable two-item container that is neither a list nor a tuple."""

    def __init__(self, first: object, second: object) -> None:
        self._items = (first, second)

    def __iter__(self) -> Iterator[object]:
        return iter(self._items)


def test_header_pairs_and_addresses_may_be_any_two_item_iterable() -> None:
    # The spec: an iterable of [name, value] two-item iterables.
    headers = [(b"a", b"1"), [b"b", b"2"], deque([b"c", b"3"]), _Pair(b"d", b"4")]
    validate_scope(http_scope(headers=headers, client=_Pair("10.0.0.1", 80)))
    response = {"type": "http.response.start", "status": 200, "headers": [_Pair(b"x", b"y")]}
    validate_send_event(response, http_scope())
    with pytest.raises(ASGIValidationError, match="must be a byte string") as caught:
        validate_scope(http_scope(headers=[_Pair(b"a", "text")]))
    assert caught.value.path == ("headers", 0, 1)
    with pytest.raises(ASGIValidationError, match="two-item"):
        validate_scope(http_scope(headers=[_Pair(b"a", b"b"), deque([b"a"])]))
    with pytest.raises(ASGIValidationError, match="two-item"):
        validate_scope(http_scope(headers=[b"ab"]))


def test_a_one_shot_pair_is_not_consumed() -> None:
    pair = iter([b"a", b"b"])
    validate_scope(http_scope(headers=[pair]))
    assert list(pair) == [b"a", b"b"]


def test_not_a_dict_message() -> None:
    with pytest.raises(ASGIValidationError, match="a message must be a dict") as caught:
        validate_send_event([("type", "http.response.body")])
    assert caught.value.key is None


def test_validators_return_their_argument() -> None:
    message = {"type": "http.response.body"}
    assert validate_send_event(message) is message
    received = {"type": "http.disconnect"}
    assert validate_receive_event(received, http_scope()) is received


def test_validate_module_is_pure_python_and_self_contained() -> None:
    import asgiref.typing.validate as module

    assert module.__file__ is not None
    assert module.__file__.endswith(".py")
    assert "typing_extensions" not in {
        name for name in sys.modules if name.startswith("asgiref.typing.validate")
    }


# --------------------------------------------------------------------------
# The validating wrapper.


def _drive(app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]]) -> list[Any]:
    sent: list[Any] = []
    queue = list(incoming)

    async def receive() -> Any:
        return queue.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=10))
    return sent


@pytest.mark.timeout(30)
def test_validating_passes_a_correct_app_through() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = await receive()
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": request["body"]})

    sent = _drive(validating(app), http_scope(), [{"type": "http.request", "body": b"x"}])
    assert sent == [
        {"type": "http.response.start", "status": 200},
        {"type": "http.response.body", "body": b"x"},
    ]


@pytest.mark.timeout(30)
def test_validating_stops_a_wrong_send_before_the_server_sees_it() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [("a", "b")]})

    with pytest.raises(ASGIValidationError, match="headers") as caught:
        _drive(validating(app), http_scope(), [])
    assert caught.value.key == "headers"


@pytest.mark.timeout(30)
def test_validating_checks_the_scope_and_what_the_server_delivers() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()

    with pytest.raises(ASGIValidationError, match="method"):
        _drive(validating(app), http_scope(method="get"), [])
    with pytest.raises(ASGIValidationError, match="is a websocket message"):
        _drive(validating(app), http_scope(), [{"type": "websocket.connect"}])
