"""Deliberately broken variants of the demo's app, each breaking what one check proves.

tests/test_demo.py serves them with the demo's own server process
(``python -m demo.serve --app demo_faults:<name>``) and expects the matching
check to fail: a check that cannot fail would prove nothing.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from demo.webapp import application as _demo

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]


async def refuses_lifespan(scope: _Scope, receive: _Receive, send: _Send) -> None:
    """Raises on the lifespan scope, as a WSGI adapter without lifespan support does."""
    if scope["type"] == "lifespan":
        raise ValueError("no lifespan here")
    await _demo(scope, receive, send)


async def wrong_greeting(scope: _Scope, receive: _Receive, send: _Send) -> None:
    """Answers with another body (same length, so the headers stay valid)."""

    async def altered(message: _Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": message["body"].replace(b"Hello", b"Howdy")}
        await send(message)

    await _demo(scope, receive, altered)


_requests = itertools.count(1)


async def fails_every_tenth(scope: _Scope, receive: _Receive, send: _Send) -> None:
    """Answers every tenth HTTP request with a 500."""
    if scope["type"] == "http" and next(_requests) % 10 == 0:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await _demo(scope, receive, send)


async def buffers_request_body(scope: _Scope, receive: _Receive, send: _Send) -> None:
    """Collects the whole request body before the app sees any of it."""
    if scope["type"] != "http":
        await _demo(scope, receive, send)
        return
    pieces = []
    while True:
        message = await receive()
        pieces.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    sent = False

    async def whole_body() -> _Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": b"".join(pieces), "more_body": False}

    await _demo(scope, whole_body, send)


async def buffers_response(scope: _Scope, receive: _Receive, send: _Send) -> None:
    """Holds every response back until the app has produced all of it."""
    held: list[_Message] = []

    async def hold(message: _Message) -> None:
        if scope["type"] != "http":
            await send(message)
            return
        held.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            for waiting in held:
                await send(waiting)

    await _demo(scope, receive, hold)


_one_at_a_time = asyncio.Lock()


async def serialises_requests(scope: _Scope, receive: _Receive, send: _Send) -> None:
    """Runs one HTTP request at a time."""
    if scope["type"] != "http":
        await _demo(scope, receive, send)
        return
    async with _one_at_a_time:
        await _demo(scope, receive, send)
