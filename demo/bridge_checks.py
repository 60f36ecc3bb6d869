"""The demo's checks of the sync/async bridge (``asgiref.sync``, ``asgiref.local``).

They need only the standard library and asgiref, so any environment can run
them: ``python -m demo.bridge_checks`` prints one JSON ``Check`` per line,
which is how the demo runs them against this checkout and against upstream.
"""

from __future__ import annotations

import asyncio
import contextvars
import statistics
import threading
import time
import uuid
from collections.abc import Callable

from asgiref.local import Local
from asgiref.sync import async_to_sync, sync_to_async
from demo.outcome import Check

NESTED = "async_to_sync -> sync_to_async -> async_to_sync -> sync_to_async"
CONTEXT = "context flows back across the bridge"
CALLS = 1000
PER_CALL = f"{CALLS:,} async_to_sync calls from a plain thread"
LABELS = (NESTED, CONTEXT, PER_CALL)

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
_state = Local()


def check_nested_thread_sensitivity() -> Check:
    main_thread = threading.current_thread().name
    threads: dict[str, str] = {}

    async def async_inner() -> str:
        # A thread-sensitive call from here comes back to the outermost sync thread.
        return await sync_to_async(lambda: threading.current_thread().name)()

    def sync_middle() -> str:
        threads["middle"] = threading.current_thread().name
        return async_to_sync(async_inner)()

    async def async_outer() -> str:
        return await sync_to_async(sync_middle)()

    threads["innermost"] = async_to_sync(async_outer)()
    ok = threads["innermost"] == main_thread and threads["middle"] == main_thread
    return Check(
        NESTED,
        ok,
        f"both sync functions ran on {threads['middle']!r} and {threads['innermost']!r},"
        f" the thread that called async_to_sync was {main_thread!r}",
    )


def check_context_flows_back() -> Check:
    # Fresh values each run, so nothing an earlier run left behind passes for them.
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    user = f"user-{uuid.uuid4().hex[:8]}"

    def sync_view() -> None:
        _state.user = user
        _request_id.set(request_id)

    async def handler() -> None:
        await sync_to_async(sync_view)()

    async_to_sync(handler)()
    seen_id = _request_id.get(None)
    seen_user = getattr(_state, "user", None)
    return Check(
        CONTEXT,
        seen_id == request_id and seen_user == user,
        f"set in sync code two crossings away, read here: request_id={seen_id!r}"
        f" (set {request_id!r}), Local.user={seen_user!r} (set {user!r})",
    )


async def _square(n: int) -> int:
    return n * n


def _floor_per_call() -> float:
    """Seconds per call of the floor: a coroutine sent to a loop already running in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        started = time.perf_counter()
        for n in range(CALLS):
            asyncio.run_coroutine_threadsafe(_square(n), loop).result()
        return (time.perf_counter() - started) / CALLS
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def _per_call(square: Callable[[int], int]) -> tuple[float, int]:
    started = time.perf_counter()
    total = sum(square(n) for n in range(CALLS))
    return (time.perf_counter() - started) / CALLS, total


def check_calls_from_a_plain_thread() -> Check:
    square: Callable[[int], int] = async_to_sync(_square)
    # Interleaved rounds, medians: one figure from a machine shared with
    # other work would say little.
    ours: list[float] = []
    floors: list[float] = []
    totals: set[int] = set()
    for _ in range(3):
        seconds, total = _per_call(square)
        ours.append(seconds)
        totals.add(total)
        floors.append(_floor_per_call())
    expected = sum(n * n for n in range(CALLS))
    return Check(
        PER_CALL,
        totals == {expected},
        f"{'right' if totals == {expected} else 'WRONG'} results,"
        f" {statistics.median(ours) * 1e6:.0f} us per call (floor, run_coroutine_threadsafe into"
        f" a loop running in a thread: {statistics.median(floors) * 1e6:.0f} us)",
    )


CHECKS: tuple[Callable[[], Check], ...] = (
    check_nested_thread_sensitivity,
    check_context_flows_back,
    check_calls_from_a_plain_thread,
)


def run_all() -> list[Check]:
    return [check() for check in CHECKS]


if __name__ == "__main__":
    for result in run_all():
        print(result.to_json(), flush=True)
