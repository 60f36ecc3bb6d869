"""WebSocket handlers the way Channels-style consumers and GraphQL servers write them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from asgiref.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    Scope,
    WebSocketAcceptEvent,
    WebSocketCloseEvent,
    WebSocketDisconnectEvent,
    WebSocketReceiveEvent,
    WebSocketScope,
    WebSocketSendEvent,
)

SUBPROTOCOL = "graphql-transport-ws"


class StopConsumer(Exception):  # noqa: N818 - the name Channels uses
    pass


class JsonWebsocketConsumer:
    """Dispatches each message to a handler named after its type."""

    def __init__(self) -> None:
        self.send: ASGISendCallable | None = None
        self.scope: WebSocketScope | None = None
        self.groups: list[str] = []

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "websocket":
            raise ValueError("JsonWebsocketConsumer only handles websocket scopes")
        self.scope = scope
        self.send = send
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.connect":
                    await self.websocket_connect()
                elif message["type"] == "websocket.receive":
                    await self.websocket_receive(message)
                elif message["type"] == "websocket.disconnect":
                    await self.websocket_disconnect(message)
        except StopConsumer:
            return

    async def base_send(
        self, message: WebSocketAcceptEvent | WebSocketSendEvent | WebSocketCloseEvent
    ) -> None:
        assert self.send is not None
        await self.send(message)

    async def websocket_connect(self) -> None:
        assert self.scope is not None
        if SUBPROTOCOL in self.scope["subprotocols"]:
            await self.accept(SUBPROTOCOL)
        else:
            await self.close(4406)

    async def accept(self, subprotocol: str | None = None) -> None:
        await self.base_send(
            WebSocketAcceptEvent(type="websocket.accept", subprotocol=subprotocol, headers=[])
        )

    async def websocket_receive(self, message: WebSocketReceiveEvent) -> None:
        if message["text"] is not None:
            await self.receive_json(json.loads(message["text"]))
        elif message.get("bytes") is not None:
            await self.close(4400, "binary frames are not supported")

    async def receive_json(self, content: Any) -> None:
        await self.send_json({"type": "echo", "payload": content})

    async def send_json(self, content: Any) -> None:
        text = json.dumps(content, separators=(",", ":"))
        await self.base_send(WebSocketSendEvent(type="websocket.send", text=text, bytes=None))

    async def send_bytes(self, data: bytes) -> None:
        await self.base_send({"type": "websocket.send", "bytes": data, "text": None})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.base_send(WebSocketCloseEvent(type="websocket.close", code=code, reason=reason))

    async def websocket_disconnect(self, message: WebSocketDisconnectEvent) -> None:
        print("disconnected", message["code"], message["reason"])
        raise StopConsumer


def query_params(scope: WebSocketScope) -> dict[str, list[str]]:
    return parse_qs(scope["query_string"].decode("latin-1"))


def origin_allowed(scope: WebSocketScope, allowed: set[bytes]) -> bool:
    for name, value in scope["headers"]:
        if name == b"origin":
            return value in allowed
    return False


async def echo_app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    # A bare handler, frames as dict literals.
    if scope["type"] != "websocket":
        return
    event = await receive()
    assert event["type"] == "websocket.connect"
    await send({"type": "websocket.accept", "subprotocol": None, "headers": []})
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            break
        if event["type"] == "websocket.receive":
            if event.get("text") is not None:
                await send({"type": "websocket.send", "text": event.get("text"), "bytes": None})
            else:
                await send({"type": "websocket.send", "bytes": event.get("bytes"), "text": None})


async def deny(scope: WebSocketScope, send: ASGISendCallable) -> None:
    # The denial-response extension, when the server offers it.
    extensions = scope.get("extensions") or {}
    if "websocket.http.response" in extensions:
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"denied", "more_body": False})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": None})
