"""Middleware the way frameworks and applications write it against asgiref.typing.

Pure ASGI middleware in the Starlette style (a class wrapping ``app``), a
function-style CORS handler as Django projects write one, an access log, a
proxy-headers rewrite and a response-compressing wrapper of ``send``.
"""

from __future__ import annotations

import gzip
import logging
import time
import uuid
from collections.abc import Iterable

from asgiref.typing import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Scope,
    WWWScope,
)

logger = logging.getLogger("access")


def header_value(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    value = header_value(headers, b"authorization")
    if value is None or not value.startswith(b"Bearer "):
        return None
    return value[len(b"Bearer ") :].decode("latin-1")


class RequestIDMiddleware:
    def __init__(self, app: ASGI3Application, header: bytes = b"x-request-id") -> None:
        self.app = app
        self.header = header

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(self.header) or uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start":
                response_headers = list(message.get("headers", []))
                response_headers.append((self.header, request_id))
                message["headers"] = response_headers
            await send(message)

        await self.app(scope, receive, send_with_id)


class AuthMiddleware:
    def __init__(self, app: ASGI3Application, tokens: set[str]) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope["headers"])
        if token in self.tokens:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401, "reason": "unauthorized"})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")],
                "trailers": False,
            }
        )
        await send({"type": "http.response.body", "body": b"unauthorized", "more_body": False})


def cors_handler(application: ASGI3Application, allowed: list[bytes]) -> ASGI3Application:
    async def cors_wrapper(
        scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            origin = header_value(scope["headers"], b"origin") or b""
            response_headers: list[tuple[bytes, bytes]] = [
                (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                (b"vary", b"Origin"),
            ]
            if origin in allowed:
                response_headers.append((b"access-control-allow-origin", origin))
            await send(
                HTTPResponseStartEvent(
                    type="http.response.start",
                    status=200 if origin in allowed else 400,
                    headers=sorted(response_headers),
                    trailers=False,
                )
            )
            await send(HTTPResponseBodyEvent(type="http.response.body", body=b"", more_body=False))
        else:
            await application(scope, receive, send)

    return cors_wrapper


class AccessLogMiddleware:
    def __init__(self, app: ASGI3Application) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def send_and_record(message: ASGISendEvent) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.log(scope, status, time.monotonic() - started)

    def log(self, scope: HTTPScope, status: int, elapsed: float) -> None:
        client = scope["client"]
        address = f"{client[0]}:{client[1]}" if client else "-"
        path = scope["root_path"] + scope["path"]
        query = scope["query_string"].decode("latin-1")
        target = f"{path}?{query}" if query else path
        logger.info(
            '%s - "%s %s HTTP/%s" %d %.1fms',
            address,
            scope["method"],
            target,
            scope["http_version"],
            status,
            elapsed * 1000,
        )


class ProxyHeadersMiddleware:
    def __init__(self, app: ASGI3Application, trusted: set[str]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "lifespan":
            client = scope.get("client")
            if client is not None and client[0] in self.trusted:
                headers = dict(scope["headers"])
                proto = headers.get(b"x-forwarded-proto")
                if proto is not None:
                    scope["scheme"] = proto.decode("latin-1").strip()
                forwarded = headers.get(b"x-forwarded-for")
                if forwarded is not None:
                    host = forwarded.decode("latin-1").split(",")[-1].strip()
                    scope["client"] = (host, 0)
        await self.app(scope, receive, send)


class GZipMiddleware:
    def __init__(self, app: ASGI3Application, minimum_size: int = 500) -> None:
        self.app = app
        self.minimum_size = minimum_size

    async def __call__(
        self, scope: WWWScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "http" and b"gzip" in dict(scope["headers"]).get(
            b"accept-encoding", b""
        ):
            responder = GZipResponder(self.app, self.minimum_size, send)
            await self.app(scope, receive, responder.send)
            return
        await self.app(scope, receive, send)


class GZipResponder:
    def __init__(self, app: ASGI3Application, minimum_size: int, send: ASGISendCallable) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.downstream = send
        self.start: HTTPResponseStartEvent | None = None

    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] == "http.response.body" and self.start is not None:
            start, self.start = self.start, None
            body = message["body"]
            if len(body) < self.minimum_size or message["more_body"]:
                await self.downstream(start)
                await self.downstream(message)
                return
            compressed = gzip.compress(body)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers += [
                (b"content-encoding", b"gzip"),
                (b"content-length", str(len(compressed)).encode()),
            ]
            start["headers"] = headers
            message["body"] = compressed
            await self.downstream(start)
        await self.downstream(message)


async def read_body(receive: ASGIReceiveCallable) -> bytes:
    # As Django's ASGI handler does it: until more_body is false, or disconnect.
    body = b""
    while True:
        message: ASGIReceiveEvent = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client disconnected")
        if message["type"] == "http.request":
            if "body" in message:
                body += message["body"]
            if not message.get("more_body", False):
                return body


def pathsend_supported(scope: HTTPScope) -> bool:
    extensions = scope.get("extensions") or {}
    return "http.response.pathsend" in extensions


def request_state(scope: HTTPScope) -> dict[str, object]:
    return scope.get("state", {})
