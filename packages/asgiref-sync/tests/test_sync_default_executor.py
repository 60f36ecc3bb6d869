"""``sync_to_async(thread_sensitive=False)`` without an executor: the work goes
where ``loop.run_in_executor(None, ...)`` would send it.

Where asgiref.local._cpython can name the loop's default executor, the bridge
submits to it directly instead of calling ``run_in_executor`` (one asyncio
future and a loop step fewer per call). These tests pin down what that
shortcut must not change: which executor runs the work, the error once the
executor is shut down, a loop class's own ``run_in_executor``, results,
exceptions, context values, and cancellation. They hold on either path.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import pytest

from asgiref.local import Local
from asgiref.sync import sync_to_async

seen_var: contextvars.ContextVar[str] = contextvars.ContextVar("seen_var", default="unset")


def _thread_name() -> str:
    return threading.current_thread().name


@pytest.mark.timeout(30)
async def test_the_work_runs_in_the_default_executor_set_on_the_loop_at_call_time() -> None:
    """A shortcut that remembered the first executor it found would keep
    using it after the loop was given another."""
    loop = asyncio.get_running_loop()
    first = ThreadPoolExecutor(2, thread_name_prefix="first-default")
    second = ThreadPoolExecutor(2, thread_name_prefix="second-default")
    try:
        loop.set_default_executor(first)
        names = [await sync_to_async(_thread_name, thread_sensitive=False)() for _ in range(3)]
        assert all(name.startswith("first-default") for name in names), names
        loop.set_default_executor(second)
        names = [await sync_to_async(_thread_name, thread_sensitive=False)() for _ in range(3)]
        assert all(name.startswith("second-default") for name in names), names
    finally:
        first.shutdown()
        second.shutdown()


@pytest.mark.timeout(30)
async def test_the_loops_own_default_executor_is_made_and_used_when_none_was_set() -> None:
    loop = asyncio.get_running_loop()
    names = {await sync_to_async(_thread_name, thread_sensitive=False)() for _ in range(5)}
    on_floor = await loop.run_in_executor(None, _thread_name)
    # The loop's default executor names its threads after its own prefix.
    prefix = on_floor.rsplit("_", 1)[0]
    assert all(name.rsplit("_", 1)[0] == prefix for name in names), (names, on_floor)


@pytest.mark.timeout(30)
def test_after_the_default_executor_shut_down_the_call_fails_as_run_in_executor_does() -> None:
    """The loop keeps its shut-down executor: submitting to it would fail
    with the executor's error, not the loop's."""

    async def errors() -> tuple[Any, Any]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _thread_name)  # makes the default executor
        await loop.shutdown_default_executor()

        async def floor() -> None:
            await loop.run_in_executor(None, _thread_name)

        async def bridged() -> None:
            await sync_to_async(_thread_name, thread_sensitive=False)()

        expected: Any = None
        got: Any = None
        try:
            await floor()
        except RuntimeError as exc:
            expected = (type(exc), str(exc))
        try:
            await bridged()
        except RuntimeError as exc:
            got = (type(exc), str(exc))
        return expected, got

    loop = asyncio.new_event_loop()
    try:
        expected, got = loop.run_until_complete(errors())
    finally:
        loop.close()
    assert expected is not None
    assert got == expected


class _CountingLoop(asyncio.SelectorEventLoop):
    """A loop class with its own ``run_in_executor`` (as instrumenting loops
    have): the bridge must keep going through it."""

    calls = 0

    # Looser than asyncio's generic signature: only counting matters here.
    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., Any], *args: Any
    ) -> Any:
        type(self).calls += 1
        return super().run_in_executor(executor, func, *args)


@pytest.mark.timeout(30)
def test_a_loop_class_with_its_own_run_in_executor_still_gets_every_call() -> None:
    async def calls() -> list[str]:
        return [await sync_to_async(_thread_name, thread_sensitive=False)() for _ in range(4)]

    _CountingLoop.calls = 0
    loop = _CountingLoop()
    try:
        loop.run_until_complete(calls())
        assert _CountingLoop.calls == 4
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@pytest.mark.timeout(30)
def test_a_run_in_executor_patched_onto_the_loop_object_still_gets_every_call() -> None:
    """Instrumentation may wrap the method on the loop object rather than on
    its class."""
    calls: list[object] = []
    loop = asyncio.new_event_loop()
    stock = loop.run_in_executor

    def counting(executor: Any, func: Callable[..., Any], *args: Any) -> Any:
        calls.append(func)
        return stock(executor, func, *args)

    vars(loop)["run_in_executor"] = counting

    async def run() -> list[str]:
        return [await sync_to_async(_thread_name, thread_sensitive=False)() for _ in range(4)]

    try:
        loop.run_until_complete(run())
        assert len(calls) == 4
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


class _BoomError(Exception):
    pass


@pytest.mark.timeout(30)
@pytest.mark.parametrize("executor", ["default", "configured"])
async def test_results_exceptions_and_context_values_cross_as_they_are(executor: str) -> None:
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(2, thread_name_prefix="configured")
    if executor == "configured":
        loop.set_default_executor(pool)
    else:
        # Made now, so that every call below can take the direct path.
        await loop.run_in_executor(None, _thread_name)
    local = Local()
    local.before = "from the caller"
    token = object()
    error = _BoomError("from the sync side")

    def body(fail: bool) -> object:
        assert local.before == "from the caller"
        seen_var.set("set in the sync code")
        local.after = "set in the sync code"
        if fail:
            raise error
        return token

    try:
        assert await sync_to_async(body, thread_sensitive=False)(False) is token
        assert seen_var.get() == "set in the sync code"
        assert local.after == "set in the sync code"
        seen_var.set("reset")
        with pytest.raises(_BoomError) as raised:
            await sync_to_async(body, thread_sensitive=False)(True)
        assert raised.value is error
        # The traceback reaches into the sync code that raised.
        assert any(frame.name == "body" for frame in raised.traceback), (
            "the sync code's frame is missing from the traceback"
        )
        assert seen_var.get() == "set in the sync code"
    finally:
        pool.shutdown()


@pytest.mark.timeout(30)
async def test_cancelling_the_caller_leaves_queued_work_to_run_and_its_values_behind() -> None:
    """Cancellation reaches the awaiting task only: work still queued in the
    executor runs anyway (the executor's future is never cancelled)."""
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(1, thread_name_prefix="one-worker")
    loop.set_default_executor(pool)
    release = threading.Event()
    ran = threading.Event()
    try:
        blocker = loop.run_in_executor(None, release.wait, 10)

        def queued() -> None:
            seen_var.set("from the cancelled call")
            ran.set()

        task = asyncio.ensure_future(sync_to_async(queued, thread_sensitive=False)())
        await asyncio.sleep(0)  # the call is submitted, behind the blocker
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        await blocker
        assert await loop.run_in_executor(None, ran.wait, 10), "the queued work never ran"
        assert seen_var.get() == "unset"
    finally:
        release.set()
        pool.shutdown()


class _RecordingExecutor(Executor):
    """A user's executor: runs each job in a new thread, records submits."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        future: Future[Any] = Future()

        def run() -> None:
            future.set_running_or_notify_cancel()
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=run, name="recording-executor").start()
        return future


@pytest.mark.timeout(30)
async def test_an_executor_given_to_sync_to_async_is_used_instead_of_the_default() -> None:
    executor = _RecordingExecutor()
    wrapped = sync_to_async(_thread_name, thread_sensitive=False, executor=executor)
    assert [await wrapped() for _ in range(3)] == ["recording-executor"] * 3
    assert executor.submitted == 3


def _raises_stop_iteration() -> None:
    raise StopIteration


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "how",
    ["first call on a loop", "loop with its own run_in_executor", "given executor"],
)
def test_stop_iteration_from_sync_code_is_an_error_on_every_path_not_a_hang(how: str) -> None:
    # asyncio cannot put a StopIteration into its own future: through
    # run_in_executor the call never finished (asgiref 3.13.0 hangs too).
    async def call() -> None:
        executor = ThreadPoolExecutor(1) if how == "given executor" else None
        wrapped = sync_to_async(_raises_stop_iteration, thread_sensitive=False, executor=executor)
        await asyncio.wait_for(wrapped(), 5)

    own = how == "loop with its own run_in_executor"
    loop = _CountingLoop() if own else asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError, match="StopIteration") as raised:
            loop.run_until_complete(call())
        assert isinstance(raised.value.__cause__, StopIteration)
    finally:
        loop.close()
