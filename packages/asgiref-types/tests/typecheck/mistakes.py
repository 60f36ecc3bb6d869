"""Deliberate mistakes: every line marked expect-error must be reported, and no other.

Lines marked ``expect-error`` must fail in both checkers, those marked
``expect-error[pyright]`` in pyright only: the precise ``extensions`` type is
pyright's alone.
"""

from __future__ import annotations

from asgiref.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPRequestEvent,
    HTTPScope,
    ScopeExtensions,
    StrictWebSocketReceiveEvent,
    StrictWebSocketSendEvent,
    TLSExtension,
    WebSocketSendEvent,
)


async def wrong_keys(send: ASGISendCallable) -> None:
    await send({"type": "http.response.start", "status": 200, "header": []})  # expect-error
    await send({"type": "http.response.body", "bodyy": b""})  # expect-error
    await send({"type": "http.response.strat", "status": 200})  # expect-error


async def wrong_value_types(send: ASGISendCallable) -> None:
    await send({"type": "http.response.start", "status": "200"})  # expect-error
    await send({"type": "http.response.body", "body": "text"})  # expect-error
    strs = [("content-type", "text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": strs})  # expect-error
    await send({"type": "websocket.close", "code": "1000"})  # expect-error
    await send({"type": "http.response.early_hint", "links": ["</a>"]})  # expect-error


async def missing_required(send: ASGISendCallable) -> None:
    await send({"type": "http.response.start"})  # expect-error
    await send({"type": "http.response.pathsend"})  # expect-error
    await send({"type": "http.response.trailers"})  # expect-error


async def receive_only_sent(send: ASGISendCallable) -> None:
    await send({"type": "http.request", "body": b""})  # expect-error
    await send({"type": "http.disconnect"})  # expect-error
    await send({"type": "websocket.receive", "text": "hi"})  # expect-error
    await send({"type": "lifespan.startup"})  # expect-error


def send_only_received(message: HTTPRequestEvent) -> None:
    forged: HTTPRequestEvent = {"type": "http.response.body"}  # expect-error
    print(forged, message)


async def websocket_frames(send: ASGISendCallable) -> None:
    await send({"type": "websocket.send", "text": b"bytes"})  # expect-error
    await send(WebSocketSendEvent(type="websocket.send", bytes="text"))  # expect-error
    await send({"type": "websocket.send", "text": "hi", "code": 1000})  # expect-error
    ok: WebSocketSendEvent = {"type": "websocket.send", "text": "fine"}
    await send(ok)


def strict_frames() -> None:
    kind = "websocket.send"
    neither: StrictWebSocketSendEvent = {"type": kind}  # expect-error
    nones: StrictWebSocketSendEvent = {"type": kind, "bytes": None, "text": None}  # expect-error
    both: StrictWebSocketSendEvent = {"type": kind, "bytes": b"x", "text": "x"}  # expect-error
    empty: StrictWebSocketReceiveEvent = {"type": "websocket.receive", "text": None}  # expect-error
    print(neither, nones, both, empty)


async def read_without_narrowing(receive: ASGIReceiveCallable) -> bytes:
    message = await receive()
    return message["body"]  # expect-error


def scope_mistakes(scope: HTTPScope) -> None:
    scope["method"] = b"GET"  # expect-error
    version: int = scope["http_version"]  # expect-error
    print(scope["extensions"]["tls"])  # expect-error
    tls: TLSExtension = {"server_cert": None, "tls_version": None}  # expect-error
    print(version, tls)


def extension_mistakes(scope: HTTPScope) -> None:
    wrong_tls: ScopeExtensions = {"tls": {"server_cert": 1}}  # expect-error[pyright]
    marker: ScopeExtensions = {"http.response.push": None}  # expect-error[pyright]
    unknown: ScopeExtensions = {"fullflush": "yes"}  # expect-error[pyright]
    known = (scope.get("extensions") or {}).get("tls")
    suite: str = known["cipher_suite"] if known else ""  # expect-error[pyright]
    print(wrong_tls, marker, unknown, suite)


def not_an_app() -> None:
    from asgiref.typing import ASGI3Application

    async def wrong(scope: HTTPScope) -> None:
        print(scope)

    app: ASGI3Application = wrong  # expect-error
    print(app)
