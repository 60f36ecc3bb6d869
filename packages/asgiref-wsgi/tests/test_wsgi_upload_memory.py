"""Memory held for request bodies: what many concurrent uploads cost the server.

Under load (64 connections uploading 10 MiB each) every byte the adapter holds
per request is multiplied by the requests in flight, so these tests bound it:
the default read-ahead, nothing read for a request still waiting for a thread,
and no message kept alive after the application has read it.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import tracemalloc
import weakref
from collections.abc import Iterable
from typing import Any

import pytest

from asgiref.wsgi import WsgiToAsgi

pytestmark = pytest.mark.timeout(30)

StartResponse = Any
Environ = dict[str, Any]
_KIB = 1024
_BIG = 10 * 1024 * _KIB


def _upload_scope(scope_for: Any, length: int) -> dict[str, Any]:
    scope: dict[str, Any] = scope_for(
        method="POST", headers=[(b"content-length", str(length).encode())]
    )
    return scope


def _counting_app(started: threading.Event, release: threading.Event) -> Any:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started.set()
        release.wait(10)
        total = sum(len(piece) for piece in iter(lambda: environ["wsgi.input"].read(65536), b""))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(total).encode()]

    return app


async def _until(condition: Any, timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_default_read_ahead_holds_at_most_64_kib_and_one_message(
    exchange_for: Any, scope_for: Any
) -> None:
    started, release = threading.Event(), threading.Event()
    exchange = exchange_for(
        WsgiToAsgi(_counting_app(started, release)), _upload_scope(scope_for, _BIG)
    )
    for _ in range(_BIG // (16 * _KIB)):
        exchange.push({"type": "http.request", "body": b"u" * (16 * _KIB), "more_body": True})
    exchange.push({"type": "http.request", "body": b"", "more_body": False})
    await asyncio.to_thread(started.wait, 5)
    await asyncio.sleep(0.3)  # time for the pump to read as far ahead as it will
    # 64 KiB of read-ahead is four 16 KiB messages; the fifth fills it; one more
    # may be on its way. Everything else stays with the server.
    assert exchange.receive_calls <= 6
    release.set()
    await exchange.finish()
    assert b"".join(m.get("body", b"") for m in exchange.drain()[1:]) == str(_BIG).encode()


async def test_a_large_body_is_not_read_while_its_request_waits_for_a_thread(
    exchange_for: Any, scope_for: Any
) -> None:
    started, release = threading.Event(), threading.Event()
    adapter = WsgiToAsgi(_counting_app(started, release), max_workers=1)
    first = exchange_for(adapter, scope_for())
    first.push({"type": "http.request", "body": b"", "more_body": False})
    await asyncio.to_thread(started.wait, 5)  # the only thread is taken
    # One byte more than the default body_buffer_size: not received before its app runs.
    waiting = exchange_for(adapter, _upload_scope(scope_for, 64 * _KIB + 1))
    waiting.push({"type": "http.request", "body": b"u" * (64 * _KIB), "more_body": True})
    await asyncio.sleep(0.3)
    # Its body stays with the server (bounded there by flow control) until an
    # application reads it: queued requests cost the adapter nothing.
    assert waiting.receive_calls == 0
    waiting.push({"type": "http.request", "body": b"u", "more_body": False})
    release.set()
    await first.finish()
    await waiting.finish()
    assert b"".join(m.get("body", b"") for m in waiting.drain()[1:]) == str(64 * _KIB + 1).encode()


class _Body(bytearray):
    """A body whose lifetime a test can watch (bytes cannot be weakly referenced)."""


async def test_a_message_the_application_has_read_is_not_kept_alive(
    exchange_for: Any, scope_for: Any
) -> None:
    read_first = threading.Event()
    go_on = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read(1000)
        read_first.set()
        go_on.wait(10)
        rest = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(rest)).encode()]

    exchange = exchange_for(WsgiToAsgi(app, body_buffer_size=0), _upload_scope(scope_for, 2000))
    message: dict[str, Any] = {
        "type": "http.request",
        "body": _Body(b"a" * 1000),
        "more_body": True,
    }
    watched = weakref.ref(message["body"])
    exchange.push(message)
    del message
    await asyncio.to_thread(read_first.wait, 5)
    await asyncio.sleep(0.1)  # the pump is now waiting for the next message
    gc.collect()
    assert watched() is None, "the pump still holds a message the application has read"
    exchange.push({"type": "http.request", "body": b"b" * 1000, "more_body": False})
    go_on.set()
    await exchange.finish()
    assert b"".join(m.get("body", b"") for m in exchange.drain()[1:]) == b"1000"


async def _most_uploads_at_once(
    exchange_for: Any, scope_for: Any, *, piece: int, pieces: int, gap: float, gets_first: int = 0
) -> int:
    """Four uploads through max_workers=2, each client sending ``pieces`` messages
    of ``piece`` bytes ``gap`` seconds apart (after ``gets_first`` bodiless
    requests served by the same adapter): how many applications ran at once."""
    running, most = 0, 0
    lock = threading.Lock()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        total = sum(len(piece) for piece in iter(lambda: environ["wsgi.input"].read(65536), b""))
        with lock:
            running -= 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(total).encode()]

    adapter = WsgiToAsgi(app, max_workers=2)
    for _ in range(gets_first):
        get = exchange_for(adapter, scope_for())
        get.push({"type": "http.request", "body": b"", "more_body": False})
        await get.finish()
    most = 0
    uploads = [exchange_for(adapter, _upload_scope(scope_for, pieces * piece)) for _ in range(4)]

    async def client(exchange: Any) -> None:
        for number in range(pieces):
            more = number < pieces - 1
            exchange.push({"type": "http.request", "body": b"u" * piece, "more_body": more})
            await asyncio.sleep(gap)

    await asyncio.gather(*(client(upload) for upload in uploads))
    for upload in uploads:
        await upload.finish()
        body = b"".join(m.get("body", b"") for m in upload.drain()[1:])
        assert body == str(pieces * piece).encode()
    return most


async def test_fast_uploads_do_not_all_start_at_once(exchange_for: Any, scope_for: Any) -> None:
    # Each running upload costs a thread and its buffers; a reader whose client
    # keeps delivering keeps its run slot through a short wait instead of
    # letting the next queued upload start. Here 64 KiB every 20 ms.
    most = await _most_uploads_at_once(exchange_for, scope_for, piece=64 * _KIB, pieces=8, gap=0.02)
    assert most <= 2, f"{most} uploads ran at once with max_workers=2"


async def test_requests_served_before_leave_the_uploads_slots_alone(
    exchange_for: Any, scope_for: Any
) -> None:
    # A bodiless request queued for a slot makes a pausing upload give its slot
    # up at once; once served, it must not go on counting as waiting.
    most = await _most_uploads_at_once(
        exchange_for, scope_for, piece=64 * _KIB, pieces=8, gap=0.02, gets_first=3
    )
    assert most <= 2, f"{most} uploads ran at once with max_workers=2"


async def test_uploads_paced_by_a_busy_server_keep_their_slots(
    exchange_for: Any, scope_for: Any
) -> None:
    # uvicorn hands a body over 256 KiB at a time; on a busy server the next
    # piece can come more than 0.1 s later although the client keeps a good
    # pace (here 256 KiB every 0.2 s, 1.25 MiB/s). Such a reader keeps its run
    # slot too, so the queued uploads do not all start for no gain.
    most = await _most_uploads_at_once(exchange_for, scope_for, piece=256 * _KIB, pieces=4, gap=0.2)
    assert most <= 2, f"{most} uploads ran at once with max_workers=2"


async def test_readinto_copies_into_the_callers_buffer_without_a_bytes_in_between(
    exchange_for: Any, scope_for: Any
) -> None:
    # werkzeug (Flask's request.stream) reads wsgi.input with readinto(): an
    # intermediate bytes object per read would be one more 64 KiB allocation
    # and copy per read, in every upload's thread.
    peaks: list[int] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        buffer = bytearray(64 * _KIB)
        total = 0
        for _ in range(16):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            count = environ["wsgi.input"].readinto(buffer)
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
            total += count
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(total).encode()]

    body = b"u" * (256 * _KIB)
    exchange = exchange_for(
        WsgiToAsgi(app, body_buffer_size=0), _upload_scope(scope_for, 1024 * _KIB)
    )
    for number in range(4):
        exchange.push({"type": "http.request", "body": body, "more_body": number < 3})
    tracemalloc.start()
    try:
        await exchange.finish()
    finally:
        tracemalloc.stop()
    assert b"".join(m.get("body", b"") for m in exchange.drain()[1:]) == str(1024 * _KIB).encode()
    assert len(peaks) == 16
    assert max(peaks) < 16 * _KIB, f"a 64 KiB readinto() allocated up to {max(peaks)} bytes"
