"""Requests run concurrently on a bounded pool and never block the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from asgiref.wsgi import WsgiToAsgi

pytestmark = pytest.mark.timeout(60)

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def sleeper(seconds: float) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        time.sleep(seconds)
        start_response("200 OK", [])
        return [b"slept"]

    return app


async def test_slow_requests_run_in_parallel(run_asgi: Any) -> None:
    adapter = WsgiToAsgi(sleeper(0.5), max_workers=16)
    started = time.monotonic()
    replies = await asyncio.gather(*(run_asgi(adapter) for _ in range(8)))
    elapsed = time.monotonic() - started
    assert [r.body for r in replies] == [b"slept"] * 8
    # Serialised, this would take 4 s.
    assert elapsed < 2.5, f"8 requests sleeping 0.5 s took {elapsed:.2f} s"


async def test_pool_size_bounds_concurrency(run_asgi: Any) -> None:
    lock = threading.Lock()
    active = peak = 0

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.1)
        with lock:
            active -= 1
        start_response("200 OK", [])
        return [b""]

    adapter = WsgiToAsgi(app, max_workers=3)
    await asyncio.gather(*(run_asgi(adapter) for _ in range(9)))
    assert peak == 3


async def test_event_loop_stays_responsive(run_asgi: Any) -> None:
    adapter = WsgiToAsgi(sleeper(0.5), max_workers=16)
    slow = [asyncio.ensure_future(run_asgi(adapter)) for _ in range(8)]
    await asyncio.sleep(0.05)

    async def trivial_asgi(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"quick"})

    lags = []
    for _ in range(10):
        before = time.monotonic()
        reply = await run_asgi(trivial_asgi)
        lags.append(time.monotonic() - before)
        assert reply.body == b"quick"
        await asyncio.sleep(0.01)
    # Also a trivial WSGI request through the same adapter while the slow ones run.
    fast_adapter_start = time.monotonic()
    quick = await run_asgi(WsgiToAsgi(sleeper(0), max_workers=2))
    wsgi_lag = time.monotonic() - fast_adapter_start
    pending = sum(not task.done() for task in slow)
    await asyncio.gather(*slow)
    assert quick.body == b"slept"
    assert pending > 0, "slow requests finished too early to prove anything"
    # Generous bounds: behaviour (not blocked for 0.5 s), not timing precision.
    assert max(lags) < 0.2, lags
    assert wsgi_lag < 0.4, wsgi_lag


async def test_app_iteration_and_close_share_one_thread(run_asgi: Any) -> None:
    seen: dict[str, int] = {}

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            seen["iterate"] = threading.get_ident()
            yield b"x"

        def close(self) -> None:
            seen["close"] = threading.get_ident()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen["app"] = threading.get_ident()

        def tracking_start(*args: Any) -> Any:
            seen["start_response"] = threading.get_ident()
            return start_response(*args)

        tracking_start("200 OK", [])
        return Body()

    await run_asgi(WsgiToAsgi(app))
    assert len(set(seen.values())) == 1
    assert seen["app"] != threading.get_ident()


async def test_context_variables_reach_the_app(run_asgi: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [request_id.get("unset").encode()]

    request_id.set("req-42")
    assert (await run_asgi(WsgiToAsgi(app))).body == b"req-42"


async def test_slow_clients_do_not_block_the_loop(
    run_asgi: Any, exchange_for: Any, scope_for: Any
) -> None:
    def echo(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        data = environ["wsgi.input"].read()
        start_response("200 OK", [])
        for _ in range(200):
            yield data

    adapter = WsgiToAsgi(echo, body_buffer_size=0, stream_buffer_size=1024)
    # A client trickling its body, and one that stopped reading the response.
    trickling = exchange_for(adapter, scope_for(method="POST"))
    trickling.push({"type": "http.request", "body": b"t" * 100, "more_body": True})
    not_reading = exchange_for(adapter, scope_for(method="POST"))
    not_reading.outbound = asyncio.Queue(maxsize=1)
    not_reading.push({"type": "http.request", "body": b"r" * 1000})
    await asyncio.sleep(0.2)
    started = time.monotonic()
    reply = await run_asgi(WsgiToAsgi(sleeper(0)))
    assert reply.body == b"slept"
    assert time.monotonic() - started < 0.4
    assert not trickling.task.done()
    assert not not_reading.task.done()
    trickling.push({"type": "http.request", "body": b"", "more_body": False})
    await trickling.finish()
    received = 0
    while not (not_reading.task.done() and not_reading.outbound.empty()):
        received += len((await not_reading.pull()).get("body", b""))
    assert received == 200_000
