"""Outcomes and context values crossing between the two sides of a bridge call.

How a call's outcome reaches the side that waits for it (:func:`submit`,
:func:`resolve`, :func:`report`, :func:`waiter_for`, :func:`await_outcome`),
how the caller's active exception is seen on the other side (:func:`call_while_handling`,
:func:`await_while_handling`), and how context values travel back
(:func:`flow_back`, :func:`restore_context`).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future, InvalidStateError
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

from asgiref.local._cpython import default_executor as _default_executor
from asgiref.local._cpython import get_running_loop
from asgiref.local._store import MOVE_LEAVES_ALONE, crossing, moved_here

if TYPE_CHECKING:
    from typing import TypeAlias

__all__ = [
    "BRIDGE_PRIVATE_VARS",
    "OptExcInfo",
    "await_outcome",
    "await_while_handling",
    "call_while_handling",
    "discard",
    "flow_back",
    "report",
    "report_dropped",
    "resolve",
    "restore_context",
    "submit",
    "until_work_finished",
    "untrack",
    "waiter_for",
]

_MISSING: Final[Any] = object()

_R = TypeVar("_R")

# What sys.exc_info() returns: the active exception a call carries across
# (upstream's asgiref.sync takes it from _typeshed; ours re-exports this).
OptExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
)

# The chain of single-thread executors held by the calls enclosing this
# context (SyncToAsync.deadlock_context; see asgiref.sync._routing).
deadlock_context: contextvars.ContextVar[Any] = contextvars.ContextVar("deadlock_context")

# Variables of the bridge itself that must not travel back to the caller.
BRIDGE_PRIVATE_VARS: Final = frozenset({crossing, deadlock_context})


def flow_back(context: contextvars.Context) -> None:
    """Copy the values ``context`` ended with into the current context.

    Values are compared by identity: a third-party ``__eq__`` never runs and an
    equal-but-new object still replaces the old one.
    """
    for var, value in context.items():
        if var in BRIDGE_PRIVATE_VARS:
            continue
        if var.get(_MISSING) is not value:
            var.set(value)


def restore_context(context: contextvars.Context) -> None:
    """Copy the values of ``context`` into the current context (upstream's
    ``_restore_context``; code that runs coroutines on a runtime of its own
    calls it).

    Like :func:`flow_back`, it leaves the bridge's own variables alone. The
    context is moved onto this thread on purpose, so the ``Local`` values in
    it become this thread's own, as upstream re-homes them; thread-critical
    ``Local`` values stay with the thread that set them.
    """
    for var, value in context.items():
        if var in BRIDGE_PRIVATE_VARS:
            continue
        value = moved_here(var, value)
        if value is not MOVE_LEAVES_ALONE and var.get(_MISSING) is not value:
            var.set(value)


def resolve(future: Future[Any], value: Any = None, error: BaseException | None = None) -> None:
    """Set ``future``'s outcome, unless the caller already gave up on it (a
    dead outer loop), in which case the late outcome has nobody to go to."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except InvalidStateError:
        pass


def _consume_outcome(future: Future[Any] | asyncio.Future[Any]) -> None:
    # Marks an asyncio future's exception as retrieved (no "never retrieved"
    # log for a call whose awaiting task was cancelled).
    if not future.cancelled():
        future.exception()


def _set_pending_done(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def waiter_for(
    loop: asyncio.AbstractEventLoop, future: Future[Any] | asyncio.Future[Any]
) -> asyncio.Future[None]:
    """An asyncio future that completes when ``future`` does.

    Cancelling the waiter leaves ``future`` (and the sync code behind it)
    alone, which is what awaiting under ``asyncio.shield`` gives, with one
    future fewer.
    """
    waiter: asyncio.Future[None] = loop.create_future()
    if isinstance(future, asyncio.Future):
        future.add_done_callback(lambda _: _set_pending_done(waiter))
    else:

        def wake(_: object) -> None:
            try:  # noqa: SIM105  (runs once per call; suppress() costs more)
                loop.call_soon_threadsafe(_set_pending_done, waiter)
            except RuntimeError:  # the loop closed meanwhile; nobody waits
                pass

        future.add_done_callback(wake)
    return waiter


def submit(
    loop: asyncio.AbstractEventLoop, executor: Executor | None, call: Callable[[], Any]
) -> Future[Any] | asyncio.Future[Any]:
    """Start ``call`` in ``executor``, or (None) where
    ``loop.run_in_executor(None, call)`` would: the future to pass to
    :func:`await_outcome`.

    The loop's default executor, where asgiref.local._cpython can name it,
    gets ``call`` directly too: the asyncio future ``run_in_executor`` wraps
    around the executor's future would cost another future, two callbacks
    and a loop step per call, and the waiter of :func:`await_outcome`
    already does its job.
    """
    if executor is None:
        executor = _default_executor(loop)
        if executor is None:
            return loop.run_in_executor(None, _stop_iteration_as_error, call)
    return executor.submit(call)


def _stop_iteration_as_error(call: Callable[[], Any]) -> Any:
    # asyncio refuses a StopIteration as a future's exception, so through
    # run_in_executor the caller would wait for ever; every other path
    # reports it as the coroutine machinery does.
    try:
        return call()
    except StopIteration as exc:
        raise RuntimeError("coroutine raised StopIteration") from exc


async def await_outcome(
    loop: asyncio.AbstractEventLoop,
    future: Future[Any] | asyncio.Future[Any],
    nested_tasks: list[asyncio.Task[Any]],
) -> Any:
    """The outcome of sync code running in another thread (``future``).

    A cancellation is passed on to the async code that sync code is waiting
    for (its task is in ``nested_tasks``); if that code finishes anyway, the
    sync code's own outcome, which may well be the cancellation, is the answer.
    """
    try:
        await waiter_for(loop, future)
    except asyncio.CancelledError:
        if future.done() or not await _cancel_nested(nested_tasks):
            # Nobody will read the outcome of the abandoned call.
            future.add_done_callback(_consume_outcome)
            raise
        await waiter_for(loop, future)
    return future.result()


async def _cancel_nested(nested_tasks: list[asyncio.Task[Any]]) -> bool:
    # The pending one: a task cancelled before its first step (a loop
    # shutting down) never ran main_wrap, which unlists it.
    nested = next((task for task in nested_tasks if not task.done()), None)
    if nested is None:
        return False
    nested.cancel()
    try:
        await nested
    except asyncio.CancelledError:
        return False
    return True


async def until_work_finished(executor: Executor) -> None:
    """Wait until a shut-down executor has finished its work. Cancelling the
    wait leaves the work alone: it still completes, in its thread."""
    from asgiref.sync._one_thread import OneThreadExecutor

    loop = asyncio.get_running_loop()
    if isinstance(executor, OneThreadExecutor):
        unfinished = executor.unfinished_work()
        if unfinished is not None:
            await waiter_for(loop, unfinished)
    else:
        # Put in context_to_thread_executor by other code: its blocking
        # shutdown waits on a thread of the loop's, never on the loop.
        await loop.run_in_executor(None, executor.shutdown)


def call_while_handling(
    active: BaseException,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Call ``func`` so that it sees ``active`` as the exception being handled
    (``sys.exc_info()``), as the caller did."""
    traceback = active.__traceback__
    try:
        raise active
    except BaseException:
        # Raising prepended this frame; the caller's exception stays as it was.
        active.__traceback__ = traceback
        return func(*args, **kwargs)


async def await_while_handling(active: BaseException, awaitable: Awaitable[Any]) -> Any:
    """Await ``awaitable`` with ``active`` as the exception being handled."""
    traceback = active.__traceback__
    try:
        raise active
    except BaseException:
        active.__traceback__ = traceback
        return await awaitable


_DROPPED = (
    "The event loop running this async_to_sync call dropped it before the coroutine completed."
)


def untrack(task_context: list[asyncio.Task[Any]] | None) -> None:
    """Unlist the current task from ``task_context`` (its call is over)."""
    # Listed only once suspended (see start_main_task): usually empty.
    # No running loop: a coroutine finalised by the garbage collector
    # outside any loop (see main_wrap), whose task is gone with its loop.
    if not task_context or get_running_loop() is None:
        return
    task = asyncio.current_task()
    if task is not None and task in task_context:
        task_context.remove(task)


def report(
    call_result: Future[_R],
    task_context: list[asyncio.Task[Any]] | None,
    context: list[contextvars.Context],
    result: Any = None,
    error: BaseException | None = None,
) -> None:
    """End ``main_wrap``'s call: its outcome, and the context it ended with,
    go to the waiting thread through ``call_result``."""
    if task_context:  # usually empty (see untrack): one call fewer per call
        untrack(task_context)
    # Captured first: the waiting thread wakes as soon as the future
    # resolves, and reads it at once.
    context[0] = contextvars.copy_context()
    resolve(call_result, result, error)


def report_dropped(call_result: Future[_R], task_context: list[asyncio.Task[Any]] | None) -> None:
    """End ``main_wrap``'s call that the loop running it dropped."""
    untrack(task_context)
    resolve(call_result, error=RuntimeError(_DROPPED))


def discard(awaitable: object) -> None:
    """Close a coroutine that never ran (it would warn when collected)."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()
