"""A streaming response that ends with trailers (extension http.response.trailers)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, HTTPResponseTrailersEvent, Scope


async def produce() -> AsyncIterator[bytes]:
    for part in (b"alpha", b"beta", b"gamma"):
        yield part


async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] != "http":
        return
    extensions = scope.get("extensions") or {}
    with_trailers = "http.response.trailers" in extensions
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"trailer", b"x-digest")] if with_trailers else [],
            "trailers": with_trailers,
        }
    )
    digest = hashlib.sha256()
    async for chunk in produce():
        digest.update(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "more_body": False})
    if with_trailers:
        trailers: HTTPResponseTrailersEvent = {
            "type": "http.response.trailers",
            "headers": [(b"x-digest", digest.hexdigest().encode())],
        }
        await send(trailers)
        await send({"type": "http.response.trailers", "headers": [], "more_trailers": False})
