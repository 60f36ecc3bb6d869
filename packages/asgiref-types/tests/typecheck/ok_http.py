"""A plain HTTP application, typed the way a framework author would write it."""

from __future__ import annotations

from asgiref.typing import (
    ASGI3Application,
    ASGIApplication,
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Scope,
)


async def read_body(receive: ASGIReceiveCallable) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        if message["type"] != "http.request":
            raise RuntimeError(f"unexpected {message['type']}")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def describe(scope: HTTPScope) -> str:
    client = scope.get("client")
    who = f"{client[0]}:{client[1]}" if client else "unknown"
    root = scope.get("root_path", "")
    return f"{scope['method']} {root}{scope['path']}?{scope['query_string'].decode()} from {who}"


async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] != "http":
        raise NotImplementedError(scope["type"])
    body = await read_body(receive)
    headers = [(name, value) for name, value in scope["headers"] if name == b"accept"]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": describe(scope).encode() + body})


async def minimal(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    # Every optional key really is optional.
    await send({"type": "http.response.start", "status": 204})
    await send({"type": "http.response.body"})


def constructed() -> tuple[HTTPRequestEvent, HTTPResponseStartEvent, HTTPResponseBodyEvent]:
    # A server-side view: the messages as values of their own types.
    return (
        {"type": "http.request"},
        HTTPResponseStartEvent(type="http.response.start", status=404, headers=[]),
        {"type": "http.response.body", "body": b"gone", "more_body": False},
    )


def a_scope() -> HTTPScope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [],
    }


single: ASGI3Application = app
either: ASGIApplication = minimal


def checked_app() -> ASGI3Application:
    # The runtime validators are typed too: they return what they checked.
    from asgiref.typing.validate import validate_scope, validating

    scope = validate_scope(a_scope())
    assert scope["type"] == "http"
    return validating(app)
