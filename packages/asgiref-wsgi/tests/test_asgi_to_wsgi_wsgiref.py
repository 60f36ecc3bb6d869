"""AsgiToWsgi under wsgiref's server, in a thread of the test, on 127.0.0.1.

The server-sent event arrives while the app is still running; a body goes
both ways; the client leaving mid-stream reaches the app.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from asgiref.wsgi import AsgiToWsgi

pytestmark = pytest.mark.timeout(30)

_release = threading.Event()
_cleaned = threading.Event()


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["path"] == "/events":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        await send({"type": "http.response.body", "body": b"data: first\n\n", "more_body": True})
        for _ in range(2000):  # bounded: 10 s at most
            if _release.is_set():
                break
            await asyncio.sleep(0.005)
        await send({"type": "http.response.body", "body": b"data: last\n\n"})
        return
    if scope["path"] == "/endless":
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(100_000):
                await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
        finally:
            _cleaned.set()
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server: WSGIServer = make_server(
        "127.0.0.1", 0, AsgiToWsgi(_app, lifespan="off"), handler_class=_Quiet
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        # shutdown() waits for the request being served: bounded, as a failing
        # test may leave its connection open.
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        stopper.join(10)
        server.server_close()


def test_the_first_event_arrives_while_the_app_still_sends(port: int) -> None:
    _release.clear()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    began = time.monotonic()
    connection.request("GET", "/events")
    response = connection.getresponse()
    assert response.status == 200
    assert response.readline() == b"data: first\n"
    assert time.monotonic() - began < 5  # the app holds "last" for up to 10 s
    _release.set()
    assert response.read() == b"\ndata: last\n\n"
    connection.close()


def test_a_body_goes_both_ways(port: int) -> None:
    payload = bytes(range(256)) * 2000
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/echo", body=payload)
    response = connection.getresponse()
    assert response.status == 200
    assert response.read() == payload
    connection.close()


def test_a_client_leaving_mid_stream_ends_the_app(port: int) -> None:
    _cleaned.clear()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/endless")
    response = connection.getresponse()
    assert len(response.read(100_000)) == 100_000
    response.close()  # the response holds the socket too
    connection.close()
    assert _cleaned.wait(10)
