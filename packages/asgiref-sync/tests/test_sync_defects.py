"""One test per upstream asgiref 3.13.0 defect that this package fixes.

Each test is written so that it fails against upstream's behaviour.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from asgiref.local import Local
from asgiref.sync import SyncToAsync, ThreadSensitiveContext, async_to_sync, sync_to_async

marker: contextvars.ContextVar[int] = contextvars.ContextVar("marker", default=-1)
slow_capture: contextvars.ContextVar[bool] = contextvars.ContextVar("slow_capture", default=False)


# -- 1. the caller must see the context the async side ended with ---------------


def _set_and_return(local: Local) -> Callable[[int], Any]:
    async def inner(value: int) -> int:
        marker.set(value)
        local.value = value
        return value

    return inner


@pytest.mark.timeout(60)
def test_async_to_sync_context_is_captured_before_the_result_repeated() -> None:
    local = Local()
    inner = async_to_sync(_set_and_return(local))
    for value in range(1500):
        assert inner(value) == value
        assert marker.get() == value
        assert local.value == value


@pytest.mark.timeout(60)
def test_async_to_sync_context_is_captured_before_the_result_deterministic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Make every capture of a context that asked for it slow, so that a
    # bridge which resolves the result before capturing the context (the
    # upstream order) always loses the race.
    real_copy = contextvars.copy_context

    def slow_copy() -> contextvars.Context:
        if slow_capture.get():
            time.sleep(0.01)
        return real_copy()

    monkeypatch.setattr(contextvars, "copy_context", slow_copy)
    local = Local()

    async def inner(value: int) -> None:
        marker.set(value)
        local.value = value
        slow_capture.set(True)

    def from_a_worker() -> None:
        for value in range(10):
            async_to_sync(inner)(value)
            assert marker.get() == value
            assert local.value == value

    async def outer() -> None:
        await sync_to_async(from_a_worker)()

    for value in range(10, 20):
        async_to_sync(inner)(value)
        assert marker.get() == value
        assert local.value == value
    asyncio.run(outer())


# -- 2. a failure while scheduling must not leave the deadlock flag set --------


class _FailsOnce(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.failed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if not self.failed:
            self.failed = True
            raise RuntimeError("scheduling failed")
        return super().submit(fn, *args, **kwargs)


@pytest.mark.timeout(30)
async def test_scheduling_failure_resets_deadlock_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = _FailsOnce()
    monkeypatch.setattr(SyncToAsync, "single_thread_executor", flaky)
    try:
        with pytest.raises(RuntimeError, match="scheduling failed"):
            await sync_to_async(threading.get_ident)()
        assert not SyncToAsync.deadlock_context.get(False)
        # Upstream: "Single thread executor already being used, would deadlock".
        assert await sync_to_async(lambda: 42)() == 42
        assert await sync_to_async(lambda: 43)() == 43
    finally:
        flaky.shutdown(wait=True)


# -- 3. a stopped-but-not-closed outer loop must never park the caller ----------


@pytest.mark.timeout(30)
def test_async_to_sync_when_outer_loop_stops_before_running_it() -> None:
    """The worker's async_to_sync is queued on the outer loop, which then stops
    (run_until_complete returns) without closing: the call must still finish."""
    about_to_call = threading.Event()
    outcome: dict[str, Any] = {}
    worker_pool = ThreadPoolExecutor(max_workers=1)

    async def answer() -> int:
        return 42

    def worker() -> None:
        about_to_call.set()
        try:
            outcome["value"] = async_to_sync(answer)()
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    pending: list[asyncio.Future[None]] = []

    async def main() -> None:
        worker_call = sync_to_async(worker, thread_sensitive=False, executor=worker_pool)
        pending.append(asyncio.ensure_future(worker_call()))
        await asyncio.to_thread(about_to_call.wait, 10)
        # Hold the loop so the worker's callback is queued, then stop.
        time.sleep(0.3)  # noqa: ASYNC251  (blocking the loop is the point)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
        assert not loop.is_running()
        assert not loop.is_closed()
        deadline = time.monotonic() + 15
        while not outcome and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outcome == {"value": 42}, "async_to_sync parked on a stopped loop"
    finally:
        # Let anything still scheduled there finish, then clean up.
        loop.run_until_complete(asyncio.sleep(0.05))
        worker_pool.shutdown(wait=True)
        loop.close()


@pytest.mark.timeout(30)
def test_async_to_sync_from_worker_of_a_stopped_loop_runs_on_a_fresh_loop() -> None:
    """pytest-asyncio pattern: the worker outlives the test's loop run."""
    release = threading.Event()
    outcome: dict[str, Any] = {}
    worker_pool = ThreadPoolExecutor(max_workers=1)

    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def worker() -> None:
        release.wait(10)
        outcome["loop"] = async_to_sync(where)()

    pending: list[asyncio.Future[None]] = []

    async def main() -> None:
        worker_call = sync_to_async(worker, thread_sensitive=False, executor=worker_pool)
        pending.append(asyncio.ensure_future(worker_call()))
        await asyncio.sleep(0.05)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
        release.set()
        worker_pool.shutdown(wait=True)
        assert outcome["loop"] is not loop
    finally:
        loop.close()


# -- 4. uvicorn keep-alive: a task inherits a finished CurrentThreadExecutor ----


@pytest.mark.timeout(30)
@pytest.mark.parametrize("request_context", [False, True])
async def test_task_created_in_last_send_routes_thread_sensitive_calls(
    request_context: bool,
) -> None:
    """The next request's task is created inside the previous request's last
    ``send()``, which a sync app made through async_to_sync; by the time it
    runs, that call (and its CurrentThreadExecutor) has finished."""
    next_requests: list[asyncio.Task[Any]] = []
    app_threads: list[threading.Thread] = []

    async def handle_request() -> threading.Thread:
        if request_context:
            async with ThreadSensitiveContext():
                return await sync_to_async(app)()
        return await sync_to_async(app)()

    async def send(message: str) -> None:
        if message == "last":
            # uvicorn's protocol starts the next pipelined request here.
            next_requests.append(asyncio.get_running_loop().create_task(handle_request()))

    def app() -> threading.Thread:
        app_threads.append(threading.current_thread())
        async_to_sync(send)("body")
        if len(next_requests) < 3:
            async_to_sync(send)("last")
        return threading.current_thread()

    first = await handle_request()
    results = [first]
    while len(results) <= len(next_requests):
        # Upstream: RuntimeError("CurrentThreadExecutor already quit or is broken").
        results.append(await next_requests[len(results) - 1])
    assert len(results) == 4
    assert results == app_threads
    assert all(thread is not threading.current_thread() for thread in results)


# -- 5. context values are compared by identity ---------------------------------


class _Touchy:
    eq_calls = 0

    def __eq__(self, other: object) -> bool:
        type(self).eq_calls += 1
        raise AssertionError("__eq__ must not run")

    def __ne__(self, other: object) -> bool:
        type(self).eq_calls += 1
        raise AssertionError("__ne__ must not run")

    __hash__ = object.__hash__


touchy: contextvars.ContextVar[_Touchy] = contextvars.ContextVar("touchy")


@pytest.mark.timeout(30)
async def test_sync_to_async_restores_context_without_eq() -> None:
    _Touchy.eq_calls = 0
    touchy.set(_Touchy())
    replacement = _Touchy()

    def replace() -> None:
        touchy.set(replacement)

    await sync_to_async(replace)()
    assert touchy.get() is replacement
    await sync_to_async(lambda: None)()
    assert _Touchy.eq_calls == 0


@pytest.mark.timeout(30)
def test_async_to_sync_restores_context_without_eq() -> None:
    _Touchy.eq_calls = 0
    touchy.set(_Touchy())
    replacement = _Touchy()

    async def replace() -> None:
        touchy.set(replacement)

    async_to_sync(replace)()
    assert touchy.get() is replacement
    assert _Touchy.eq_calls == 0


@pytest.mark.timeout(30)
def test_async_to_sync_fails_clearly_when_outer_loop_stops_mid_call() -> None:
    """The coroutine already started on the outer loop, which then stops for
    good: the waiting worker gets an error instead of waiting forever."""
    started = threading.Event()
    outcome: dict[str, Any] = {}
    worker_pool = ThreadPoolExecutor(max_workers=1)

    async def never_finishes() -> None:
        started.set()
        await asyncio.sleep(3600)

    def worker() -> None:
        try:
            async_to_sync(never_finishes)()
        except RuntimeError as exc:
            outcome["error"] = str(exc)

    pending: list[asyncio.Future[None]] = []

    async def main() -> None:
        worker_call = sync_to_async(worker, thread_sensitive=False, executor=worker_pool)
        pending.append(asyncio.ensure_future(worker_call()))
        await asyncio.to_thread(started.wait, 10)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
        worker_pool.shutdown(wait=True)  # returns only once the worker gave up
        assert "stopped before the coroutine completed" in outcome["error"]
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
