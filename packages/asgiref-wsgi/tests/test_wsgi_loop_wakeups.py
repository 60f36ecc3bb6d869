"""Cross-thread wake-ups of the event loop that a request costs.

Each ``call_soon_threadsafe`` from the app's thread writes to the loop's self-pipe
and wakes it: on a small GET that is a measurable share of the whole request, so
the adapter wakes the loop to start the body pump only when the pump was held
(a body too large to receive before the app runs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from asgiref.wsgi import WsgiToAsgi
from asgiref.wsgi._input import BodyPump

pytestmark = pytest.mark.timeout(30)

Environ = dict[str, Any]


def _echo_length(environ: Environ, start_response: Any) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(len(body)).encode()]


@contextmanager
def _pump_starts(loop: asyncio.AbstractEventLoop) -> Iterator[list[BodyPump]]:
    """Record every BodyPump.start handed to the loop from another thread."""
    started: list[BodyPump] = []
    original = loop.call_soon_threadsafe

    def counting(callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, BodyPump) and getattr(callback, "__name__", "") == "start":
            started.append(owner)
        return original(callback, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "call_soon_threadsafe", counting)
        yield started


async def test_a_get_does_not_wake_the_loop_to_start_its_pump(
    run_asgi: Any, scope_for: Any
) -> None:
    with _pump_starts(asyncio.get_running_loop()) as started:
        for _ in range(3):
            reply = await run_asgi(WsgiToAsgi(_echo_length), scope_for())
            assert reply.body == b"0"
    assert started == []


async def test_a_body_that_fits_the_buffer_does_not_wake_the_loop_either(
    run_asgi: Any, scope_for: Any
) -> None:
    scope = scope_for(method="POST", headers=[(b"content-length", b"5")])
    with _pump_starts(asyncio.get_running_loop()) as started:
        reply = await run_asgi(WsgiToAsgi(_echo_length), scope, body=b"hello")
    assert reply.body == b"5"
    assert started == []


async def test_a_held_pump_is_started_once_its_app_runs(run_asgi: Any, scope_for: Any) -> None:
    # Larger than body_buffer_size: the pump waits for the app's thread.
    size = 64 * 1024 + 1
    scope = scope_for(method="POST", headers=[(b"content-length", str(size).encode())])
    chunks = [b"u" * (16 * 1024)] * 4 + [b"u"]
    with _pump_starts(asyncio.get_running_loop()) as started:
        reply = await run_asgi(WsgiToAsgi(_echo_length), scope, body=chunks)
    assert reply.body == str(size).encode()
    assert len(started) == 1
    assert started[0].held
