"""The call shapes and internal hooks that Django, Channels and APM agents use."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import os
import sys
import threading
import typing
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import asgiref.sync
from asgiref.current_thread_executor import CurrentThreadExecutor
from asgiref.local import Local
from asgiref.local._cpython import uses_private
from asgiref.sync import (
    AsyncSingleThreadContext,
    AsyncToSync,
    SyncToAsync,
    ThreadSensitiveContext,
    async_to_sync,
    iscoroutinefunction,
    markcoroutinefunction,
    sync_to_async,
)

flag: contextvars.ContextVar[str] = contextvars.ContextVar("flag", default="unset")


def test_class_attributes_have_their_documented_types() -> None:
    assert isinstance(SyncToAsync.threadlocal, threading.local)
    assert isinstance(SyncToAsync.single_thread_executor, ThreadPoolExecutor)
    assert isinstance(SyncToAsync.thread_sensitive_context, contextvars.ContextVar)
    assert isinstance(SyncToAsync.deadlock_context, contextvars.ContextVar)
    assert isinstance(SyncToAsync.context_to_thread_executor, weakref.WeakKeyDictionary)
    assert isinstance(AsyncToSync.executors, Local)
    assert isinstance(AsyncToSync.loop_thread_executors, dict)
    assert isinstance(AsyncToSync.async_single_thread_context, contextvars.ContextVar)
    assert isinstance(AsyncToSync.context_to_thread_executor, weakref.WeakKeyDictionary)


@pytest.mark.skipif(not uses_private("legacy_mark"), reason="legacy_mark forced off")
def test_coroutine_function_detection() -> None:
    def plain() -> None:
        pass

    async def native() -> None:
        pass

    wrapped = sync_to_async(plain)
    assert iscoroutinefunction(wrapped)
    assert not iscoroutinefunction(sync_to_async)
    assert not iscoroutinefunction(plain)
    assert iscoroutinefunction(native)
    assert iscoroutinefunction(functools.partial(native))
    if sys.version_info >= (3, 12):
        assert inspect.iscoroutinefunction(wrapped)
    else:
        assert asyncio.iscoroutinefunction(wrapped)
        legacy_marker = vars(asyncio.coroutines)["_is_coroutine"]
        assert getattr(wrapped, "_is_coroutine", None) is legacy_marker

    class Handler:
        def __call__(self) -> Any:
            return native()

    handler = markcoroutinefunction(Handler())
    assert iscoroutinefunction(handler)


def test_wrappers_keep_metadata_and_accept_decorator_forms() -> None:
    def documented(x: int) -> int:
        """Doubles."""
        return x * 2

    wrapped = sync_to_async(documented)
    assert getattr(wrapped, "__name__", None) == "documented"
    assert wrapped.__doc__ == "Doubles."
    assert getattr(wrapped, "__wrapped__", None) is documented
    assert isinstance(sync_to_async(thread_sensitive=False)(documented), SyncToAsync)

    async def adocumented() -> int:
        """Async."""
        return 1

    assert isinstance(async_to_sync(adocumented), AsyncToSync)
    assert isinstance(async_to_sync(force_new_loop=True)(adocumented), AsyncToSync)
    assert async_to_sync(adocumented).__doc__ == "Async."


def test_rejections() -> None:
    async def coroutine_function() -> None:
        pass

    class AsyncCallable:
        async def __call__(self) -> None:
            pass

    bad_callables: list[Any] = [
        coroutine_function,
        AsyncCallable(),
        functools.partial(coroutine_function),
        1,
    ]
    for bad in bad_callables:
        with pytest.raises(TypeError, match="only be applied to sync functions"):
            sync_to_async(bad)
    with pytest.raises(TypeError):
        sync_to_async(print, thread_sensitive=True, executor=ThreadPoolExecutor(1))
    not_async: Any = print
    with pytest.warns(UserWarning, match="non-async-marked"):
        async_to_sync(not_async)


def test_bridge_classes_subscript_at_runtime() -> None:
    # Annotations evaluated at runtime (typing.get_type_hints, pydantic, ...)
    # and subclasses of a parametrised bridge class need this.
    alias: Any = SyncToAsync[[int], str]
    assert alias.__origin__ is SyncToAsync
    assert alias.__args__ == ((int,), str)  # typing.Generic's spelling, as upstream's
    alias = AsyncToSync[..., int]
    assert alias.__origin__ is AsyncToSync

    def annotated(wrapper: SyncToAsync[[int], int]) -> AsyncToSync[[], None]:
        raise NotImplementedError

    hints = typing.get_type_hints(annotated, localns={"SyncToAsync": SyncToAsync})
    assert hints["wrapper"].__origin__ is SyncToAsync
    assert hints["return"].__origin__ is AsyncToSync

    class Tagged(AsyncToSync[Any, Any]):
        pass

    assert issubclass(Tagged, AsyncToSync)


@pytest.mark.timeout(30)
async def test_thread_handler_override_sees_partial_and_can_pop_kwargs() -> None:
    seen: list[functools.partial[Any]] = []

    class Agent(SyncToAsync[Any, Any]):
        def thread_handler(
            self,
            loop: asyncio.AbstractEventLoop,
            exc_info: Any,
            task_context: Any,
            func: Any,
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            child = args[0]
            seen.append(child)
            child.keywords.pop("_apm", None)
            return super().thread_handler(loop, exc_info, task_context, func, *args, **kwargs)

    def add(a: int, b: int) -> int:
        return a + b

    assert await Agent(add)(1, b=2, _apm=True) == 3
    assert isinstance(seen[0], functools.partial)
    assert seen[0].func is add


@pytest.mark.timeout(30)
async def test_monkeypatched_thread_handler_reaches_running_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    original = SyncToAsync.thread_handler

    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("thread_handler")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "thread_handler", patched)
    assert await sync_to_async(lambda: 5)() == 5
    assert calls == ["thread_handler"]


@pytest.mark.timeout(30)
def test_monkeypatched_main_wrap_reaches_running_code(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = AsyncToSync.main_wrap

    async def patched(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(len(args))
        await original(self, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.AsyncToSync, "main_wrap", patched)

    async def answer(context: int) -> int:
        return context

    # A keyword named like a main_wrap parameter reaches the wrapped function.
    assert async_to_sync(answer)(context=7) == 7
    assert calls == [5]


@pytest.mark.timeout(30)
async def test_methods_bind_self() -> None:
    class Model:
        value = 3

        @sync_to_async
        def sync_method(self) -> int:
            return self.value

        @async_to_sync
        async def async_method(self) -> int:
            return self.value

        def plain(self) -> int:
            return self.value

    model = Model()
    assert await model.sync_method() == 3
    assert await asyncio.to_thread(model.async_method) == 3
    bound = sync_to_async(model.plain)
    assert getattr(bound, "__self__", None) is model


@pytest.mark.timeout(30)
async def test_exc_info_is_visible_to_the_sync_code() -> None:
    seen: list[Any] = []

    def inspect_exc_info() -> None:
        seen.append(sys.exc_info()[1])

    handled: list[BaseException] = []
    try:
        raise KeyError("outer")
    except KeyError:
        active = sys.exc_info()[1]
        assert active is not None
        traceback_before = active.__traceback__
        await sync_to_async(inspect_exc_info)()
        handled.append(active)
    assert seen == handled
    assert handled[0].__traceback__ is traceback_before


@pytest.mark.timeout(30)
def test_exc_info_is_visible_to_the_async_code() -> None:
    async def current() -> Any:
        return sys.exc_info()[1]

    seen: list[Any] = []
    try:
        raise ValueError("outer")
    except ValueError:
        seen.extend([sys.exc_info()[1], async_to_sync(current)()])
    assert seen[0] is seen[1]
    assert async_to_sync(current)() is None


@pytest.mark.timeout(30)
async def test_exceptions_propagate_with_traceback() -> None:
    def failing() -> None:
        raise LookupError("deep")

    with pytest.raises(LookupError, match="deep") as info:
        await sync_to_async(failing)()
    assert any(entry.name == "failing" for entry in info.traceback)


@pytest.mark.timeout(30)
async def test_context_argument_runs_in_given_context_without_flow_back() -> None:
    shared = contextvars.copy_context()

    def bump() -> None:
        flag.set("inside")

    await sync_to_async(bump, context=shared)()
    assert shared[flag] == "inside"
    assert flag.get() == "unset"


@pytest.mark.timeout(30)
def test_force_new_loop_uses_another_loop() -> None:
    loops: dict[str, asyncio.AbstractEventLoop] = {}

    async def record(key: str) -> None:
        loops[key] = asyncio.get_running_loop()

    def in_worker() -> None:
        async_to_sync(record)("outer")
        async_to_sync(record, force_new_loop=True)("fresh")

    async def main() -> None:
        loops["main"] = asyncio.get_running_loop()
        await sync_to_async(in_worker)()

    asyncio.run(main())
    assert loops["outer"] is loops["main"]
    assert loops["fresh"] is not loops["main"]


@pytest.mark.timeout(30)
async def test_async_to_sync_inside_running_loop_raises() -> None:
    async def nothing() -> None:
        pass

    with pytest.raises(RuntimeError, match="same thread as an async event loop"):
        async_to_sync(nothing)()


@pytest.mark.timeout(30)
def test_calling_thread_serves_thread_sensitive_calls() -> None:
    caller = threading.current_thread()

    async def middle() -> list[threading.Thread]:
        direct = await sync_to_async(threading.current_thread)()
        in_task = await asyncio.create_task(sync_to_async(threading.current_thread)())
        elsewhere = await sync_to_async(threading.current_thread, thread_sensitive=False)()
        return [direct, in_task, elsewhere]

    direct, in_task, elsewhere = async_to_sync(middle)()
    assert direct is caller
    assert in_task is caller
    assert elsewhere is not caller


@pytest.mark.timeout(30)
@pytest.mark.parametrize("in_request_context", [False, True])
def test_true_deadlock_raises_naming_the_executor(in_request_context: bool) -> None:
    """Thread-sensitive sync code blocks its only thread on async code that
    needs that same thread: an error, not a hang."""

    async def needs_the_thread() -> None:
        await sync_to_async(lambda: None)()

    def blocks_on_the_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.run_coroutine_threadsafe(needs_the_thread(), loop).result(timeout=20)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        if in_request_context:
            async with ThreadSensitiveContext():
                await sync_to_async(blocks_on_the_loop)(loop)
        else:
            await sync_to_async(blocks_on_the_loop)(loop)

    with pytest.raises(RuntimeError, match="would deadlock") as info:
        asyncio.run(main())
    assert "ThreadPoolExecutor" in str(info.value)


@pytest.mark.timeout(30)
async def test_deadlock_check_does_not_misfire_for_detached_tasks() -> None:
    """A task started by thread-sensitive code that merely outlives the
    async_to_sync call is not a deadlock: it waits for the thread."""
    detached: list[asyncio.Task[Any]] = []
    release = asyncio.Event()

    async def spawn() -> None:
        loop = asyncio.get_running_loop()

        async def later() -> str:
            await release.wait()
            return await sync_to_async(lambda: "ran")()

        detached.append(loop.create_task(later()))

    def sync_code() -> None:
        async_to_sync(spawn)()

    async with ThreadSensitiveContext():
        await sync_to_async(sync_code)()
        release.set()
        assert await detached[0] == "ran"


@pytest.mark.timeout(30)
async def test_thread_sensitive_context_reentrant_and_isolated() -> None:
    thread = sync_to_async(threading.current_thread)
    async with ThreadSensitiveContext() as outer:
        first = await thread()
        async with ThreadSensitiveContext():
            assert SyncToAsync.thread_sensitive_context.get() is outer
            assert await thread() is first
    async with ThreadSensitiveContext():
        assert await thread() is not first


@pytest.mark.timeout(30)
async def test_thread_sensitive_context_executor_keyword() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        mine = pool.submit(threading.current_thread).result()
        context = ThreadSensitiveContext(executor=pool)
        async with context:
            assert await sync_to_async(threading.current_thread)() is mine
        with pytest.raises(RuntimeError, match="cannot be entered again"):
            async with context:
                pass
        assert pool.submit(lambda: 1).result() == 1  # not shut down by us


def _finished_current_thread_executor() -> CurrentThreadExecutor:
    made: list[CurrentThreadExecutor] = []

    def serve_until_done() -> None:
        executor = CurrentThreadExecutor()
        made.append(executor)
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        done.set_result(None)
        executor.run_until_future(done)

    worker = threading.Thread(target=serve_until_done)
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    return made[0]


@pytest.mark.timeout(30)
async def test_thread_sensitive_context_given_a_finished_current_thread_executor_raises() -> None:
    # The bridge's fast path for CurrentThreadExecutors retries routing when
    # one has finished; an executor given to the context is routed to again
    # every time, so the retry must end in submit()'s error, not loop forever
    # (which would freeze this event loop: the timeout would catch it).
    async def nothing() -> None:
        return None

    await sync_to_async(async_to_sync(nothing))()  # the fast path exists from now on
    context = ThreadSensitiveContext(executor=_finished_current_thread_executor())
    async with context:
        with pytest.raises(RuntimeError, match="already quit or is broken"):
            await asyncio.wait_for(sync_to_async(threading.current_thread)(), 10)


@pytest.mark.timeout(30)
async def test_thread_sensitive_context_given_the_loop_threads_executor_raises() -> None:
    # Made on this thread, which runs the loop: nothing could ever serve it.
    # Upstream's submit() refuses it; the bridge must too, not queue and wait.
    executor = CurrentThreadExecutor()
    async with ThreadSensitiveContext(executor=executor):
        with pytest.raises(RuntimeError, match="belongs to the thread running this event loop"):
            await asyncio.wait_for(sync_to_async(threading.current_thread)(), 10)


@pytest.mark.timeout(30)
def test_async_single_thread_context_shares_one_loop_thread() -> None:
    threads: list[threading.Thread] = []

    async def record() -> None:
        threads.append(threading.current_thread())

    with AsyncSingleThreadContext():
        async_to_sync(record)()
        with AsyncSingleThreadContext():
            async_to_sync(record)()
        async_to_sync(record)()
    assert len(set(threads)) == 1
    assert threads[0] is not threading.current_thread()


@pytest.mark.timeout(30)
def test_async_single_thread_context_replaces_a_retired_loop_thread() -> None:
    # An interrupted call retires the loop it ran on (see _run_on_own_loop);
    # the context then gets a new loop thread of its own, not a fresh
    # one-shot loop per call.
    threads: list[threading.Thread] = []

    async def record() -> None:
        threads.append(threading.current_thread())

    with AsyncSingleThreadContext() as context:
        async_to_sync(record)()
        AsyncToSync.context_to_thread_executor[context].close()
        async_to_sync(record)()
        async_to_sync(record)()
    assert threads[1] is not threads[0]
    assert threads[2] is threads[1]


@pytest.mark.timeout(30)
def test_leftover_tasks_are_cancelled_when_the_call_ends() -> None:
    outcome: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    async def spawn() -> None:
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)

    async_to_sync(spawn)()
    assert outcome == ["cancelled"]


@pytest.mark.timeout(30)
def test_async_generators_are_closed_when_the_call_ends() -> None:
    closed: list[bool] = []

    async def gen() -> Any:
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    holder: list[Any] = []

    async def partly() -> int:
        agen = gen()
        holder.append(agen)
        first: int = await agen.__anext__()
        return first

    assert async_to_sync(partly)() == 1
    assert closed == [True]


@pytest.mark.timeout(30)
async def test_cancellation_reaches_nested_async_code() -> None:
    started = threading.Event()
    cancelled = threading.Event()

    async def inner() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def middle() -> None:
        async_to_sync(inner)()

    task = asyncio.create_task(sync_to_async(middle)())
    await asyncio.to_thread(started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
    assert cancelled.is_set()


@pytest.mark.timeout(30)
def test_forked_child_does_not_reuse_the_parent_loop() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork")

    async def pid() -> int:
        return os.getpid()

    assert async_to_sync(pid)() == os.getpid()  # the parent's loop thread exists
    read_end, write_end = os.pipe()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
        child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            ok = async_to_sync(pid)() == os.getpid()
            os.write(write_end, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        assert os.read(read_end, 1) == b"1"
    finally:
        os.close(read_end)
        os.waitpid(child, 0)


def test_current_thread_executor_is_what_async_code_sees() -> None:
    async def peek() -> Any:
        return AsyncToSync.executors.current

    executor = async_to_sync(peek)()
    assert isinstance(executor, CurrentThreadExecutor)
