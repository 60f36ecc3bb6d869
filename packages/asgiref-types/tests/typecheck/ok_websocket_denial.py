"""A WebSocket application that echoes frames, or denies the handshake with a response."""

from __future__ import annotations

from asgiref.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    Scope,
    WebSocketReceiveEvent,
    WebSocketScope,
    WebSocketSendEvent,
)


def allowed(scope: WebSocketScope) -> bool:
    return "chat" in scope.get("subprotocols", ()) and dict(scope["headers"]).get(b"origin") in (
        None,
        b"https://example.org",
    )


def echo(message: WebSocketReceiveEvent) -> WebSocketSendEvent:
    text = message.get("text")
    if text is not None:
        return {"type": "websocket.send", "text": text.upper()}
    data = message.get("bytes")
    assert data is not None
    return {"type": "websocket.send", "bytes": data, "text": None}


async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] != "websocket":
        return
    connect = await receive()
    assert connect["type"] == "websocket.connect"
    if not allowed(scope):
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"text/plain")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": b"forbidden"})
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": "origin"})
        return
    await send({"type": "websocket.accept", "subprotocol": "chat", "headers": [(b"x-a", b"1")]})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            print(message["code"], message.get("reason") or "")
            return
        if message["type"] == "websocket.receive":
            await send(echo(message))
    await send({"type": "websocket.close"})
