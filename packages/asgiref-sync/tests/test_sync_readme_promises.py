"""Attempts to break every promise that packages/asgiref-sync/README.md makes.

Each test names, in its docstring, the README sentence it attacks (quoted
from the README). The centre piece is a seeded, bounded generator of random
bridge chains that mixes nested calls both ways with BaseExceptions, timers
and tasks left behind, default-executor shutdowns, changed loop settings and
cancellations, and checks what the README promises after every chain, then
counts threads and file descriptors at the end. ASGIREF_PROMISE_SEED and
ASGIREF_PROMISE_CHAINS change the seed and the number of chains.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import os
import random
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

import asgiref.sync
from asgiref.compatibility import guarantee_single_callable, is_double_callable
from asgiref.current_thread_executor import CurrentThreadExecutor
from asgiref.local import Local
from asgiref.local._cpython import uses_private
from asgiref.sync import (
    AsyncSingleThreadContext,
    AsyncToSync,
    SyncToAsync,
    ThreadSensitiveContext,
    _loop_runner,
    async_to_sync,
    iscoroutinefunction,
    markcoroutinefunction,
    sync_to_async,
)
from asgiref.timeout import timeout

pytestmark = pytest.mark.timeout(120)

SEED = int(os.environ.get("ASGIREF_PROMISE_SEED", "20261204"))
CHAINS = int(os.environ.get("ASGIREF_PROMISE_CHAINS", "600"))

token_var: contextvars.ContextVar[int] = contextvars.ContextVar("promise_token", default=-1)
token_local = Local()


class CustomBaseError(BaseException):
    """A BaseException that is neither SystemExit nor KeyboardInterrupt."""


class PlainError(Exception):
    pass


RAISABLE: list[type[BaseException]] = [PlainError, CustomBaseError, SystemExit, KeyboardInterrupt]


# -- the random chains ----------------------------------------------------------------


@dataclass
class Step:
    """One node of a chain. Async kinds: s2a_ts, s2a_free, task, gather,
    leave_timer, leave_task, cancel_nested, leaf. Sync kinds: a2s,
    a2s_new_loop, leaf. ``raises`` (leaves only) is the exception type the
    leaf raises; ``own_loop`` marks async steps that run as the whole call on
    a loop of the bridge's own (where settings may change and the default
    executor may be shut down: a fresh asyncio.run would hide both)."""

    kind: str
    children: list[Step] = field(default_factory=list)
    raises: type[BaseException] | None = None
    own_loop: bool = False
    tamper: bool = False


MAX_DEPTH = 5


def plan_async(rng: random.Random, depth: int, own_loop: bool, spine: bool) -> Step:
    """``spine``: on the path whose exception reaches the root (branches of
    gather and left-behind work never raise, so the outcome is determined)."""
    tamper = own_loop and rng.random() < 0.3
    if depth >= MAX_DEPTH or rng.random() < 0.15:
        raises = rng.choice(RAISABLE) if spine and rng.random() < 0.25 else None
        return Step("leaf", raises=raises, own_loop=own_loop, tamper=tamper)
    kind = rng.choices(
        ["s2a_ts", "s2a_free", "task", "gather", "leave_timer", "leave_task", "cancel_nested"],
        [5, 3, 2, 1, 2, 2, 1],
    )[0]
    step = Step(kind, own_loop=own_loop, tamper=tamper)
    if kind in ("s2a_ts", "s2a_free"):
        step.children = [plan_sync(rng, depth + 1, spine)]
    elif kind == "gather":
        step.children = [plan_async(rng, depth + 1, False, False) for _ in range(2)]
    elif kind != "cancel_nested":
        step.children = [plan_async(rng, depth + 1, False, spine)]
    return step


def plan_sync(rng: random.Random, depth: int, spine: bool) -> Step:
    if depth >= MAX_DEPTH or rng.random() < 0.25:
        raises = rng.choice(RAISABLE) if spine and rng.random() < 0.25 else None
        return Step("leaf", raises=raises)
    kind = "a2s_new_loop" if rng.random() < 0.3 else "a2s"
    return Step(kind, [plan_async(rng, depth + 1, kind == "a2s_new_loop", spine)])


def expected_outcome(step: Step) -> type[BaseException] | None:
    """What the root caller gets: the first exception on the spine."""
    if step.kind == "leaf":
        return step.raises
    if step.kind in ("gather", "cancel_nested"):
        return None
    return expected_outcome(step.children[0])


@dataclass
class Traces:
    """What chains left behind, checked against the README's promises."""

    timers_fired: list[tuple[float, int]] = field(default_factory=list)
    leftovers_ended: dict[int, bool] = field(default_factory=dict)
    left_behind: list[asyncio.Task[None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def stamp(token: int) -> None:
    token_var.set(token)
    token_local.value = token


def check_arrival(token: int) -> None:
    assert token_var.get() == token, "a context variable did not travel"
    assert token_local.value == token, "a Local value did not travel"


def tamper_with(loop: asyncio.AbstractEventLoop) -> None:
    """Change every loop setting a call can change."""
    loop.set_exception_handler(lambda loop, context: None)
    loop.set_debug(not loop.get_debug())
    loop.slow_callback_duration = 7.5
    loop.set_task_factory(lambda loop, coro, **kwargs: asyncio.Task(coro, loop=loop, **kwargs))


def run_sync(step: Step, token: int, chain: int, traces: Traces) -> int:
    check_arrival(token)
    if step.kind == "leaf":
        if step.raises is not None:
            raise step.raises()
        return token
    mine = token + 1
    stamp(mine)
    wrapped = async_to_sync(run_async, force_new_loop=step.kind == "a2s_new_loop")
    back: int = wrapped(step.children[0], mine, chain, traces)
    check_arrival(back)  # what the async side set flowed back
    return back


async def run_async(step: Step, token: int, chain: int, traces: Traces) -> int:
    check_arrival(token)
    loop = asyncio.get_running_loop()
    mine = token + 1
    stamp(mine)
    if step.tamper:
        tamper_with(loop)
    child = step.children[0] if step.children else None
    result = mine
    if step.kind == "leaf":
        await asyncio.sleep(0)
        if step.raises is not None:
            raise step.raises()
    elif step.kind in ("s2a_ts", "s2a_free"):
        assert child is not None
        result = await sync_to_async(run_sync, thread_sensitive=step.kind == "s2a_ts")(
            child, mine, chain, traces
        )
        check_arrival(result)
    elif step.kind == "task":
        assert child is not None
        result = await asyncio.get_running_loop().create_task(run_async(child, mine, chain, traces))
        stamp(result)  # a task's changes stay in the task
    elif step.kind == "gather":
        await asyncio.gather(*(run_async(branch, mine, chain, traces) for branch in step.children))
        check_arrival(mine)
    elif step.kind == "leave_timer":
        assert child is not None

        def fired() -> None:
            with traces.lock:
                traces.timers_fired.append((time.monotonic(), chain))

        loop.call_later(0.01, fired)
        result = await run_async(child, mine, chain, traces)
    elif step.kind == "leave_task":
        assert child is not None
        key = id(step)

        async def forever() -> None:
            try:
                await asyncio.sleep(60)
            finally:
                traces.leftovers_ended[key] = True

        traces.leftovers_ended[key] = False
        traces.left_behind.append(loop.create_task(forever()))
        await asyncio.sleep(0)
        result = await run_async(child, mine, chain, traces)
    elif step.kind == "cancel_nested":
        await cancel_a_nested_call()
        check_arrival(mine)
    if step.own_loop and step.kind != "leaf":
        # As a call may do last thing; the next call must not notice.
        await loop.shutdown_default_executor()
    return result


async def cancel_a_nested_call() -> None:
    """Cancel a sync_to_async call while the sync code waits in
    async_to_sync: the cancellation must reach the nested async code."""
    awaiting: list[asyncio.Future[None]] = []
    reached: list[bool] = []

    async def cancels_its_caller() -> None:
        # Nested on the same loop: cancel the awaiting side from here.
        awaiting[0].cancel()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            reached.append(True)
            raise

    def blocks_in_async_to_sync() -> None:
        async_to_sync(cancels_its_caller)()

    awaiting.append(asyncio.ensure_future(sync_to_async(blocks_in_async_to_sync)()))
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(awaiting[0], timeout=10)
    assert reached == [True], "the cancellation did not reach the nested async code"


async def fresh_loop_view() -> tuple[Any, ...]:
    """What a call sees of its loop; compared with a fresh asyncio.run's."""
    loop = asyncio.get_running_loop()
    executor_works = await loop.run_in_executor(None, int, "1") == 1
    return (
        loop.get_exception_handler(),
        loop.get_task_factory(),
        loop.get_debug(),
        loop.slow_callback_duration,
        executor_works,
    )


def run_chains(seed: int, count: int, traces: Traces, errors: list[str]) -> None:
    rng = random.Random(seed)
    reference = asyncio.run(fresh_loop_view())
    for chain in range(count):
        step = plan_async(rng, 0, own_loop=True, spine=True)
        expected = expected_outcome(step)
        stamp(1000 * chain)
        got: type[BaseException] | None = None
        try:
            final = async_to_sync(run_async)(step, 1000 * chain, chain, traces)
            check_arrival(final)
        except BaseException as exc:
            got = type(exc)
        returned = time.monotonic()
        if got is not expected:
            errors.append(f"chain {chain} of seed {seed}: got {got}, expected {expected}")
        with traces.lock:
            late = [at for at, owner in traces.timers_fired if owner == chain and at > returned]
        if late:
            errors.append(f"chain {chain}: a timer it left fired after the call returned")
        if not all(traces.leftovers_ended.values()):
            errors.append(f"chain {chain}: a task it left was still running after it returned")
        traces.leftovers_ended.clear()
        traces.left_behind.clear()
        view = async_to_sync(fresh_loop_view)()
        if view != reference:
            errors.append(f"chain {chain}: the next call saw {view}, a fresh loop {reference}")


def test_random_chains_keep_every_promise(bridge_helpers: Any, no_idle_loops: None) -> None:
    """README, all at once, under random nesting:

    "call sync code from async code and back, with context variables, `Local`
    values and `sys.exc_info()` travelling both ways";
    "Every call sees what a fresh `asyncio.run` would give it. What a call
    leaves behind is cleaned up as `asyncio.run` cleans it before the call
    returns: tasks are cancelled and awaited, async generators are closed, and
    the default executor is shut down, which waits for its work. Settings the
    call changed (exception handler, debug mode, `slow_callback_duration`,
    task factory) are put back, and a loop left with anything else (a pending
    timer or callback, ...) is closed and replaced before the call returns.";
    "A `SystemExit`, `KeyboardInterrupt` or other `BaseException` raised by
    the coroutine, or by a task or callback it started, reaches the caller as
    upstream delivers it, and the next call works."
    """
    threads_before = threading.active_count()
    fds_before = bridge_helpers.open_fd_count()
    errors: list[str] = []
    drivers = 2
    pool = ThreadPoolExecutor(max_workers=drivers, thread_name_prefix="chain-driver")
    try:
        runs = [
            pool.submit(run_chains, SEED * 7 + index, CHAINS // drivers, Traces(), errors)
            for index in range(drivers)
        ]
        for run in runs:
            run.result(timeout=100)  # what a driver raised, or TimeoutError: a chain hung
    finally:
        pool.shutdown(wait=False)
    assert not errors, errors[:10]
    # Nothing is left running: every thread and descriptor the chains used
    # (loop threads, thread-sensitive threads, default executors) is gone
    # once the idle loop threads are closed; the process-wide
    # thread-sensitive thread may have started (+1).
    bridge_helpers.close_idle_loops()
    assert bridge_helpers.settle(lambda: threading.active_count() <= threads_before + 1, 15), [
        thread.name for thread in threading.enumerate()
    ]
    assert bridge_helpers.settle(lambda: bridge_helpers.open_fd_count() <= fds_before, 15)


# -- the modules --------------------------------------------------------------------


def test_exc_info_travels_both_ways() -> None:
    """README: "with context variables, `Local` values and `sys.exc_info()`
    travelling both ways" (here: exc_info, through four crossings)."""
    seen: list[Any] = []

    def innermost() -> None:
        seen.append(sys.exc_info()[1])

    async def middle() -> None:
        seen.append(sys.exc_info()[1])
        await sync_to_async(innermost)()

    def outer_sync() -> None:
        seen.append(sys.exc_info()[1])
        async_to_sync(middle)()

    async def outer_async() -> None:
        await sync_to_async(outer_sync)()

    error = PlainError("being handled")
    try:
        raise error
    except PlainError:
        async_to_sync(outer_async)()
    assert seen == [error, error, error]


@pytest.mark.timeout(60)
async def test_thread_sensitive_context_gives_each_request_its_thread() -> None:
    """README: "`ThreadSensitiveContext` (one thread per request for
    thread-sensitive code, optionally with your own executor)"."""
    own = ThreadPoolExecutor(max_workers=1)
    own_thread = own.submit(threading.current_thread).result()
    per_request: list[set[threading.Thread]] = []

    async def request(index: int) -> None:
        seen: set[threading.Thread] = set()
        async with ThreadSensitiveContext(executor=own if index == 0 else None):
            for _ in range(5):
                # From tasks too: they share the request's thread.
                seen.add(await asyncio.create_task(sync_to_async(threading.current_thread)()))
                await asyncio.sleep(0)
        per_request.append(seen)

    try:
        await asyncio.gather(*(request(index) for index in range(4)))
    finally:
        own.shutdown()
    assert all(len(seen) == 1 for seen in per_request)
    threads = [next(iter(seen)) for seen in per_request]
    assert len(set(threads)) == 4
    assert own_thread in threads


@pytest.mark.timeout(60)
def test_async_single_thread_context_keeps_one_loop_thread_under_churn(
    monkeypatch: pytest.MonkeyPatch, no_idle_loops: None
) -> None:
    """README: "Inside an `AsyncSingleThreadContext`, calls run on one loop
    thread of that context's own, as upstream's do." Other threads churn the
    pool meanwhile, and a nested call that finds the thread busy does not
    wait for it."""
    monkeypatch.setattr(_loop_runner, "_IDLE_SECONDS", 0.05)
    stop = threading.Event()

    async def nothing() -> None:
        await asyncio.sleep(0)

    def churn() -> None:
        while not stop.is_set():
            async_to_sync(nothing)()

    async def where() -> threading.Thread:
        return threading.current_thread()

    async def nested() -> threading.Thread:
        return await sync_to_async(async_to_sync(where, force_new_loop=True))()

    churners = [threading.Thread(target=churn) for _ in range(3)]
    for thread in churners:
        thread.start()
    try:
        with AsyncSingleThreadContext():
            threads = []
            for _ in range(10):
                threads.append(async_to_sync(where)())
                time.sleep(0.02)
            inner = async_to_sync(nested)()
    finally:
        stop.set()
        for thread in churners:
            thread.join(10)
    assert len(set(threads)) == 1
    assert inner is not threads[0]


@pytest.mark.skipif(not uses_private("legacy_mark"), reason="legacy_mark forced off")
def test_coroutine_marking_is_seen_by_every_checker() -> None:
    """README: "`iscoroutinefunction` and `markcoroutinefunction`"."""

    class Handler:
        def __call__(self) -> Any:
            return asyncio.sleep(0)

    handler = markcoroutinefunction(Handler())
    assert iscoroutinefunction(handler)
    if sys.version_info >= (3, 12):
        assert inspect.iscoroutinefunction(handler)
    else:
        assert asyncio.iscoroutinefunction(handler)
    assert not iscoroutinefunction(lambda: None)


def test_local_is_per_thread_in_sync_code_and_carried_across_bridges() -> None:
    """README: "`Local`, attribute storage local to a thread in sync code and
    to a task in async code, carried across the bridges;
    `Local(thread_critical=True)` is strictly per thread.\""""
    shared, critical = Local(), Local(thread_critical=True)
    shared.value = critical.value = "main"
    seen: dict[str, Any] = {}

    def other_thread() -> None:
        seen["shared"] = getattr(shared, "value", None)
        seen["critical"] = getattr(critical, "value", None)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(10)

    async def in_async() -> None:
        seen["async_shared"] = shared.value
        seen["async_critical"] = getattr(critical, "value", None)
        shared.value = "from async"
        critical.value = "async only"

        async def child() -> None:
            shared.value = "child task"

        await asyncio.create_task(child())
        seen["after_child"] = shared.value

    async_to_sync(in_async)()
    assert seen == {
        "shared": None,
        "critical": None,
        "async_shared": "main",
        "async_critical": None,
        "after_child": "from async",
    }
    assert shared.value == "from async"
    assert critical.value == "main"


def test_the_waiting_thread_serves_through_a_current_thread_executor() -> None:
    """README: "`CurrentThreadExecutor`, the executor through which a waiting
    sync thread runs thread-sensitive work" and the example's "Thread-sensitive
    by default: runs on the thread that called async_to_sync." (from a thread
    that is not the main thread, and from a task created in the call)."""
    found: dict[str, Any] = {}

    async def inside() -> None:
        found["executor"] = AsyncToSync.executors.current
        found["direct"] = await sync_to_async(threading.current_thread)()
        task = asyncio.create_task(sync_to_async(threading.current_thread)())
        found["task"] = await task

    def caller() -> None:
        found["caller"] = threading.current_thread()
        async_to_sync(inside)()

    thread = threading.Thread(target=caller)
    thread.start()
    thread.join(20)
    assert isinstance(found["executor"], CurrentThreadExecutor)
    assert found["direct"] is found["caller"] is found["task"]


# -- asgiref.compatibility and asgiref.timeout -----------------------------------------


def test_guarantee_single_callable_detection_and_overrides() -> None:
    """README: "`guarantee_single_callable(app)`, which servers and test
    harnesses call once to always get an ASGI 3 callable. Classes count as
    ASGI 2; `_asgi_single_callable` / `_asgi_double_callable` attributes on
    the application override the detection.\""""

    class Asgi2:
        def __init__(self, scope: Any) -> None:
            self.scope = scope

        async def __call__(self, receive: Any, send: Any) -> None:
            await send(self.scope)

    async def asgi3(scope: Any, receive: Any, send: Any) -> None:
        await send(scope)

    class MarkedSingle:
        _asgi_single_callable = True

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await send(scope)

    def marked_double(scope: Any) -> Any:
        async def instance(receive: Any, send: Any) -> None:
            await send(scope)

        return instance

    marked_double._asgi_double_callable = True  # type: ignore[attr-defined]
    assert is_double_callable(Asgi2)
    assert not is_double_callable(asgi3)
    assert not is_double_callable(MarkedSingle())
    assert is_double_callable(marked_double)
    for app in (Asgi2, asgi3, MarkedSingle(), marked_double):
        sent: list[Any] = []

        async def send(message: Any, sent: list[Any] = sent) -> None:
            sent.append(message)

        single = guarantee_single_callable(app)
        asyncio.run(single({"type": "x"}, None, send))
        assert sent == [{"type": "x"}]


def test_timeout_cancels_the_block_and_raises_the_builtin_timeout_error() -> None:
    """README: "when it expires, the block's task is cancelled and the builtin
    `TimeoutError` is raised (on 3.10 it is also an `asyncio.TimeoutError`),
    with `.expired` and `.remaining`. It is deprecated (it warns) in favour of
    `asyncio.timeout`, but works on every supported Python".
    """

    async def main() -> tuple[bool, bool, float | None]:
        with pytest.warns(DeprecationWarning, match="deprecated"):
            guard = timeout(0.05)
        with pytest.raises(TimeoutError) as info:
            async with guard:
                await asyncio.sleep(5)
        if sys.version_info < (3, 11):
            assert isinstance(info.value, asyncio.TimeoutError)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            roomy = timeout(5)
        with roomy:
            await asyncio.sleep(0)
        return guard.expired, roomy.expired, roomy.remaining

    expired, roomy_expired, remaining = asyncio.run(main())
    assert expired
    assert not roomy_expired
    assert remaining is not None
    assert 0 < remaining <= 5


# -- what differs from upstream ------------------------------------------------------


def test_hooks_patched_on_the_classes_reach_running_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """README: "Same names, call shapes and internal hooks
    (`SyncToAsync.thread_handler`, `AsyncToSync.main_wrap`, the class
    attributes that Django, Channels and APM agents use)"."""
    calls: list[str] = []
    real_handler = SyncToAsync.thread_handler
    real_main_wrap = AsyncToSync.main_wrap

    def handler(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("thread_handler")
        return real_handler(self, *args, **kwargs)

    async def main_wrap(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append("main_wrap")
        await real_main_wrap(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "thread_handler", handler)
    monkeypatch.setattr(AsyncToSync, "main_wrap", main_wrap)

    async def outer() -> int:
        return await sync_to_async(int)("5")

    assert async_to_sync(outer)() == 5
    assert calls == ["main_wrap", "thread_handler"]


def test_context_is_captured_before_the_result_under_contention() -> None:
    """README: "`async_to_sync` captures the async side's context before
    handing back the result, so the caller never misses context-variable or
    `Local` changes." Four threads at once, the last change made in the very
    step that returns."""
    errors: list[str] = []
    local = Local()

    async def set_and_return(value: int) -> int:
        token_var.set(value)
        local.value = value
        return value

    def caller(base: int) -> None:
        for value in range(base, base + 150):
            async_to_sync(set_and_return)(value)
            if token_var.get() != value or local.value != value:
                errors.append(f"missed {value}")

    threads = [threading.Thread(target=caller, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors


@pytest.mark.timeout(60)
async def test_a_failed_schedule_leaves_no_deadlock_flag() -> None:
    """README: "A failure while scheduling a thread-sensitive call no longer
    leaves the "would deadlock" flag set.\""""

    class RefusesOnce(ThreadPoolExecutor):
        refused = False

        def submit(self, *args: Any, **kwargs: Any) -> Any:
            if not self.refused:
                self.refused = True
                raise RuntimeError("refused")
            return super().submit(*args, **kwargs)

    executor = RefusesOnce(max_workers=1)
    try:
        async with ThreadSensitiveContext(executor=executor):
            with pytest.raises(RuntimeError, match="refused"):
                await sync_to_async(int)("1")
            for _ in range(5):
                assert await sync_to_async(int)("2") == 2
    finally:
        executor.shutdown()


@pytest.mark.timeout(60)
def test_a_stopped_outer_loop_never_parks_async_to_sync() -> None:
    """README: "An outer event loop that stopped without closing
    (pytest-asyncio between tests) never makes `async_to_sync` wait forever: a
    call it never started is rerun on a loop of our own, one it started fails
    with a clear error.\""""
    loop = asyncio.new_event_loop()
    outcomes: dict[str, Any] = {}
    ready = threading.Event()
    proceed = threading.Event()

    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def hang_until_stopped() -> None:
        asyncio.get_running_loop().call_soon(asyncio.get_running_loop().stop)
        await asyncio.sleep(30)

    def worker() -> None:
        ready.set()
        proceed.wait(10)
        outcomes["rerun_on"] = async_to_sync(where)()

    pending: list[asyncio.Future[None]] = []

    async def main() -> None:
        pending.append(asyncio.ensure_future(sync_to_async(worker, thread_sensitive=False)()))
        await asyncio.to_thread(ready.wait, 10)

    try:
        loop.run_until_complete(main())  # the loop stops, the worker waits
        proceed.set()
        deadline = time.monotonic() + 15
        while "rerun_on" not in outcomes and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outcomes.get("rerun_on") not in (None, loop)

        def started_then_stopped() -> None:
            try:
                async_to_sync(hang_until_stopped)()
            except RuntimeError as exc:
                outcomes["error"] = str(exc)

        async def main2() -> None:
            await sync_to_async(started_then_stopped, thread_sensitive=False)()

        task = loop.create_task(main2())
        loop.run_forever()  # stopped by hang_until_stopped
        deadline = time.monotonic() + 15
        while "error" not in outcomes and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "stopped before the coroutine completed" in outcomes.get("error", "")
        loop.run_until_complete(task)
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@pytest.mark.timeout(60)
async def test_a_task_that_inherited_a_finished_executor_reaches_a_live_thread() -> None:
    """README: "A task that inherited a finished `CurrentThreadExecutor`
    (uvicorn keep-alive: the next request's task is created during the
    previous request's last `send`) has its thread-sensitive calls routed to a
    live thread instead of failing.\""""
    later: list[asyncio.Task[threading.Thread]] = []

    async def last_send() -> None:
        async def next_request() -> threading.Thread:
            await asyncio.sleep(0.05)  # the previous call has ended by now
            return await sync_to_async(threading.current_thread)()

        later.append(asyncio.get_running_loop().create_task(next_request()))

    def previous_request() -> None:
        async_to_sync(last_send)()

    await sync_to_async(previous_request)()
    thread = await asyncio.wait_for(later[0], 20)
    assert thread.is_alive()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["given executor", "request context", "waiting sync thread"])
def test_a_real_deadlock_raises_naming_the_executor(where: str) -> None:
    """README: "A real deadlock (thread-sensitive code blocking its own
    thread on async code that needs that thread) raises `RuntimeError` naming
    the executor, for `ThreadSensitiveContext` executors and waiting sync
    threads as well. Not detected (it hangs, as upstream's does): a block that
    goes through `async_to_sync` into a `ThreadSensitiveContext(executor=...)`
    given the blocked thread's own executor." (The undetected case is not run:
    it hangs.)"""
    own = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mine")

    async def needs_the_thread() -> None:
        await sync_to_async(lambda: None)()

    def blocks_its_thread(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.run_coroutine_threadsafe(needs_the_thread(), loop).result(timeout=20)

    async def request() -> None:
        loop = asyncio.get_running_loop()
        if where == "given executor":
            async with ThreadSensitiveContext(executor=own):
                await sync_to_async(blocks_its_thread)(loop)
        else:
            async with ThreadSensitiveContext():
                await sync_to_async(blocks_its_thread)(loop)

    def run() -> None:
        if where == "waiting sync thread":
            # The waiting thread of async_to_sync is the one blocked.
            async_to_sync(request)()
        else:
            asyncio.run(request())

    try:
        with pytest.raises(RuntimeError, match="would deadlock") as info:
            run()
    finally:
        own.shutdown()
    named = {
        "given executor": "ThreadPoolExecutor",
        "request context": "thread-sensitive",
        "waiting sync thread": "CurrentThreadExecutor",
    }[where]
    assert named in str(info.value)


@pytest.mark.timeout(60)
async def test_leaving_a_context_waits_for_its_work_without_blocking_the_loop() -> None:
    """README: "Leaving a `ThreadSensitiveContext` waits until the
    thread-sensitive work started inside it has returned, as upstream does,
    but without blocking the event loop (upstream blocks it in a thread-pool
    shutdown, so sync work that needs the loop to finish cannot)."
    """
    returned = threading.Event()
    started = threading.Event()
    ticks: list[float] = []

    async def on_the_loop() -> str:
        await asyncio.sleep(0.2)
        return "loop"

    def needs_the_loop() -> None:
        started.set()
        try:
            assert async_to_sync(on_the_loop)() == "loop"
        finally:
            returned.set()

    async def heartbeat() -> None:
        while not returned.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    work: list[asyncio.Future[None]] = []

    async def request() -> None:
        async with ThreadSensitiveContext():
            # Started and not awaited: the request ends while it runs.
            work.append(asyncio.ensure_future(sync_to_async(needs_the_loop)()))
            await asyncio.to_thread(started.wait, 10)
        assert returned.is_set(), "the context was left before its work returned"

    beat = asyncio.create_task(heartbeat())
    await asyncio.wait_for(request(), 20)
    await beat
    assert len(ticks) >= 5, "the event loop was blocked while leaving the context"


def test_thread_critical_values_and_inherited_contexts_stay_apart() -> None:
    """README: "`Local(thread_critical=True)` values set by async code are
    never carried across a bridge; a thread that merely inherits a copied
    context (`thread_inherit_context`) sees no `Local` values of its parent,
    and a thread that reuses the ident of an ended thread (Linux hands idents
    out again at once) does not see the values that thread left in a
    context.\""""
    critical, shared = Local(thread_critical=True), Local()
    seen: dict[str, Any] = {}

    def sync_side() -> None:
        seen["across"] = getattr(critical, "value", None)

    async def async_side() -> None:
        critical.value = "async"
        await sync_to_async(sync_side)()

    async_to_sync(async_side)()
    shared.value = "parent"
    inherited = contextvars.copy_context()
    left_behind: list[contextvars.Context] = []

    def in_copied_context() -> None:
        seen["inherited"] = getattr(shared, "value", None)

    def ended_thread() -> None:
        shared.value = "ended"
        left_behind.append(contextvars.copy_context())

    def reader() -> None:
        seen["reused_ident"] = left_behind[0].run(getattr, shared, "value", None)

    for target in (lambda: inherited.run(in_copied_context), ended_thread, reader):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join(10)
    assert seen == {"across": None, "inherited": None, "reused_ident": None}


@pytest.mark.timeout(60)
def test_an_abandoned_call_finalised_elsewhere_fails_its_caller() -> None:
    """README: "A bridge call whose task is destroyed while pending (its loop
    was dropped) is finalised by the garbage collector in whatever thread and
    context it happens to run in; our clean-up then leaves that context alone
    (upstream copies the abandoned call's context variables into it) and tells
    a waiting `async_to_sync` caller with a `RuntimeError`.\""""
    victim: contextvars.ContextVar[str] = contextvars.ContextVar("victim", default="mine")
    errors: list[str] = []
    started = threading.Event()
    holder: list[Any] = []

    async def stuck() -> None:
        victim.set("abandoned call")
        started.set()
        await asyncio.Event().wait()

    def caller() -> None:
        try:
            async_to_sync(stuck)()
        except RuntimeError as exc:
            errors.append(str(exc))

    async def outer() -> None:
        holder.append(asyncio.ensure_future(sync_to_async(caller, thread_sensitive=False)()))
        await asyncio.to_thread(started.wait, 10)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(outer())
    # Drop the loop with the nested call's task pending: finalise its
    # coroutine here, in this thread's context, as the collector would.
    for task in asyncio.all_tasks(loop):
        coro = task.get_coro()
        assert coro is not None
        if getattr(coro, "__qualname__", "").endswith("main_wrap"):
            coro.close()
    assert victim.get() == "mine"
    deadline = time.monotonic() + 15
    while not errors and time.monotonic() < deadline:
        time.sleep(0.02)
    assert errors
    assert "dropped" in errors[0]
    holder.clear()
    for task in asyncio.all_tasks(loop):
        task.cancel()
    loop.run_until_complete(asyncio.sleep(0.05))
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    gc.collect()


def test_restore_context_moves_values_but_not_bridge_bookkeeping() -> None:
    """README: "`asgiref.sync._restore_context(context)` copies the values of
    `context` into the current context and makes its `Local` values this
    thread's own, as upstream's does, but leaves the bridge's own deadlock
    bookkeeping and thread-critical `Local` values where they are.\""""
    shared, critical = Local(), Local(thread_critical=True)
    captured: list[contextvars.Context] = []

    async def elsewhere() -> None:
        token_var.set(77)
        shared.value = "moved"
        critical.value = "stays"
        SyncToAsync.deadlock_context.set("bookkeeping")
        captured.append(contextvars.copy_context())

    thread = threading.Thread(target=lambda: asyncio.run(elsewhere()))
    thread.start()
    thread.join(10)

    def here() -> tuple[Any, ...]:
        asgiref.sync._restore_context(captured[0])
        return (
            token_var.get(),
            shared.value,
            getattr(critical, "value", None),
            SyncToAsync.deadlock_context.get(None),
        )

    assert contextvars.Context().run(here) == (77, "moved", None, None)


async def _thread_name() -> str:
    return threading.current_thread().name


async def test_thread_sensitive_threads_are_named_apart() -> None:
    """README: "Thread-sensitive worker threads have distinct names that say
    what they serve: `asgiref-thread-sensitive-process_0` for the
    process-wide one and `asgiref-thread-sensitive-context-<n>_0` for each
    `ThreadSensitiveContext` (upstream's are `ThreadPoolExecutor-<n>_0`), so
    `%(threadName)s` in logs tells concurrent requests apart.\""""
    all_in = asyncio.Event()
    names: list[str] = []

    async def request() -> None:
        async with ThreadSensitiveContext():
            names.append(await sync_to_async(lambda: threading.current_thread().name)())
            if len(names) == 3:
                all_in.set()
            await all_in.wait()  # the three contexts are open at once

    await asyncio.wait_for(asyncio.gather(*(request() for _ in range(3))), 20)
    shared = await sync_to_async(lambda: threading.current_thread().name)()
    assert shared == "asgiref-thread-sensitive-process_0"
    assert len(set(names)) == 3
    assert all(
        name.startswith("asgiref-thread-sensitive-context-") and name.endswith("_0")
        for name in names
    )


# -- event loops of async_to_sync ------------------------------------------------------


@pytest.mark.skipif(not uses_private("loop_state"), reason="loop_state forced off")
def test_does_not_start_a_thread_and_a_loop_for_every_call(no_idle_loops: None) -> None:
    """README: "`async_to_sync` from a thread without an event loop does not
    start a thread and a loop for every call, as upstream does"."""
    threads, loops = set(), set()

    async def record() -> None:
        threads.add(threading.current_thread())
        loops.add(id(asyncio.get_running_loop()))

    for _ in range(50):
        async_to_sync(record)()
    assert len(threads) == 1
    assert len(loops) == 1


def test_a_replaced_loop_is_closed_and_a_changed_policy_gives_a_new_loop(
    bridge_helpers: Any,
) -> None:
    """README: "a loop left with anything else (a pending timer or callback, a
    registered file descriptor, a shut-down executor, a changed event loop
    policy) is closed and replaced before the call returns."
    """
    seen: list[asyncio.AbstractEventLoop] = []

    class MarkedLoop(asyncio.SelectorEventLoop):
        pass

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.14+
        default_policy: Any = getattr(asyncio, "DefaultEventLoopPolicy", None)
    if default_policy is None:
        pytest.skip("event loop policies are gone from this Python")

    class Policy(default_policy):  # type: ignore[misc]
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            return MarkedLoop()

    async def leave_a_callback() -> None:
        seen.append(asyncio.get_running_loop())
        asyncio.get_running_loop().call_soon(lambda: None)
        asyncio.get_running_loop().call_later(30, lambda: None)

    async def loop_type() -> type:
        return type(asyncio.get_running_loop())

    def scenario() -> tuple[bool, type, type]:
        async_to_sync(leave_a_callback)()
        closed = seen[0].is_closed()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = asyncio.get_event_loop_policy()
            asyncio.set_event_loop_policy(Policy())
        try:
            first = async_to_sync(loop_type)()  # made before the change: replaced after
            second = async_to_sync(loop_type)()
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                asyncio.set_event_loop_policy(old)
        return closed, first, second

    outcome = bridge_helpers.outcome_in_thread(scenario)
    assert outcome.raised is None, outcome.raised
    closed, _first, second = outcome.value
    assert closed
    assert second is MarkedLoop
    bridge_helpers.close_idle_loops()  # none of the marked loops stays around


@pytest.mark.timeout(60)
def test_idle_loop_threads_are_bounded_and_released(
    bridge_helpers: Any, no_idle_loops: None
) -> None:
    """README: "No call waits for another call's loop: each takes an idle loop
    thread or starts one. At most `max(2, os.cpu_count())` idle loop threads
    are kept; one whose call overlapped others closes after 5 seconds idle,
    so a process that stops calling keeps at most one idle loop thread (three
    file descriptors)." Real time: about 6 seconds."""
    assert _loop_runner._IDLE_SECONDS == 5.0
    fds_before = bridge_helpers.open_fd_count()
    seen = bridge_helpers.overlapping_calls(12)
    assert len({loop for _, loop in seen}) == 12
    kept = max(2, os.cpu_count() or 1)
    assert len(_loop_runner._pool.idle) <= kept
    # Those beyond the bound close at once (their threads end within moments),
    # long before the idle timeout.
    assert bridge_helpers.settle(lambda: len(bridge_helpers.loop_threads()) <= kept, 2)
    assert bridge_helpers.settle(lambda: len(bridge_helpers.loop_threads()) <= 1, 8)
    assert bridge_helpers.settle(lambda: bridge_helpers.open_fd_count() <= fds_before + 3, 5)


@pytest.mark.timeout(60)
def test_a_caller_never_waits_forever_for_an_ended_loop_thread(
    monkeypatch: pytest.MonkeyPatch, no_idle_loops: None
) -> None:
    """README: "A caller never waits forever for a loop thread that has
    ended: it checks, four times a second, and fails with `RuntimeError`.\""""
    assert _loop_runner._LIVENESS_POLL_SECONDS == 0.25
    monkeypatch.setattr(_loop_runner.LoopRunner, "_serve", lambda self: None)

    async def never_runs() -> None:
        await asyncio.sleep(0)

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="ended before the coroutine completed"):
        async_to_sync(never_runs)()
    assert time.monotonic() - started < 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the never-run coroutine
        gc.collect()


@pytest.mark.skipif(not uses_private("loop_state"), reason="loop_state forced off")
def test_the_loop_object_outlives_its_call(bridge_helpers: Any) -> None:
    """README: "Differences that remain: the loop object itself is reused, so
    code that keeps a reference to it after its call can still schedule work
    on it (on upstream's closed loop that raises `RuntimeError`).\""""
    kept: list[asyncio.AbstractEventLoop] = []
    ran = threading.Event()

    async def keep_the_loop() -> None:
        kept.append(asyncio.get_running_loop())

    def scenario() -> bool:
        async_to_sync(keep_the_loop)()
        kept[0].call_soon_threadsafe(ran.set)
        return ran.wait(5)

    assert bridge_helpers.outcome_in_thread(scenario).value is True


def test_promises_cover_every_readme_bullet() -> None:
    """Every bullet of the README's "What differs" and "Event loops" lists is
    quoted by a test docstring of this module (a new promise needs a test)."""
    readme = (__import__("pathlib").Path(__file__).resolve().parent.parent / "README.md").read_text(
        encoding="utf-8"
    )
    section = readme.split("## What differs from upstream asgiref 3.13.0", 1)[1]
    section = section.split("\n## Upstream names", 1)[0]
    bullets = [" ".join(chunk.split()) for chunk in section.split("\n- ")[1:] if chunk.strip()]
    docs = " ".join(
        " ".join((function.__doc__ or "").split())
        for name, function in globals().items()
        if name.startswith("test_") and callable(function)
    )
    missing = [bullet[:60] for bullet in bullets if " ".join(bullet.split()[:6]) not in docs]
    assert not missing, missing
