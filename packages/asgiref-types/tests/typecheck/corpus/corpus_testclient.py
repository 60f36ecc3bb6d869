"""A test client that drives applications in process, as test suites write one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from asgiref.typing import (
    ASGI3Application,
    ASGIReceiveEvent,
    ASGISendEvent,
    HTTPDisconnectEvent,
    HTTPRequestEvent,
    HTTPScope,
    WebSocketConnectEvent,
    WebSocketReceiveEvent,
    WebSocketScope,
    WebSocketSendEvent,
)


@dataclass
class Response:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list[tuple[bytes, bytes]])
    body: bytes = b""


def http_scope(
    method: str,
    url: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    extensions: dict[str, dict[object, object]] | None = None,
) -> HTTPScope:
    parts = urlsplit(url)
    scope: HTTPScope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": parts.scheme or "http",
        "path": parts.path or "/",
        "raw_path": (parts.path or "/").encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(b"host", (parts.netloc or "testserver").encode()), *(headers or [])],
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
        "extensions": None,
    }
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


class TestClient:
    __test__ = False

    def __init__(self, app: ASGI3Application) -> None:
        self.app = app

    async def request(self, method: str, url: str, body: bytes = b"") -> Response:
        scope = http_scope(method, url, extensions={"http.response.debug": {}})
        response = Response()
        chunks: list[HTTPRequestEvent] = [
            HTTPRequestEvent(type="http.request", body=body, more_body=False)
        ]

        async def receive() -> ASGIReceiveEvent:
            if chunks:
                return chunks.pop(0)
            disconnect: HTTPDisconnectEvent = {"type": "http.disconnect"}
            return disconnect

        async def send(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start":
                response.status = message["status"]
                response.headers = list(message["headers"])
            elif message["type"] == "http.response.body":
                response.body += message["body"]
                if not message["more_body"]:
                    return

        await self.app(scope, receive, send)
        return response


class WebsocketCommunicator:
    def __init__(
        self, app: ASGI3Application, path: str, subprotocols: list[str] | None = None
    ) -> None:
        self.app = app
        self.scope: WebSocketScope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 0),
            "server": ("testserver", 80),
            "subprotocols": subprotocols or [],
            "extensions": {"websocket.http.response": {}},
        }
        self.input: asyncio.Queue[ASGIReceiveEvent] = asyncio.Queue()
        self.output: asyncio.Queue[ASGISendEvent] = asyncio.Queue()
        self.frames: list[WebSocketSendEvent] = []
        self.task: asyncio.Future[None] | None = None

    async def receive(self) -> ASGIReceiveEvent:
        return await self.input.get()

    async def send(self, message: ASGISendEvent) -> None:
        await self.output.put(message)

    async def connect(self, timeout: float = 1) -> tuple[bool, str | None]:
        self.task = asyncio.ensure_future(self.app(self.scope, self.receive, self.send))
        await self.input.put(WebSocketConnectEvent(type="websocket.connect"))
        answer = await asyncio.wait_for(self.output.get(), timeout)
        if answer["type"] == "websocket.close":
            return False, None
        assert answer["type"] == "websocket.accept"
        return True, answer["subprotocol"]

    async def send_to(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = WebSocketReceiveEvent(type="websocket.receive", text=text_data, bytes=bytes_data)
        await self.input.put(frame)

    async def receive_from(self, timeout: float = 1) -> str | bytes:
        message = await asyncio.wait_for(self.output.get(), timeout)
        assert message["type"] == "websocket.send"
        self.frames.append(message)
        if message.get("text") is not None:
            return message["text"] or ""
        return message["bytes"] or b""

    async def disconnect(self, code: int = 1000) -> None:
        await self.input.put({"type": "websocket.disconnect", "code": code})
        if self.task is not None:
            await asyncio.wait_for(self.task, 1)
