"""Stalled, slow and vanishing clients, driven in process: client_timeout, draining, close()."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from asgiref.wsgi import (
    ClientDisconnected,
    FileWrapper,
    RequestBodyDiscarded,
    RequestTimeout,
    WsgiToAsgi,
)

pytestmark = pytest.mark.timeout(30)

StartResponse = Any
Environ = dict[str, Any]


def post_scope(scope_for: Any, length: int | None) -> dict[str, Any]:
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope: dict[str, Any] = scope_for(method="POST", headers=headers)
    return scope


def reading_app(outcome: list[BaseException]) -> Any:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            data = environ["wsgi.input"].read()
        except OSError as error:
            outcome.append(error)
            raise
        start_response("200 OK", [])
        return [data]

    return app


# -- client_timeout on the request body ----------------------------------------


@pytest.mark.parametrize("length", [100, None])
async def test_body_stalled_before_the_app_starts_is_408(
    exchange_for: Any, scope_for: Any, length: int | None
) -> None:
    called: list[bool] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        called.append(True)
        start_response("200 OK", [])
        return []

    scope = post_scope(scope_for, length)
    if length is None:
        scope["headers"] = [(b"transfer-encoding", b"chunked")]
    exchange = exchange_for(WsgiToAsgi(app, client_timeout=0.3), scope)
    exchange.push({"type": "http.request", "body": b"abc", "more_body": True})
    started = time.monotonic()
    start = await exchange.pull()
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    assert 0.25 < time.monotonic() - started < 3
    await exchange.finish()
    assert not called


async def test_body_stalled_inside_the_app_raises_request_timeout(
    exchange_for: Any, scope_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    outcome: list[BaseException] = []
    adapter = WsgiToAsgi(reading_app(outcome), client_timeout=0.3, body_buffer_size=0)
    exchange = exchange_for(adapter, post_scope(scope_for, 1000))
    exchange.push({"type": "http.request", "body": b"x" * 10, "more_body": True})
    with caplog.at_level(logging.ERROR, logger="asgiref.wsgi"):
        start = await exchange.pull()
        await exchange.finish()
    assert start["status"] == 408
    assert isinstance(outcome[0], RequestTimeout)
    assert isinstance(outcome[0], TimeoutError)
    assert isinstance(outcome[0], OSError)
    assert not caplog.records, "a client's timeout is not an application error"


async def test_a_slow_but_moving_body_is_not_timed_out(exchange_for: Any, scope_for: Any) -> None:
    outcome: list[BaseException] = []
    adapter = WsgiToAsgi(reading_app(outcome), client_timeout=0.3, body_buffer_size=0)
    exchange = exchange_for(adapter, post_scope(scope_for, 8))
    for _ in range(7):  # 1.4 s in all, never 0.3 s without a byte
        exchange.push({"type": "http.request", "body": b"x", "more_body": True})
        await asyncio.sleep(0.2)
    exchange.push({"type": "http.request", "body": b"y", "more_body": False})
    await exchange.finish()
    messages = exchange.drain()
    assert messages[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in messages[1:]) == b"xxxxxxxy"
    assert not outcome


async def test_no_client_timeout_waits_for_the_body(exchange_for: Any, scope_for: Any) -> None:
    outcome: list[BaseException] = []
    adapter = WsgiToAsgi(reading_app(outcome), client_timeout=None, body_buffer_size=0)
    exchange = exchange_for(adapter, post_scope(scope_for, 2))
    exchange.push({"type": "http.request", "body": b"a", "more_body": True})
    await asyncio.sleep(0.5)
    assert exchange.outbound.empty()
    exchange.push({"type": "http.request", "body": b"b", "more_body": False})
    await exchange.finish()
    assert b"".join(m.get("body", b"") for m in exchange.drain()[1:]) == b"ab"


async def test_own_executor_threads_are_released_by_the_timeout(
    exchange_for: Any, scope_for: Any
) -> None:
    # With your own executor the adapter cannot lend a waiting thread's place
    # to others: client_timeout is what bounds the wait.
    outcome: list[BaseException] = []
    with ThreadPoolExecutor(1) as executor:
        adapter = WsgiToAsgi(
            reading_app(outcome), executor=executor, client_timeout=0.3, body_buffer_size=0
        )
        exchange = exchange_for(adapter, post_scope(scope_for, 1000))
        exchange.push({"type": "http.request", "body": b"x", "more_body": True})
        start = await exchange.pull()
        assert start["status"] == 408
        await exchange.finish()
        assert isinstance(outcome[0], RequestTimeout)
        reply = await run_hello(adapter, scope_for)
        assert reply == b"hello"


async def run_hello(adapter: Any, scope_for: Any) -> bytes:
    inbound: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbound.put_nowait({"type": "http.request", "body": b"hello"})
    bodies: list[bytes] = []

    async def send(message: Any) -> None:
        bodies.append(message.get("body", b""))

    await asyncio.wait_for(adapter(post_scope(scope_for, 5), inbound.get, send), 5)
    return b"".join(bodies)


async def test_requests_end_when_the_app_leaves_the_body_unread(
    exchange_for: Any, scope_for: Any
) -> None:
    # The pump is cancelled at the end of each request, often just as a body
    # message arrives: that cancellation must never be lost (a lost one left
    # the request waiting for a message that never comes).
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        data = stream.readline(1) + stream.readline(5)
        start_response("200 OK", [])
        return [data]

    adapter = WsgiToAsgi(app, body_buffer_size=0)
    for _ in range(300):
        exchange = exchange_for(adapter, post_scope(scope_for, 8))
        for index, chunk in enumerate([b"a", b"b\nc", b"", b"d\ne", b"f"]):
            exchange.push({"type": "http.request", "body": chunk, "more_body": index < 4})
        await exchange.finish(timeout=5)


@pytest.mark.parametrize("value", [0, -1, float("nan")])
def test_invalid_client_timeout(value: float) -> None:
    with pytest.raises(ValueError):
        WsgiToAsgi(lambda e, s: [], client_timeout=value)


# -- client_timeout on the response ---------------------------------------------


async def test_a_client_taking_no_response_is_abandoned(
    scope_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    closed: list[int] = []
    stopped: list[BaseException] = []

    class Endless:
        def __iter__(self) -> Iterator[bytes]:
            try:
                for _ in range(1_000_000):
                    yield b"x" * 1024
            except BaseException as error:
                stopped.append(error)
                raise

        def close(self) -> None:
            closed.append(1)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return Endless()

    inbound: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbound.put_nowait({"type": "http.request"})
    never = asyncio.Event()

    async def stuck_send(message: Any) -> None:
        if message.get("body"):
            await never.wait()  # the client stopped reading

    adapter = WsgiToAsgi(app, client_timeout=0.5, stream_buffer_size=4096)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="asgiref.wsgi"):
        await asyncio.wait_for(adapter(scope_for(), inbound.get, stuck_send), 10)
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 5, elapsed
    assert closed == [1]
    assert stopped, "the iteration was not stopped"
    assert any("took nothing" in r.getMessage() for r in caplog.records)


# -- a disconnect is seen whatever the app has read ------------------------------


async def test_disconnect_seen_while_the_app_streams_and_ignores_the_body(
    exchange_for: Any, scope_for: Any
) -> None:
    closed = threading.Event()

    class Endless:
        def __iter__(self) -> Iterator[bytes]:
            for _ in range(1_000_000):
                yield b"r" * 1024

        def close(self) -> None:
            closed.set()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return Endless()

    adapter = WsgiToAsgi(app, stream_buffer_size=4096, body_buffer_size=0)
    exchange = exchange_for(adapter, post_scope(scope_for, None))
    for _ in range(1000):  # far more body than the read-ahead buffer holds
        exchange.push({"type": "http.request", "body": b"b" * 1024, "more_body": True})
    exchange.push({"type": "http.disconnect"})
    started = time.monotonic()
    while not closed.is_set() and time.monotonic() - started < 5:
        exchange.drain()
        await asyncio.sleep(0.01)
    assert closed.is_set()
    assert time.monotonic() - started < 2
    await exchange.finish()
    assert exchange.inbound.empty(), "the unread body was not drained"


async def test_reading_past_a_drained_body_raises(exchange_for: Any, scope_for: Any) -> None:
    outcome: list[BaseException] = []
    read = 0
    go_on = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        nonlocal read
        start_response("200 OK", [])
        yield b"started"
        go_on.wait(10)
        try:
            while chunk := environ["wsgi.input"].read(1024):
                read += len(chunk)
        except OSError as error:
            outcome.append(error)

    adapter = WsgiToAsgi(app, stream_buffer_size=4096, body_buffer_size=0)
    exchange = exchange_for(adapter, post_scope(scope_for, None))
    for _ in range(100):
        exchange.push({"type": "http.request", "body": b"b" * 1024, "more_body": True})
    exchange.push({"type": "http.request", "body": b"", "more_body": False})
    for _ in range(300):
        if exchange.inbound.empty():
            break
        await asyncio.sleep(0.01)
    assert exchange.inbound.empty(), "the unread body was not drained"
    go_on.set()
    await exchange.finish()
    assert isinstance(outcome[0], RequestBodyDiscarded)
    assert 4096 <= read < 100 * 1024  # the buffered part, then the error


async def test_an_app_reading_while_it_streams_gets_the_whole_body(
    exchange_for: Any, scope_for: Any
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        stream = environ["wsgi.input"]
        while chunk := stream.read(1024):
            time.sleep(0.02)  # slower than the client: the buffer stays full
            yield str(len(chunk)).encode() + b","

    adapter = WsgiToAsgi(app, stream_buffer_size=4096, body_buffer_size=0)
    exchange = exchange_for(adapter, post_scope(scope_for, None))
    for _ in range(60):
        exchange.push({"type": "http.request", "body": b"b" * 1024, "more_body": True})
    exchange.push({"type": "http.request", "body": b"", "more_body": False})
    await exchange.finish()
    body = b"".join(m.get("body", b"") for m in exchange.drain()[1:])
    assert sum(int(n) for n in body.split(b",") if n) == 60 * 1024


async def test_disconnect_while_the_app_reads_is_still_client_disconnected(
    exchange_for: Any, scope_for: Any
) -> None:
    outcome: list[BaseException] = []
    adapter = WsgiToAsgi(reading_app(outcome), body_buffer_size=0)
    exchange = exchange_for(adapter, post_scope(scope_for, 1000))
    exchange.push({"type": "http.request", "body": b"x", "more_body": True})
    await asyncio.sleep(0.1)
    exchange.push({"type": "http.disconnect"})
    await exchange.finish()
    assert type(outcome[0]) is ClientDisconnected


async def test_a_whole_body_stays_readable_after_the_client_left(
    exchange_for: Any, scope_for: Any
) -> None:
    read: list[bytes] = []
    go_on = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        go_on.wait(10)
        read.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return []

    adapter = WsgiToAsgi(app, body_buffer_size=0)
    # No Content-Length: the app reads on to the end of the body, past the bytes.
    exchange = exchange_for(adapter, post_scope(scope_for, None))
    exchange.push({"type": "http.request", "body": b"abc", "more_body": False})
    exchange.push({"type": "http.disconnect"})
    await asyncio.sleep(0.1)
    go_on.set()
    await exchange.finish()
    assert read == [b"abc"]


# -- close() that raises ----------------------------------------------------------


class FailingClose:
    def __init__(self, chunks: list[bytes], fail_iteration: bool = False) -> None:
        self.chunks = chunks
        self.fail_iteration = fail_iteration
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.fail_iteration:
            raise RuntimeError("iteration failed")

    def close(self) -> None:
        self.closed += 1
        raise ValueError("close failed")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], b"abc"),
        ([("Content-Length", "3")], b"abc"),
        ([("Content-Length", "2")], b"ab"),
    ],
)
async def test_close_raising_after_a_complete_response_is_logged(
    run_asgi: Any, caplog: pytest.LogCaptureFixture, headers: list[tuple[str, str]], expected: bytes
) -> None:
    body = FailingClose([b"a", b"b", b"c"])

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", headers)
        return body

    with caplog.at_level(logging.ERROR, logger="asgiref.wsgi"):
        reply = await run_asgi(WsgiToAsgi(app))
    assert (reply.status, reply.body) == (200, expected)
    assert body.closed == 1
    [record] = caplog.records
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


async def test_close_raising_after_pathsend_is_logged(
    run_asgi: Any, scope_for: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"data")

    class Wrapper(FileWrapper):
        def close(self) -> None:
            super().close()
            raise ValueError("close failed")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return Wrapper(target.open("rb"))

    extensions: dict[str, Any] = {"http.response.pathsend": {}}
    with caplog.at_level(logging.ERROR, logger="asgiref.wsgi"):
        reply = await run_asgi(WsgiToAsgi(app), scope_for(extensions=extensions))
    assert reply.messages[-1] == {"type": "http.response.pathsend", "path": str(target)}
    assert len(caplog.records) == 1


async def test_close_raising_after_the_app_failed_logs_both(
    run_asgi: Any, caplog: pytest.LogCaptureFixture
) -> None:
    body = FailingClose([], fail_iteration=True)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return body

    with caplog.at_level(logging.ERROR, logger="asgiref.wsgi"):
        reply = await run_asgi(WsgiToAsgi(app))
    assert reply.status == 500
    logged = {type(r.exc_info[1]) for r in caplog.records if r.exc_info}
    assert logged == {ValueError, RuntimeError}
