"""Deliberate mistakes: every line marked expect-error must be reported, and no other."""

from __future__ import annotations

from asgiref.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPRequestEvent,
    HTTPScope,
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
    await send({"type": "websocket.send"})  # expect-error
    await send({"type": "websocket.send", "bytes": None, "text": None})  # expect-error
    await send({"type": "websocket.send", "bytes": b"x", "text": "x"})  # expect-error
    ok: WebSocketSendEvent = {"type": "websocket.send", "text": "fine"}
    await send(ok)


async def read_without_narrowing(receive: ASGIReceiveCallable) -> bytes:
    message = await receive()
    return message["body"]  # expect-error


def scope_mistakes(scope: HTTPScope) -> None:
    scope["method"] = b"GET"  # expect-error
    version: int = scope["http_version"]  # expect-error
    extensions = scope.get("extensions", {})
    extensions["http.response.pushh"] = {}  # expect-error
    tls: TLSExtension = {"server_cert": None, "tls_version": None}  # expect-error
    print(version, tls)


def not_an_app() -> None:
    from asgiref.typing import ASGI3Application

    async def wrong(scope: HTTPScope) -> None:
        print(scope)

    app: ASGI3Application = wrong  # expect-error
    print(app)
