"""Small applications as tutorials and framework internals write them."""

from __future__ import annotations

import json

from asgiref.typing import (
    ASGI2Application,
    ASGI3Application,
    ASGIApplication,
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPScope,
    Scope,
)


async def hello(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    assert scope["type"] == "http"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"Hello, world!"})


async def stream(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for chunk in (b"a", b"b", b"c"):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body"})


async def json_echo(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] != "http.request":
            return
        body += message.get("body", b"")
        more_body = message.get("more_body", False)
    payload = {
        "method": scope["method"],
        "path": scope["path"],
        "echo": json.loads(body or b"null"),
    }
    encoded = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(encoded)).encode()),
            ],
            "trailers": False,
        }
    )
    await send({"type": "http.response.body", "body": encoded, "more_body": False})


class LegacyApp:
    """An ASGI 2 application: instantiated with the scope, then awaited."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": [], "trailers": False})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def url_of(scope: HTTPScope) -> str:
    host = dict(scope["headers"]).get(b"host", b"localhost").decode("latin-1")
    query = scope["query_string"].decode("latin-1")
    return f"http://{host}{scope['path']}" + (f"?{query}" if query else "")


legacy: ASGI2Application = LegacyApp
modern: ASGI3Application = hello
routes: dict[str, ASGIApplication] = {
    "/": hello,
    "/stream": stream,
    "/json": json_echo,
    "/old": LegacyApp,
}
