"""The bridge between sync and async code: ``sync_to_async`` and ``async_to_sync``.

Thread-sensitive sync code (the default) runs on one thread per "sync world":
the thread of the outermost sync caller when there is one (it waits inside a
``CurrentThreadExecutor`` and serves those calls), else the thread of the
innermost ``ThreadSensitiveContext``, else one process-wide worker.

This module holds what other projects patch, subclass and import: the two
bridge classes (their class attributes and the methods ``thread_handler``
and ``main_wrap`` are looked up through the class or the instance at call
time, so patches reach the running code), the two context managers and the
public functions. The machinery lives in the private modules beside it,
each named after its job (the package README's "For maintainers" lists them).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools

# The "as" imports are names upstream's module binds (mostly imports for its
# own annotations) that code may read from here: the same objects.
import inspect as inspect
import os
import sys
import threading as threading
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from concurrent.futures import Executor, Future
from concurrent.futures import InvalidStateError as InvalidStateError
from concurrent.futures import ThreadPoolExecutor as ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, Generic, ParamSpec, TypeVar, overload
from typing import Dict as Dict  # noqa: UP035
from typing import List as List  # noqa: UP035
from typing import Optional as Optional

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.current_thread_executor import CurrentThreadExecutor
from asgiref.local import Local
from asgiref.local._cpython import get_running_loop
from asgiref.local._store import (
    BridgeThreadState,
    Storage,
    bridge_state,
    crossing,
    local_get,
    rehome,
)
from asgiref.sync import _coroutines, _outcome, _routing
from asgiref.sync._coroutines import iscoroutinefunction, markcoroutinefunction
from asgiref.sync._outcome import OptExcInfo as OptExcInfo

if TYPE_CHECKING:
    from typing import TypeAlias
    from weakref import WeakKeyDictionary

    from asgiref.sync import _waiting
    from asgiref.sync._loop_runner import LoopRunner

__all__ = [
    "AsyncSingleThreadContext",
    "AsyncToSync",
    "SyncToAsync",
    "ThreadSensitiveContext",
    "async_to_sync",
    "iscoroutinefunction",
    "markcoroutinefunction",
    "sync_to_async",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_F = TypeVar("_F", bound=Callable[..., Any])

# What async_to_sync accepts: an async function, or any callable returning
# an awaitable.
_AsyncCallable: TypeAlias = Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]]

# Upstream's names: its context-moving function, and the record and re-homing
# function of asgiref.local that it imports.
_restore_context = _outcome.restore_context
_Storage = Storage
_rehome = rehome

# This process's ID, kept current by the fork hook at the end of this module
# (os.getpid() is a system call; the bridge compares it on every nested call).
_pid = os.getpid()
# Where the first AsyncToSync call binds asgiref.sync._waiting (see __call__).
_namespace = globals()


class SyncToAsync(Generic[_P, _R]):
    """Wraps a sync callable so that awaiting it runs the callable in a thread.

    See :func:`sync_to_async`.
    """

    # Per worker thread: the loop of the async code it serves, and more (see
    # asgiref.local._store, which shares this object).
    threadlocal: ClassVar[BridgeThreadState] = bridge_state

    # The process-wide thread for thread-sensitive code that has no better
    # home. The thread itself starts on first use.
    single_thread_executor: ClassVar[Executor] = _routing.one_thread_executor("process")

    thread_sensitive_context: ClassVar[contextvars.ContextVar[ThreadSensitiveContext]] = (
        contextvars.ContextVar("thread_sensitive_context")
    )

    # The chain of single-thread executors held by the calls enclosing this
    # context (see asgiref.sync._routing); falsy when there are none.
    deadlock_context: ClassVar[contextvars.ContextVar[Any]] = _outcome.deadlock_context

    context_to_thread_executor: ClassVar[WeakKeyDictionary[ThreadSensitiveContext, Executor]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(
        self,
        func: Callable[_P, _R],
        thread_sensitive: bool = True,
        executor: Executor | None = None,
        context: contextvars.Context | None = None,
    ) -> None:
        if not callable(func) or _coroutines.runs_as_coroutine(func):
            raise TypeError("sync_to_async can only be applied to sync functions.")
        if thread_sensitive and executor is not None:
            raise TypeError("executor must not be set when thread_sensitive is True")
        _coroutines.stand_in_for(self, func)
        self.func = func
        self.context = context
        self._thread_sensitive = thread_sensitive
        self._executor = executor
        markcoroutinefunction(self)

    async def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        __traceback_hide__ = True
        loop = asyncio.get_running_loop()
        nested_tasks: list[asyncio.Task[Any]] = []
        occupancy: _routing.Occupancy | None = None
        token: contextvars.Token[Any] | None = None
        if self._thread_sensitive:
            # Set before the context is copied: the sync code's own nested
            # calls must see this call in the chain.
            occupancy = _routing.Occupancy(self.deadlock_context.get(None))
            token = self.deadlock_context.set(occupancy)
        future: Future[Any] | asyncio.Future[Any] | None = None
        abandoned = False
        context = self.context
        try:
            if context is None:
                context = contextvars.copy_context()
            child = functools.partial(self.func, *args, **kwargs)
            call = functools.partial(
                self.thread_handler, loop, sys.exc_info(), nested_tasks, context.run, child
            )
            if occupancy is not None:
                choose = functools.partial(self._thread_sensitive_executor, loop)
                future = _routing.submit_routed(choose, occupancy, self.func, call)
            else:
                future = _outcome.submit(loop, self._executor, call)
            result: _R = await _outcome.await_outcome(loop, future, nested_tasks)
            return result
        except GeneratorExit:
            # Closed without its task: the task was destroyed while pending
            # (its loop was dropped) and the garbage collector finalises this
            # coroutine in whatever thread and context it happens to run in.
            # That context belongs to someone else: copying our values into
            # it (or resetting our token there) would corrupt an unrelated
            # caller, e.g. hide its Local values.
            abandoned = True
            raise
        finally:
            if not abandoned:
                if token is not None:
                    # Always undone, even when scheduling itself failed: a
                    # stale chain would make every later call here report a
                    # deadlock.
                    self.deadlock_context.reset(token)
                if self.context is None and context is not None and future is not None:
                    _outcome.flow_back(context)

    def _thread_sensitive_executor(self, loop: asyncio.AbstractEventLoop) -> Executor:
        return _routing.route(
            local_get(AsyncToSync.executors, "current", None),
            self.thread_sensitive_context.get(None),
            AsyncToSync.loop_thread_executors.get(loop),
            self.single_thread_executor,
        )

    def thread_handler(
        self,
        loop: asyncio.AbstractEventLoop,
        exc_info: tuple[Any, Any, Any],
        task_context: list[asyncio.Task[Any]] | None,
        func: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Runs on the worker thread: records which loop this thread serves
        (for nested ``async_to_sync``) and calls ``func(*args, **kwargs)``,
        inside ``except`` of the caller's active exception if there was one."""
        __traceback_hide__ = True
        state = self.threadlocal
        saved = (state.main_event_loop, state.main_event_loop_pid, state.task_context)
        state.main_event_loop = loop
        state.main_event_loop_pid = _pid
        state.task_context = task_context
        bridge_state.depth += 1  # not self.threadlocal: asgiref.local reads this one
        try:
            active = exc_info[1]
            if active is None:
                return func(*args, **kwargs)
            return _outcome.call_while_handling(active, func, args, kwargs)
        finally:
            bridge_state.depth -= 1
            state.main_event_loop, state.main_event_loop_pid, state.task_context = saved

    def __get__(self, parent: Any, objtype: Any = None) -> Any:
        if parent is None:
            return self
        return _coroutines.bound_stand_in(self.__call__, parent, self.func)


class AsyncToSync(Generic[_P, _R]):
    """Wraps an async callable so that calling it from sync code runs it to
    completion on an event loop and returns its result.

    See :func:`async_to_sync`.
    """

    # The CurrentThreadExecutor of the sync thread that waits for the current
    # async code; contextvar-backed, so each task sees its own.
    executors: ClassVar[Local] = Local()

    # Loops started for calls from plain threads -> the waiting thread's
    # executor, for tasks that lost track of it (e.g. created with a fresh
    # context).
    loop_thread_executors: ClassVar[dict[asyncio.AbstractEventLoop, CurrentThreadExecutor]] = {}

    async_single_thread_context: ClassVar[contextvars.ContextVar[AsyncSingleThreadContext]] = (
        contextvars.ContextVar("async_single_thread_context")
    )

    context_to_thread_executor: ClassVar[
        WeakKeyDictionary[AsyncSingleThreadContext, LoopRunner]
    ] = weakref.WeakKeyDictionary()

    def __init__(
        self,
        awaitable: _AsyncCallable[_P, _R],
        force_new_loop: bool = False,
    ) -> None:
        if not callable(awaitable) or not _coroutines.runs_as_coroutine(awaitable):
            warnings.warn("async_to_sync was passed a non-async-marked callable", stacklevel=2)
        _coroutines.stand_in_for(self, awaitable)
        self.awaitable = awaitable
        self.force_new_loop = force_new_loop
        # Kept for code that reads it; the outer loop is found at call time.
        self.main_event_loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        __traceback_hide__ = True
        # The sync side loads with the first call, not with the package (import
        # time is a tracked row); later calls find it bound, with no import.
        if "_waiting" not in _namespace:
            _namespace["_waiting"] = __import__("asgiref.sync._waiting", fromlist=["_"])
        if get_running_loop() is not None:
            raise RuntimeError(
                "You cannot use AsyncToSync in the same thread as an async event loop - "
                "just await the async function directly."
            )
        # Created here, in the caller's thread, and handed to main_wrap whole,
        # so the caller's arguments never mix with main_wrap's own.
        awaitable = self.awaitable(*args, **kwargs)
        if not self.force_new_loop:
            # The loop of the async code this thread works for, if any, and
            # only while it runs: on one that is stopped but not closed (a
            # test framework between tests) a callback might never run. A
            # closed loop is never running.
            state = SyncToAsync.threadlocal
            outer = state.main_event_loop
            if outer is not None and state.main_event_loop_pid == _pid and outer.is_running():
                done = _waiting.run_on_outer_loop(self, outer, state.task_context, awaitable)
                if done is not None:
                    return done.result()
                # The outer loop went away before our coroutine started; it
                # never ran, so running it on a loop of our own is safe.
        return _waiting.run_on_own_loop(self, awaitable)

    async def main_wrap(
        self,
        call_result: Future[_R],
        exc_info: tuple[Any, Any, Any],
        task_context: list[asyncio.Task[Any]] | None,
        context: list[contextvars.Context],
        awaitable: Awaitable[_R],
    ) -> None:
        """Runs as a task on the loop: awaits ``awaitable`` (the call of the
        wrapped function) and reports its outcome, and the context it ended
        with, through ``call_result``."""
        __traceback_hide__ = True
        # Claimed here, at the first step, not when the task was scheduled: a
        # waiting thread may abandon a call whose loop stopped before it ever
        # ran, and rerun it elsewhere (see OuterLoopWatch).
        if not call_result.set_running_or_notify_cancel():
            return
        # Thread-critical values of the caller's async code stay behind, and
        # so does the chain of busy executors: the waiting thread serves this
        # call's thread-sensitive work itself.
        crossing.set(object())
        SyncToAsync.deadlock_context.set(None)
        active = exc_info[1]
        if active is not None:
            awaitable = _outcome.await_while_handling(active, awaitable)
        try:
            result = await awaitable
        except GeneratorExit:
            # Finalised without its task (see SyncToAsync.__call__): the
            # current context is some unrelated thread's, so it is not
            # captured; the waiting thread gets an error instead of a hang.
            _outcome.report_dropped(call_result, task_context)
            raise
        except BaseException as exc:
            _outcome.report(call_result, task_context, context, error=exc)
        else:
            _outcome.report(call_result, task_context, context, result)

    def __get__(self, parent: Any, objtype: Any = None) -> Any:
        if parent is None:
            return self
        return _coroutines.bound_stand_in(self.__call__, parent, self.awaitable)


class ThreadSensitiveContext(_routing.ThreadSensitiveContextBase):
    """Async context manager: thread-sensitive calls made inside it run on a
    thread that belongs to it.

    Without ``executor`` it is re-entrant (only the outermost one counts) and
    owns a one-thread executor, created on first use and shut down on exit;
    the exit waits, without blocking the event loop, until the work that
    executor took has finished, also when the task was cancelled (a second
    cancellation ends that wait). With ``executor`` (a caller-owned single-worker
    executor), it applies even under an outer context or inside an
    ``async_to_sync`` call, is never shut down by us, and the object can be
    entered only once.
    """

    @staticmethod
    def _current() -> contextvars.ContextVar[Any]:
        return SyncToAsync.thread_sensitive_context

    @staticmethod
    def _own_executors() -> MutableMapping[Any, Executor]:
        return SyncToAsync.context_to_thread_executor

    @staticmethod
    def _waiting_executors() -> Local:
        return AsyncToSync.executors


class AsyncSingleThreadContext(_routing.AsyncSingleThreadContextBase):
    """Sync context manager: every ``async_to_sync`` call inside it runs its
    event loop on the same thread. Re-entrant (only the outermost counts)."""

    @staticmethod
    def _current() -> contextvars.ContextVar[Any]:
        return AsyncToSync.async_single_thread_context

    @staticmethod
    def _own_runners() -> MutableMapping[Any, LoopRunner]:
        return AsyncToSync.context_to_thread_executor


def _reset_after_fork() -> None:
    # The child has only the forking thread: executors, loop threads and
    # waiting threads of the parent are gone.
    global _pid
    _pid = os.getpid()
    SyncToAsync.single_thread_executor = _routing.one_thread_executor("process")
    SyncToAsync.context_to_thread_executor.clear()
    AsyncToSync.loop_thread_executors.clear()
    AsyncToSync.context_to_thread_executor.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


@overload
def sync_to_async(
    func: None = None,
    *,
    thread_sensitive: bool = True,
    executor: Executor | None = None,
    context: contextvars.Context | None = None,
) -> Callable[[Callable[_P, _R]], SyncToAsync[_P, _R]]: ...


@overload
def sync_to_async(
    func: Callable[_P, _R],
    *,
    thread_sensitive: bool = True,
    executor: Executor | None = None,
    context: contextvars.Context | None = None,
) -> SyncToAsync[_P, _R]: ...


def sync_to_async(
    func: Callable[_P, _R] | None = None,
    *,
    thread_sensitive: bool = True,
    executor: Executor | None = None,
    context: contextvars.Context | None = None,
) -> SyncToAsync[_P, _R] | Callable[[Callable[_P, _R]], SyncToAsync[_P, _R]]:
    """Make a sync callable awaitable: ``await sync_to_async(f)(...)`` runs
    ``f(...)`` in a thread (see the module docstring for which one) and
    returns its result. Usable bare, as ``@sync_to_async`` or with options."""
    if func is None:
        return lambda f: SyncToAsync(
            f, thread_sensitive=thread_sensitive, executor=executor, context=context
        )
    return SyncToAsync(func, thread_sensitive=thread_sensitive, executor=executor, context=context)


@overload
def async_to_sync(
    awaitable: None = None, *, force_new_loop: bool = False
) -> Callable[[_AsyncCallable[_P, _R]], AsyncToSync[_P, _R]]: ...


@overload
def async_to_sync(
    awaitable: _AsyncCallable[_P, _R], *, force_new_loop: bool = False
) -> AsyncToSync[_P, _R]: ...


def async_to_sync(
    awaitable: _AsyncCallable[_P, _R] | None = None, *, force_new_loop: bool = False
) -> AsyncToSync[_P, _R] | Callable[[_AsyncCallable[_P, _R]], AsyncToSync[_P, _R]]:
    """Make an async callable callable from sync code: ``async_to_sync(f)(...)``
    runs ``f(...)`` to completion and returns its result. Usable bare, as
    ``@async_to_sync`` or with ``force_new_loop=True``."""
    if awaitable is None:
        return lambda f: AsyncToSync(f, force_new_loop=force_new_loop)
    return AsyncToSync(awaitable, force_new_loop=force_new_loop)
