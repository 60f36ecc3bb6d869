"""Lifespan and websocket scopes, and the adapter's own argument checks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance

pytestmark = pytest.mark.timeout(30)


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


async def test_lifespan_startup_and_shutdown_complete(exchange_for: Any) -> None:
    exchange = exchange_for(WsgiToAsgi(hello), {"type": "lifespan", "asgi": {"version": "3.0"}})
    exchange.push({"type": "lifespan.startup"})
    assert await exchange.pull() == {"type": "lifespan.startup.complete"}
    exchange.push({"type": "lifespan.shutdown"})
    assert await exchange.pull() == {"type": "lifespan.shutdown.complete"}
    await exchange.finish()


async def test_requests_work_after_lifespan_shutdown(run_asgi: Any, exchange_for: Any) -> None:
    adapter = WsgiToAsgi(hello)
    assert (await run_asgi(adapter)).body == b"hello"
    exchange = exchange_for(adapter, {"type": "lifespan"})
    exchange.push({"type": "lifespan.startup"})
    exchange.push({"type": "lifespan.shutdown"})
    await exchange.finish()
    # A fresh pool is made on demand (e.g. a server restarting the app).
    assert (await run_asgi(adapter)).body == b"hello"


async def test_instance_handles_lifespan_too(exchange_for: Any) -> None:
    exchange = exchange_for(WsgiToAsgiInstance(hello), {"type": "lifespan"})
    exchange.push({"type": "lifespan.startup"})
    exchange.push({"type": "lifespan.shutdown"})
    await exchange.finish()
    assert [m["type"] for m in exchange.drain()] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_websocket_is_closed_before_accept(exchange_for: Any) -> None:
    exchange = exchange_for(WsgiToAsgi(hello), {"type": "websocket", "path": "/ws"})
    exchange.push({"type": "websocket.connect"})
    message = await exchange.pull()
    assert message["type"] == "websocket.close"
    await exchange.finish()
    assert exchange.drain() == []


async def test_websocket_that_leaves_first_is_fine(exchange_for: Any) -> None:
    exchange = exchange_for(WsgiToAsgi(hello), {"type": "websocket", "path": "/ws"})
    exchange.push({"type": "websocket.disconnect", "code": 1001})
    await exchange.finish()
    assert exchange.drain() == []


async def test_unknown_scope_type_is_refused() -> None:
    async def receive() -> dict[str, Any]:
        await asyncio.sleep(10)
        return {}

    async def send(message: Any) -> None:
        raise AssertionError("nothing should be sent")

    with pytest.raises(ValueError, match="telepathy"):
        await WsgiToAsgi(hello)({"type": "telepathy"}, receive, send)


def test_start_response_outside_a_request_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        WsgiToAsgiInstance(hello).start_response("200 OK", [])


@pytest.mark.parametrize(
    "options",
    [
        {"max_workers": 0},
        {"max_body_size": -1},
        {"max_headers": -1},
        {"body_buffer_size": -1},
        {"stream_buffer_size": -1},
    ],
)
def test_invalid_options_fail_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        WsgiToAsgi(hello, **options)


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        WsgiToAsgi(hello, 100, 4)  # type: ignore[call-arg]  # the call shape under test


async def test_instance_on_its_own_serves_a_request(run_asgi: Any, scope_for: Any) -> None:
    reply = await run_asgi(WsgiToAsgiInstance(hello), scope_for())
    assert reply.body == b"hello"


async def test_own_executor_is_used(run_asgi: Any) -> None:
    names: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        import threading

        names.append(threading.current_thread().name)
        return hello(environ, start_response)

    with ThreadPoolExecutor(2, thread_name_prefix="mine") as executor:
        await run_asgi(WsgiToAsgi(app, executor=executor))
    assert names[0].startswith("mine")
