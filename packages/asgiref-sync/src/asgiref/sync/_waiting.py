"""The sync side of an ``async_to_sync`` call: the waiting thread's executor,
and the call run on the outer loop or on an event loop of the bridge's own.

On the outer loop (a sync thread running inside ``sync_to_async``, its loop
still running) the call is a task there, and a watch, while the sync thread
waits, turns a loop that went away into an abandoned call (rerun elsewhere)
or a clear error, never a wait without end.

The waiting thread lends itself out meanwhile (a CurrentThreadExecutor made
current in ``AsyncToSync.executors``), so thread-sensitive calls the async
code makes run back on it. Everything of ``AsyncToSync`` is read through the
instance (:class:`Bridge`), so patches of the class reach these functions.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from asgiref.current_thread_executor import CurrentThreadExecutor
from asgiref.local import Local
from asgiref.local._cpython import new_outcome
from asgiref.local._store import push_value
from asgiref.sync._coroutines import start_task_in_context
from asgiref.sync._outcome import discard, flow_back, resolve

if TYPE_CHECKING:
    from weakref import WeakKeyDictionary

    from asgiref.sync._loop_runner import LoopRunner

__all__ = [
    "Bridge",
    "OuterLoopWatch",
    "run_on_outer_loop",
    "run_on_own_loop",
]

_R = TypeVar("_R")


# How often a sync thread waiting on an outer loop checks that the loop is
# still alive, and how long a stopped loop may stay stopped before the call
# fails. Waiting threads are otherwise woken only by work or completion.
POLL_SECONDS = 0.25
_STOPPED_LOOP_GRACE_SECONDS = 2.0


def start_main_task(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, None],
    context: contextvars.Context,
    watch: OuterLoopWatch,
) -> None:
    """Loop-side start of an async_to_sync call on an outer loop."""
    call_result = watch.call_result
    if call_result.cancelled():  # abandoned by the waiting thread already
        coro.close()
        return
    try:
        task = watch.task = start_task_in_context(loop, coro, context)
        if watch.task_context is not None and not task.done():
            watch.task_context.append(task)
    except BaseException as exc:
        coro.close()
        resolve(call_result, error=exc)


class OuterLoopWatch:
    """Checks, while a sync thread waits, that the outer loop can still
    deliver; turns a dead loop into an abandoned call or a clear error, and
    a task that ended without reporting (cancelled before its first step, so
    main_wrap never ran) into that cancellation.

    The last case is noticed at the next idle check rather than by a done
    callback on the task: the callback would cost the loop one more
    iteration, after the waiting thread was woken and while it waits for the
    GIL, on every call; the check costs only the rare early cancellation (a
    loop shutting down) up to one poll interval.
    """

    __slots__ = ("awaitable", "call_result", "loop", "stopped_since", "task", "task_context")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        call_result: Future[Any],
        awaitable: object,
        task_context: list[asyncio.Task[Any]] | None,
    ) -> None:
        self.loop = loop
        self.call_result = call_result
        self.awaitable = awaitable
        self.task_context = task_context
        self.stopped_since: float | None = None
        self.task: asyncio.Task[Any] | None = None

    def check(self) -> None:
        """The waiting thread's idle check (see the class docstring)."""
        task = self.task
        if task is not None and task.done():
            if not self.call_result.running() and not self.call_result.done():
                discard(self.awaitable)  # main_wrap never got to it
            if task.cancelled():
                resolve(self.call_result, error=asyncio.CancelledError())
            else:
                resolve(
                    self.call_result,
                    error=RuntimeError("main_wrap finished without reporting an outcome"),
                )
            return
        loop = self.loop
        if loop.is_running() and not loop.is_closed():
            self.stopped_since = None
            return
        # Not started yet: abandon it (the caller reruns it elsewhere).
        if self.call_result.cancel():
            return
        now = time.monotonic()
        if self.stopped_since is None:
            self.stopped_since = now
        if loop.is_closed() or now - self.stopped_since >= _STOPPED_LOOP_GRACE_SECONDS:
            resolve(
                self.call_result,
                error=RuntimeError(
                    f"The event loop {loop!r} that was running this async_to_sync call "
                    "stopped before the coroutine completed."
                ),
            )


class Bridge(Protocol):
    """What these functions use of an ``AsyncToSync`` instance."""

    executors: ClassVar[Local]
    loop_thread_executors: ClassVar[dict[asyncio.AbstractEventLoop, CurrentThreadExecutor]]
    async_single_thread_context: ClassVar[contextvars.ContextVar[Any]]
    context_to_thread_executor: ClassVar[WeakKeyDictionary[Any, LoopRunner]]

    def main_wrap(
        self,
        call_result: Future[Any],
        exc_info: tuple[Any, Any, Any],
        task_context: list[asyncio.Task[Any]] | None,
        context: list[contextvars.Context],
        awaitable: Awaitable[Any],
    ) -> Coroutine[Any, Any, None]: ...


def _prepare(
    bridge: Bridge,
) -> tuple[CurrentThreadExecutor, Callable[[], None], list[contextvars.Context]]:
    """This thread's executor for the call (made current), the undo of
    that, and the caller's context (copied after the change)."""
    executor, undo = push_value(bridge.executors, "current", CurrentThreadExecutor)
    return executor, undo, [contextvars.copy_context()]


def run_on_outer_loop(
    bridge: Bridge,
    loop: asyncio.AbstractEventLoop,
    task_context: list[asyncio.Task[Any]] | None,
    awaitable: Awaitable[_R],
) -> Future[_R] | None:
    """Run the call as a task on ``loop`` (the running loop of the async code
    this thread works for) and wait; the finished call (its context flowed
    back), or None when the loop went away before the coroutine started."""
    executor, undo, context = _prepare(bridge)
    # The executor is new and unshared: it serves until this outcome.
    call_result: Future[_R] = executor.begin_new_outcome()
    try:
        coro = bridge.main_wrap(call_result, sys.exc_info(), task_context, context, awaitable)
        watch = OuterLoopWatch(loop, call_result, awaitable, task_context)
        # Everything is prepared before the loop is woken: from then on
        # this thread should only block, not compete with the loop thread
        # for the GIL while the loop runs the coroutine.
        try:
            loop.call_soon_threadsafe(start_main_task, loop, coro, context[0], watch)
        except RuntimeError:  # closed meanwhile
            coro.close()
            executor.retire()
            return None
        executor.serve(call_result, POLL_SECONDS, watch.check)
        if call_result.cancelled():
            return None
        flow_back(context[0])
        return call_result
    finally:
        undo()


def run_on_own_loop(bridge: Bridge, awaitable: Awaitable[_R]) -> _R:
    """Run the call on an event loop of the bridge's own, as upstream's
    fresh ``asyncio.run`` would (see asgiref.sync._loop_runner)."""
    # Imported here: programs that never make such a call (servers, whose
    # sync code always has an outer loop) never load the loop runners.
    from asgiref.sync._loop_runner import acquire_runner, release_runner

    executor, undo, context = _prepare(bridge)
    call_result: Future[_R] = new_outcome()
    runner: LoopRunner | None = None
    # The loop the call starts on (a runner replaces its loop, before the
    # call returns, when the call left it unlike a fresh one).
    loop: asyncio.AbstractEventLoop | None = None
    pooled = completed = False
    try:
        runner, pooled = acquire_runner(
            bridge.async_single_thread_context.get(None), bridge.context_to_thread_executor
        )
        loop = runner.loop
        bridge.loop_thread_executors[loop] = executor
        coro = bridge.main_wrap(call_result, sys.exc_info(), None, context, awaitable)
        done = runner.launch(coro, context[0])
        runner.serve_until_done(executor, done)
        completed = True
        flow_back(context[0])
        # What escaped the loop (SystemExit from a task, say) comes first,
        # as it escapes upstream's asyncio.run.
        done.result()
        if not call_result.running() and not call_result.done():
            # The task was cancelled before main_wrap's first step (by code
            # holding a reused loop): what asyncio.run raises then.
            raise asyncio.CancelledError()
        result: _R = call_result.result()
        return result
    finally:
        if not call_result.running() and not call_result.done():
            discard(awaitable)  # main_wrap never got to it
        undo()
        if loop is not None:
            bridge.loop_thread_executors.pop(loop, None)
        if runner is not None:
            # Interrupted (e.g. KeyboardInterrupt) while the coroutine may
            # still run: the runner is retired, which cancels what is left
            # on it, rather than handed to the next call busy.
            release_runner(runner, pooled, completed)
