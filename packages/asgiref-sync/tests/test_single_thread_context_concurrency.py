"""AsyncSingleThreadContext when several threads call through it at once.

Upstream 3.13.0 (probed) runs every call of one context on the context's one
thread, one call at a time, and leaving the context waits for calls still
running or queued in other threads. A call made from inside a running call
of the context (which would wait for itself) must not wait.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from asgiref.sync import AsyncSingleThreadContext, async_to_sync, sync_to_async

# Long enough that two calls overlap unless one waits for the other, on a
# loaded two-core machine.
_HOLD = 0.4


class _Log:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, str, int]] = []

    async def work(self, tag: str) -> str:
        self.add(tag, "start")
        await asyncio.sleep(_HOLD)
        self.add(tag, "end")
        return tag

    def add(self, tag: str, what: str) -> None:
        with self.lock:
            self.events.append((tag, what, threading.get_ident()))


def _call_in_thread(
    ctx: contextvars.Context, log: _Log, tag: str, results: dict[str, object]
) -> threading.Thread:
    """Start, in a thread of its own, the call ``tag`` in ``ctx``."""

    def run() -> None:
        try:
            results["other"] = ctx.run(async_to_sync(log.work), tag)
        except BaseException as exc:  # reported through results
            results["other"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _started(log: _Log, tag: str) -> None:
    deadline = time.monotonic() + 10
    while (tag, "start") not in [(t, w) for t, w, _ in log.events]:
        assert time.monotonic() < deadline, f"call {tag} never started"
        time.sleep(0.005)


@pytest.mark.timeout(30)
def test_calls_from_two_threads_share_the_context_thread_one_at_a_time() -> None:
    log = _Log()
    results: dict[str, object] = {}
    with AsyncSingleThreadContext():
        other = _call_in_thread(contextvars.copy_context(), log, "B", results)
        _started(log, "B")
        assert async_to_sync(log.work)("A") == "A"
        other.join(10)
    assert results == {"other": "B"}
    assert len({ident for _, _, ident in log.events}) == 1, log.events
    # Serialised: B (first in) ends before A starts.
    assert [(t, w) for t, w, _ in log.events] == [
        ("B", "start"),
        ("B", "end"),
        ("A", "start"),
        ("A", "end"),
    ]


@pytest.mark.timeout(30)
def test_leaving_the_context_waits_for_a_call_running_in_another_thread() -> None:
    log = _Log()
    results: dict[str, object] = {}
    with AsyncSingleThreadContext():
        other = _call_in_thread(contextvars.copy_context(), log, "B", results)
        _started(log, "B")
    # The exit returned only once B was over, and B was not cancelled.
    assert [(t, w) for t, w, _ in log.events] == [("B", "start"), ("B", "end")]
    other.join(10)
    assert results == {"other": "B"}


@pytest.mark.timeout(30)
def test_leaving_the_context_waits_for_queued_calls_too() -> None:
    log = _Log()
    first: dict[str, object] = {}
    second: dict[str, object] = {}
    with AsyncSingleThreadContext():
        one = _call_in_thread(contextvars.copy_context(), log, "B", first)
        _started(log, "B")
        two = _call_in_thread(contextvars.copy_context(), log, "C", second)
        time.sleep(0.05)  # C is (very likely) queued behind B by now
    assert sorted((t, w) for t, w, _ in log.events) == [
        ("B", "end"),
        ("B", "start"),
        ("C", "end"),
        ("C", "start"),
    ]
    one.join(10)
    two.join(10)
    assert (first, second) == ({"other": "B"}, {"other": "C"})


@pytest.mark.timeout(30)
def test_a_call_made_from_inside_a_running_call_does_not_wait_for_it() -> None:
    # The inner call cannot have the context's thread (its own caller holds
    # it): it runs elsewhere instead of waiting forever.
    async def inner() -> int:
        return threading.get_ident()

    def sync_middle() -> int:
        return async_to_sync(inner, force_new_loop=True)()

    async def outer() -> tuple[int, int]:
        got = await sync_to_async(sync_middle, thread_sensitive=False)()
        return threading.get_ident(), got

    with AsyncSingleThreadContext():
        context_thread, inner_thread = async_to_sync(outer)()
        # The context's thread is still its own afterwards.
        assert async_to_sync(inner)() == context_thread
    assert inner_thread != context_thread
