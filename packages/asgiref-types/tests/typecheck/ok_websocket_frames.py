"""WebSocket frames built by calling upstream's classes, as dict literals, and strictly."""

from __future__ import annotations

from asgiref.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    StrictWebSocketReceiveEvent,
    StrictWebSocketSendEvent,
    WebSocketReceiveEvent,
    WebSocketSendBytesEvent,
    WebSocketSendEvent,
    WebSocketSendTextEvent,
)


async def relay(receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    message = await receive()
    if message["type"] == "websocket.receive":
        await forward(message, send)


async def forward(frame: WebSocketReceiveEvent, send: ASGISendCallable) -> None:
    # Upstream's classes are callable, with both keys or only one of them.
    data = frame.get("bytes")
    if data is not None:
        await send(WebSocketSendEvent(type="websocket.send", bytes=data, text=None))
    else:
        await send(WebSocketSendEvent(type="websocket.send", text=frame.get("text") or ""))
    await send({"type": "websocket.send", "text": "ack"})


def received(text: str) -> list[WebSocketReceiveEvent]:
    return [
        WebSocketReceiveEvent(type="websocket.receive", bytes=None, text=text),
        {"type": "websocket.receive", "bytes": text.encode()},
    ]


def strict(data: str | bytes) -> StrictWebSocketSendEvent:
    # The strict unions make a checker insist on exactly one of bytes / text.
    if isinstance(data, str):
        return {"type": "websocket.send", "text": data}
    return WebSocketSendBytesEvent(type="websocket.send", bytes=data)


def strict_received() -> list[StrictWebSocketReceiveEvent]:
    return [
        {"type": "websocket.receive", "text": "hi", "bytes": None},
        {"type": "websocket.receive", "bytes": b"\x00"},
    ]


def payload(frame: StrictWebSocketSendEvent) -> str | bytes:
    if "text" in frame and frame["text"] is not None:
        return frame["text"]
    text_frame: WebSocketSendTextEvent = {"type": "websocket.send", "text": "?"}
    return frame.get("bytes") or text_frame["text"]
