"""The bridge between sync and async code: ``sync_to_async`` and ``async_to_sync``.

Thread-sensitive sync code (the default) runs on one thread per "sync world":
the thread of the outermost sync caller when there is one (it waits inside a
``CurrentThreadExecutor`` and serves those calls), else the thread of the
innermost ``ThreadSensitiveContext``, else one process-wide worker.

Everything internal that other projects patch or subclass (``thread_handler``,
``main_wrap``, the class attributes) is looked up through the class or the
instance at call time, so patches reach the running code.
"""

# Annotations that Python evaluates when a def or class runs are written as
# strings, in place of ``from __future__ import annotations``: that statement
# also imports the ``__future__`` module, which ``import asgiref.sync`` would
# pay for on every start (3.14 defers annotations by itself).

import asyncio
import collections
import contextlib
import contextvars
import functools
import inspect
import itertools
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor, Future, InvalidStateError
from types import GenericAlias, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, ParamSpec, TypeVar, cast, overload

# The "as" imports (here and from asgiref.local) are names upstream's module
# defines, mostly imports for its own annotations, that code may read from
# here: the same objects. Its ThreadPoolExecutor is read through __getattr__
# below, so that importing this module does not load the thread pool machinery.
from typing import Dict as Dict  # noqa: UP035
from typing import Generic as Generic
from typing import List as List  # noqa: UP035
from typing import Optional as Optional

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.local import (
    _MOVE_LEAVES_ALONE,  # pyright: ignore[reportPrivateUsage]
    Local,
    _bridge_state,  # pyright: ignore[reportPrivateUsage]
    _crossing,  # pyright: ignore[reportPrivateUsage]
    _get_running_loop,  # pyright: ignore[reportPrivateUsage]
    _local_get,  # pyright: ignore[reportPrivateUsage]
    _moved_here,  # pyright: ignore[reportPrivateUsage]
    _push_value,  # pyright: ignore[reportPrivateUsage]
)
from asgiref.local import _rehome as _rehome  # pyright: ignore[reportPrivateUsage]
from asgiref.local import _Storage as _Storage  # pyright: ignore[reportPrivateUsage]

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor as ThreadPoolExecutor
    from typing import Generic as _Generic
    from typing import TypeAlias
    from weakref import WeakKeyDictionary

    from asgiref.current_thread_executor import CallOutcome, CurrentThreadExecutor
    from asgiref.local import _BridgeThreadState  # pyright: ignore[reportPrivateUsage]

    # Loaded on the first async_to_sync call that needs a loop of its own
    # (see _run_on_own_loop): programs that never make one skip its import.
    from asgiref.sync._loop_runner import LoopRunner

    _CallOutcome: type[CallOutcome]
    _CurrentThreadExecutor: type[CurrentThreadExecutor]
else:
    # The waiting side of async_to_sync (asgiref.current_thread_executor) is
    # bound here by _load_waiting_side(), on the first async_to_sync call (or
    # the first read of asgiref.sync.CurrentThreadExecutor).
    # Trade: programs that only import this module (Django under WSGI,
    # management commands, test collection) never load it, and it is about a
    # quarter of the objects this import would otherwise build: enough to
    # keep the import under the garbage collector's next pass. The first call
    # that needs it pays for the load instead (about 0.3 ms, once; the first
    # thread-sensitive sync_to_async loads it with its executor). Until these are
    # bound, no executor of async_to_sync's exists, and the sync_to_async
    # checks against None (never a type) take the general executor path,
    # which is right for any executor.
    _CallOutcome = _CurrentThreadExecutor = None
# A flag rather than an "is None" test: type checkers see the two names as the
# classes (pyright cannot narrow through an optional type[...] variable).
_waiting_side_loaded = False


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

# asgiref.local's bridge hooks and CurrentThreadExecutor's bridge-only
# methods are private to this distribution; the lines marked
# "reportPrivateUsage" are their uses from here.


_P = ParamSpec("_P")
_R = TypeVar("_R")

if TYPE_CHECKING:
    # What async_to_sync accepts: an async function, or any callable
    # returning an awaitable.
    _AsyncCallable: TypeAlias = Callable[_P, Coroutine[Any, Any, _R]] | Callable[_P, Awaitable[_R]]
    _ExecutorPerContext: TypeAlias = "WeakKeyDictionary[ThreadSensitiveContext, Executor]"
    _RunnerPerContext: TypeAlias = "WeakKeyDictionary[AsyncSingleThreadContext, LoopRunner]"
else:

    class _Generic:
        """Runtime base of the generic bridge classes, in place of typing.Generic.

        ``SyncToAsync[[int], str]`` and subclassing ``SyncToAsync[Any, Any]``
        work as for stdlib generics (a types.GenericAlias). Trade: the
        typing.Generic machinery (``__orig_bases__``, ``__parameters__``) is
        absent at runtime; building those classes through it was about a
        tenth of the cost of ``import asgiref.sync``.
        """

        __slots__ = ()
        __class_getitem__ = classmethod(GenericAlias)


_MISSING: Any = object()

# This process's ID, kept current by the fork hook at the end of this module
# (os.getpid() is a system call; the bridge compares it on every nested call).
_pid = os.getpid()

# How often a sync thread waiting on an outer loop checks that the loop is
# still alive, and how long a stopped loop may stay stopped before the call
# fails. Waiting threads are otherwise woken only by work or completion.
_LOOP_POLL_SECONDS = 0.25
_STOPPED_LOOP_GRACE_SECONDS = 2.0


# --- where asyncio differs across Python versions (3.10-3.14) ---------------------
#
# Recognising coroutine functions, and marking objects as such:
# ``inspect.markcoroutinefunction`` only exists from 3.12, and before that only
# ``asyncio.iscoroutinefunction`` honoured a marker (its ``_is_coroutine``
# attribute); 3.12 deprecates the asyncio function. Marked objects carry both
# markers so either test recognises them on every version. Creating a task in
# a given context (``context=`` exists from 3.11), and starting one eagerly
# (``eager_start=`` from 3.12).
#
# These live here rather than in a module of their own: every module costs
# ``import asgiref.sync`` about 0.2 ms to find and load, whatever its size.

# Typed once, so that narrowing by it gives partial[Any] rather than an
# unknown type argument.
_PARTIAL: Final = cast("type[functools.partial[Any]]", functools.partial)

_TASKS_TAKE_CONTEXT = sys.version_info >= (3, 11)
_TASKS_START_EAGERLY = sys.version_info >= (3, 12)

_F = TypeVar("_F", bound=Callable[..., Any])

# What sys.exc_info() returns (upstream takes it from _typeshed).
OptExcInfo: "TypeAlias" = (
    tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
)

# The task running on a loop, for _run_first_step_now (3.10/3.11 only):
# asyncio's own loop -> task map, read directly (asyncio.current_task is a
# Python-level wrapper around it there); current_task if it were missing.
_running_task: "Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]" = getattr(
    getattr(asyncio.tasks, "_current_tasks", None), "get", asyncio.current_task
)

# The legacy asyncio marker; may disappear in a future Python.
_LEGACY_MARK: object = getattr(asyncio.coroutines, "_is_coroutine", None)


def markcoroutinefunction(func: "_F") -> "_F":
    """Make ``iscoroutinefunction`` (ours, inspect's and asyncio's) accept
    ``func``, e.g. an object whose ``__call__`` returns a coroutine."""
    if sys.version_info >= (3, 12):
        inspect.markcoroutinefunction(func)
    if _LEGACY_MARK is not None:
        target: Any = getattr(func, "__func__", func)
        with contextlib.suppress(AttributeError):  # objects without a __dict__
            target._is_coroutine = _LEGACY_MARK
    return func


def iscoroutinefunction(func: object) -> bool:
    """True for ``async def`` functions, methods and partials of them, and for
    anything passed through :func:`markcoroutinefunction`."""
    if inspect.iscoroutinefunction(func):
        return True
    if _LEGACY_MARK is None:
        return False
    target: object = func
    while True:
        if inspect.ismethod(target):
            target = target.__func__
        elif isinstance(target, _PARTIAL):
            target = target.func
        else:
            return getattr(target, "_is_coroutine", None) is _LEGACY_MARK


def _create_task_in_context(
    loop: "asyncio.AbstractEventLoop",
    coro: "Coroutine[Any, Any, Any]",
    context: "contextvars.Context",
) -> "asyncio.Task[Any]":
    if _TASKS_TAKE_CONTEXT:
        return loop.create_task(coro, context=context)  # type: ignore[call-arg,unused-ignore]  # 3.11+
    # 3.10: the task copies the context it is created in, which is the same.
    return context.run(loop.create_task, coro)


def _start_task_in_context(
    loop: "asyncio.AbstractEventLoop",
    coro: "Coroutine[Any, Any, Any]",
    context: "contextvars.Context",
) -> "asyncio.Task[Any]":
    """A task for ``coro``, created from a callback running on ``loop``,
    whose first step runs right away where Python allows it.

    For an async_to_sync call arriving on a running loop: a coroutine that
    completes without suspending then resolves the waiting thread within the
    callback that started it, one loop iteration earlier. Trade: only with
    asyncio's own task creation (no task factory, the stock create_task), so
    a loop or factory that instruments tasks still creates every task
    itself, and the call then waits one iteration longer.
    """
    stock = loop.get_task_factory() is None and (
        type(loop).create_task is asyncio.BaseEventLoop.create_task
    )
    if not stock:
        return _create_task_in_context(loop, coro, context)
    # What the stock create_task does, without its Python-level steps.
    if _TASKS_START_EAGERLY:
        return asyncio.Task(coro, loop=loop, context=context, eager_start=True)  # type: ignore[call-arg,unused-ignore]  # 3.12+
    task: asyncio.Task[Any]
    if _TASKS_TAKE_CONTEXT:
        task = asyncio.Task(coro, loop=loop, context=context)  # type: ignore[call-arg,unused-ignore]  # 3.11
    else:
        task = context.run(asyncio.Task[Any], coro, loop=loop)
    _run_first_step_now(loop, task)
    return task


def _run_first_step_now(loop: "asyncio.AbstractEventLoop", task: "asyncio.Task[Any]") -> None:
    """Before 3.12 (no eager start): run the step that creating ``task`` just
    scheduled now instead of on the next loop iteration, as 3.12's eager
    start does.

    Trade: this reads asyncio's private ready queue of its own loops
    (``_ready``, a deque of Handles; 3.10 and 3.11 no longer change). It
    acts only when the newest handle there is that task's step; if anything
    else was queued after it (another thread's call_soon_threadsafe), the
    step is left where it is and runs on the next iteration as usual.
    """
    # Declared rather than cast(), a Python-level call.
    queue: collections.deque[asyncio.Handle] | None = getattr(loop, "_ready", None)
    if not isinstance(queue, collections.deque) or not queue:
        return
    if _running_task(loop) is not None:
        # Called from inside a task: a step cannot run within another one
        # (3.12's eager start runs it later in that case too).
        return
    handle = queue[-1]
    if type(handle) is not asyncio.Handle:
        return
    task_step = getattr(handle, "_callback", None)
    if getattr(task_step, "__self__", None) is not task:
        return
    # pop() and the check above are not one atomic step: another thread may
    # have appended in between, so put back whatever was not ours.
    popped = queue.pop()
    if popped is not handle:
        queue.append(popped)
        return
    # What Handle._run does, less its exception reporting, which a task's
    # step never needs (it keeps its exceptions, or lets only SystemExit
    # and KeyboardInterrupt through, which _run re-raises too).
    handle._context.run(task_step, *handle._args)  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue]


class _Occupancy:
    """A thread-sensitive call that currently holds a single-thread executor.

    Stored in ``SyncToAsync.deadlock_context`` and chained to the occupancy of
    the enclosing call, so a nested call can tell whether the executor it needs
    is held by one of its own ancestors (a real deadlock).
    """

    __slots__ = ("active", "executor", "outer")

    def __init__(self, executor: Executor, outer: object) -> None:
        self.executor = executor
        self.outer = outer
        self.active = True

    def release(self, _future: object = None) -> None:
        self.active = False


def _held_by_ancestor(chain: object, executor: Executor) -> bool:
    while type(chain) is _Occupancy:
        if chain.executor is executor and chain.active:
            return True
        chain = chain.outer
    return False


def _flow_back(context: "contextvars.Context") -> None:
    """Copy the values ``context`` ended with into the current context.

    Values are compared by identity: a third-party ``__eq__`` never runs and an
    equal-but-new object still replaces the old one.
    """
    for var, value in context.items():
        if var in _BRIDGE_PRIVATE_VARS:
            continue
        if var.get(_MISSING) is not value:
            var.set(value)


def _restore_context(context: "contextvars.Context") -> None:  # pyright: ignore[reportUnusedFunction]
    """Copy the values of ``context`` into the current context (upstream's
    name; code that runs coroutines on a runtime of its own calls it).

    Like :func:`_flow_back`, it leaves the bridge's own variables alone.
    The context is moved onto this thread on purpose, so the ``Local``
    values in it become this thread's own, as upstream re-homes them;
    thread-critical ``Local`` values stay with the thread that set them.
    """
    for var, value in context.items():
        if var in _BRIDGE_PRIVATE_VARS:
            continue
        value = _moved_here(var, value)
        if value is not _MOVE_LEAVES_ALONE and var.get(_MISSING) is not value:
            var.set(value)


def _resolve(
    future: "Future[Any]", value: Any = None, error: "BaseException | None" = None
) -> None:
    # The caller may already have given up on this call (a dead outer loop),
    # in which case the late outcome has nobody to go to.
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except InvalidStateError:
        pass


def _consume_outcome(future: "Future[Any] | asyncio.Future[Any]") -> None:
    # Marks an asyncio future's exception as retrieved (no "never retrieved"
    # log for a call whose awaiting task was cancelled).
    if not future.cancelled():
        future.exception()


def _set_pending_done(waiter: "asyncio.Future[None]") -> None:
    if not waiter.done():
        waiter.set_result(None)


def _waiter_for(
    loop: "asyncio.AbstractEventLoop", future: "Future[Any] | asyncio.Future[Any]"
) -> "asyncio.Future[None]":
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


async def _until_work_finished(executor: Executor) -> None:
    """Wait until a shut-down executor has finished its work. Cancelling the
    wait leaves the work alone: it still completes, in its thread."""
    from asgiref.sync._one_thread import OneThreadExecutor

    loop = asyncio.get_running_loop()
    if isinstance(executor, OneThreadExecutor):
        unfinished = executor.unfinished_work()
        if unfinished is not None:
            await _waiter_for(loop, unfinished)
    else:
        # Put in context_to_thread_executor by other code: its blocking
        # shutdown waits on a thread of the loop's, never on the loop.
        await loop.run_in_executor(None, executor.shutdown)


_context_executor_numbers = itertools.count(1)


def _one_thread_executor(purpose: str) -> Executor:
    # Imported here: concurrent.futures loads its thread pool module (and
    # queue) on first use only, and ``import asgiref.sync`` should cost no
    # more than ``import asyncio``.
    from asgiref.sync._one_thread import OneThreadExecutor

    # Each thread's name says what it serves and tells it from the others
    # (``%(threadName)s`` in logs must tell concurrent requests apart).
    return OneThreadExecutor(f"asgiref-thread-sensitive-{purpose}")


class _ProcessWideExecutor:
    """``SyncToAsync.single_thread_executor`` until its first read, which
    replaces this placeholder by the real executor (once, under a lock).

    Trade: one class-attribute read goes through this descriptor, in
    exchange for not importing the thread pool machinery at import time.
    Assigning the attribute (tests, forks) replaces the placeholder too.
    """

    lock = threading.Lock()

    def __get__(self, instance: object, owner: "type | None" = None) -> Executor:
        with self.lock:
            current = SyncToAsync.__dict__["single_thread_executor"]
            if current is self:
                current = _one_thread_executor("process")
                type.__setattr__(SyncToAsync, "single_thread_executor", current)
        return cast(Executor, current)


class SyncToAsync(_Generic[_P, _R]):
    """Wraps a sync callable so that awaiting it runs the callable in a thread.

    See :func:`sync_to_async`.
    """

    # Per worker thread: the loop of the async code it serves, and more (see
    # asgiref.local, which shares this object).
    threadlocal: "ClassVar[_BridgeThreadState]" = _bridge_state

    # The process-wide thread for thread-sensitive code that has no better
    # home. The thread itself starts on first use.
    single_thread_executor: "ClassVar[Executor]" = cast(Executor, _ProcessWideExecutor())

    thread_sensitive_context: "ClassVar[contextvars.ContextVar[ThreadSensitiveContext]]" = (
        contextvars.ContextVar("thread_sensitive_context")
    )

    # The chain of single-thread executors held by the calls enclosing this
    # context (see _Occupancy); falsy when there are none.
    deadlock_context: "ClassVar[contextvars.ContextVar[Any]]" = contextvars.ContextVar(
        "deadlock_context"
    )

    context_to_thread_executor: "ClassVar[_ExecutorPerContext]" = weakref.WeakKeyDictionary()

    def __init__(
        self,
        func: "Callable[_P, _R]",
        thread_sensitive: bool = True,
        executor: "Executor | None" = None,
        context: "contextvars.Context | None" = None,
    ) -> None:
        if (
            not callable(func)
            or iscoroutinefunction(func)
            # The __call__ of callable objects is what runs (not a callability test).
            or iscoroutinefunction(getattr(func, "__call__", func))  # noqa: B004
        ):
            raise TypeError("sync_to_async can only be applied to sync functions.")
        if thread_sensitive and executor is not None:
            raise TypeError("executor must not be set when thread_sensitive is True")
        functools.update_wrapper(self, func)
        self.func = func
        self.context = context
        self._thread_sensitive = thread_sensitive
        self._executor = executor
        markcoroutinefunction(self)
        bound_to = getattr(func, "__self__", _MISSING)
        if bound_to is not _MISSING:
            self.__self__ = bound_to

    async def __call__(self, *args: "_P.args", **kwargs: "_P.kwargs") -> "_R":
        __traceback_hide__ = True
        loop = asyncio.get_running_loop()
        own_context = self.context is None
        occupancy: _Occupancy | None = None
        deadlock_token: contextvars.Token[Any] | None = None
        executor: Executor | None = self._executor
        task_context: list[asyncio.Task[Any]] = []
        future: Future[Any] | asyncio.Future[Any] | None = None
        context: contextvars.Context | None = None
        chain = self.deadlock_context.get(None) if self._thread_sensitive else None
        refused: Executor | None = None
        abandoned = False
        try:
            while future is None:
                if self._thread_sensitive:
                    executor = self._thread_sensitive_executor(loop)
                    if _held_by_ancestor(chain, executor):
                        raise RuntimeError(
                            "Single thread executor already being used, would deadlock: "
                            f"the thread-sensitive call to {self._describe()} needs "
                            f"{executor!r}, whose only thread is still running the "
                            "thread-sensitive call that this one was started from. "
                            "Use thread_sensitive=False, or do not block that thread "
                            "on async code."
                        )
                    if occupancy is not None:  # a retry: the first choice had ended
                        occupancy.release()
                    occupancy = _Occupancy(executor, chain)
                    if deadlock_token is None:
                        deadlock_token = self.deadlock_context.set(occupancy)
                    else:
                        self.deadlock_context.set(occupancy)
                context = contextvars.copy_context() if own_context else self.context
                assert context is not None
                child = functools.partial(self.func, *args, **kwargs)
                call = functools.partial(
                    self.thread_handler, loop, sys.exc_info(), task_context, context.run, child
                )
                if executor is None:
                    future = loop.run_in_executor(None, call)
                elif type(executor) is _CurrentThreadExecutor and executor is not refused:
                    # None means it finished between routing and now: route
                    # again. The bridge's own routing then picks another, live
                    # one; an executor routed to again anyway (one given to
                    # ThreadSensitiveContext) takes submit() below, which
                    # hands the work outwards or raises, instead of looping.
                    future = executor._try_submit(call, (), {})  # pyright: ignore[reportPrivateUsage]
                    refused = executor
                else:
                    future = executor.submit(call)
            if occupancy is not None:
                future.add_done_callback(occupancy.release)
            try:
                await _waiter_for(loop, future)
            except asyncio.CancelledError:
                if future.done() or not await self._cancel_nested(task_context):
                    # Nobody will read the outcome of the abandoned call.
                    future.add_done_callback(_consume_outcome)
                    raise
                await _waiter_for(loop, future)
            result: _R = future.result()  # no cast(): a Python-level call
            return result
        except GeneratorExit:
            # Closed without its task: the task was destroyed while pending
            # (its loop was dropped) and the garbage collector finalises this
            # coroutine in whatever thread and context it happens to run in.
            # Nobody awaits the outcome, and that context belongs to someone
            # else: copying our values into it (or resetting our token there)
            # would corrupt an unrelated caller, e.g. hide its Local values.
            abandoned = True
            if occupancy is not None and future is None:
                occupancy.release()
            raise
        except BaseException:
            if occupancy is not None and future is None:
                occupancy.release()
            raise
        finally:
            if not abandoned:
                if deadlock_token is not None:
                    # Always undone, even when scheduling itself failed: a
                    # stale flag would make every later call here report a
                    # deadlock.
                    self.deadlock_context.reset(deadlock_token)
                if own_context and context is not None and future is not None:
                    _flow_back(context)

    def _thread_sensitive_executor(self, loop: "asyncio.AbstractEventLoop") -> Executor:
        # 1. A sync thread further out is waiting in async_to_sync: run there.
        #    A task can inherit the executor of a call that has since ended
        #    (e.g. a keep-alive request task created during the previous
        #    request's last send); then the nearest live outer one is used, or
        #    none at all.
        current = _local_get(AsyncToSync.executors, "current", None)
        if current is not None:
            # Annotated rather than cast(), a Python-level call.
            live: Executor | None = (
                current._live() if type(current) is _CurrentThreadExecutor else current  # pyright: ignore[reportPrivateUsage]
            )
            if live is not None:
                return live
        # 2. The innermost ThreadSensitiveContext.
        context = self.thread_sensitive_context.get(None)
        if context is not None:
            return context._executor_for_call()  # pyright: ignore[reportPrivateUsage]
        # 3. The thread whose async_to_sync call runs this loop.
        serving = AsyncToSync.loop_thread_executors.get(loop)
        if serving is not None:
            live = serving._live()  # pyright: ignore[reportPrivateUsage]
            if live is not None:
                return live
        # 4. The process-wide thread.
        return self.single_thread_executor

    @staticmethod
    async def _cancel_nested(task_context: "list[asyncio.Task[Any]]") -> bool:
        """Pass a cancellation on to the async code the sync code is waiting
        for. True when that code finished anyway, so the sync code's own
        outcome (which may well be the cancellation) is the answer."""
        # The pending one: a task cancelled before its first step (a loop
        # shutting down) never ran main_wrap, which unlists it.
        nested = next((task for task in task_context if not task.done()), None)
        if nested is None:
            return False
        nested.cancel()
        try:
            await nested
        except asyncio.CancelledError:
            return False
        return True

    def _describe(self) -> str:
        return getattr(self.func, "__qualname__", None) or repr(self.func)

    def thread_handler(
        self,
        loop: "asyncio.AbstractEventLoop",
        exc_info: "tuple[Any, Any, Any]",
        task_context: "list[asyncio.Task[Any]] | None",
        func: "Callable[..., Any]",
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
        _bridge_state.depth += 1  # not self.threadlocal: asgiref.local reads this one
        try:
            active = exc_info[1]
            if active is None:
                return func(*args, **kwargs)
            return _call_while_handling(active, func, args, kwargs)
        finally:
            _bridge_state.depth -= 1
            state.main_event_loop, state.main_event_loop_pid, state.task_context = saved

    def __get__(self, parent: Any, objtype: Any = None) -> Any:
        if parent is None:
            return self
        bound = functools.partial(self.__call__, parent)
        return functools.update_wrapper(bound, self.func)


def _call_while_handling(
    active: BaseException,
    func: "Callable[..., Any]",
    args: "tuple[Any, ...]",
    kwargs: "dict[str, Any]",
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


class AsyncToSync(_Generic[_P, _R]):
    """Wraps an async callable so that calling it from sync code runs it to
    completion on an event loop and returns its result.

    See :func:`async_to_sync`.
    """

    # The CurrentThreadExecutor of the sync thread that waits for the current
    # async code; contextvar-backed, so each task sees its own.
    executors: "ClassVar[Local]" = Local()

    # Loops started for calls from plain threads -> the waiting thread's
    # executor, for tasks that lost track of it (e.g. created with a fresh
    # context).
    loop_thread_executors: "ClassVar[dict[asyncio.AbstractEventLoop, CurrentThreadExecutor]]" = {}

    async_single_thread_context: "ClassVar[contextvars.ContextVar[AsyncSingleThreadContext]]" = (
        contextvars.ContextVar("async_single_thread_context")
    )

    context_to_thread_executor: "ClassVar[_RunnerPerContext]" = weakref.WeakKeyDictionary()

    def __init__(
        self,
        awaitable: "_AsyncCallable[_P, _R]",
        force_new_loop: bool = False,
    ) -> None:
        if not callable(awaitable) or (
            not iscoroutinefunction(awaitable)
            # The __call__ of callable objects is what runs (not a callability test).
            and not iscoroutinefunction(getattr(awaitable, "__call__", awaitable))  # noqa: B004
        ):
            warnings.warn("async_to_sync was passed a non-async-marked callable", stacklevel=2)
        functools.update_wrapper(self, awaitable)
        self.awaitable = awaitable
        self.force_new_loop = force_new_loop
        # Kept for code that reads it; the outer loop is found at call time.
        self.main_event_loop: asyncio.AbstractEventLoop | None = None
        bound_to = getattr(awaitable, "__self__", _MISSING)
        if bound_to is not _MISSING:
            self.__self__ = bound_to

    def __call__(self, *args: "_P.args", **kwargs: "_P.kwargs") -> "_R":
        __traceback_hide__ = True
        if _get_running_loop() is not None:
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
                done = self._run_on_outer_loop(outer, state.task_context, awaitable)
                if done is not None:
                    return done.result()
                # The outer loop went away before our coroutine started; it
                # never ran, so running it on a loop of our own is safe.
        return self._run_on_own_loop(awaitable)

    def _prepare(
        self,
    ) -> "tuple[CurrentThreadExecutor, Callable[[], None], list[contextvars.Context]]":
        """This thread's executor for the call (made current), the undo of
        that, and the caller's context (copied after the change)."""
        if not _waiting_side_loaded:
            _load_waiting_side()
        executor, undo = _push_value(self.executors, "current", _CurrentThreadExecutor)
        return executor, undo, [contextvars.copy_context()]

    def _run_on_outer_loop(
        self,
        loop: "asyncio.AbstractEventLoop",
        task_context: "list[asyncio.Task[Any]] | None",
        awaitable: "Awaitable[_R]",
    ) -> "Future[_R] | None":
        """The finished call (its context flowed back), or None when the loop
        went away before the coroutine started."""
        executor, undo, context = self._prepare()
        # The executor is new and unshared: it serves until this outcome.
        call_result: Future[_R] = executor._begin_new_outcome()  # pyright: ignore[reportPrivateUsage]
        try:
            coro = self.main_wrap(call_result, sys.exc_info(), task_context, context, awaitable)
            watch = _OuterLoopWatch(loop, call_result, awaitable, task_context)
            # Everything is prepared before the loop is woken: from then on
            # this thread should only block, not compete with the loop thread
            # for the GIL while the loop runs the coroutine.
            try:
                loop.call_soon_threadsafe(_start_main_task, loop, coro, context[0], watch)
            except RuntimeError:  # closed meanwhile
                coro.close()
                executor._retire()  # pyright: ignore[reportPrivateUsage]
                return None
            executor._serve(call_result, _LOOP_POLL_SECONDS, watch.check)  # pyright: ignore[reportPrivateUsage]
            if call_result.cancelled():
                return None
            _flow_back(context[0])
            return call_result
        finally:
            undo()

    def _run_on_own_loop(self, awaitable: "Awaitable[_R]") -> "_R":
        """Run the call on an event loop of the bridge's own, as upstream's
        fresh ``asyncio.run`` would (see asgiref.sync._loop_runner)."""
        from asgiref.sync._loop_runner import acquire_runner, release_runner

        executor, undo, context = self._prepare()
        call_result: Future[_R] = _CallOutcome()
        runner: LoopRunner | None = None
        # The loop the call starts on (a runner replaces its loop, before the
        # call returns, when the call left it unlike a fresh one).
        loop: asyncio.AbstractEventLoop | None = None
        pooled = completed = False
        try:
            runner, pooled = acquire_runner(
                self.async_single_thread_context.get(None), self.context_to_thread_executor
            )
            loop = runner.loop
            self.loop_thread_executors[loop] = executor
            coro = self.main_wrap(call_result, sys.exc_info(), None, context, awaitable)
            done = runner.launch(coro, context[0])
            runner.serve_until_done(executor, done)
            completed = True
            _flow_back(context[0])
            # What escaped the loop (SystemExit from a task, say) comes
            # first, as it escapes upstream's asyncio.run.
            done.result()
            if not call_result.running() and not call_result.done():
                # The task was cancelled before main_wrap's first step (by
                # code holding a reused loop): what asyncio.run raises then.
                raise asyncio.CancelledError()
            return call_result.result()
        finally:
            if not call_result.running() and not call_result.done():
                _discard(awaitable)  # main_wrap never got to it
            undo()
            if loop is not None:
                self.loop_thread_executors.pop(loop, None)
            if runner is not None:
                # Interrupted (e.g. KeyboardInterrupt) while the coroutine
                # may still run: the runner is retired, which cancels what
                # is left on it, rather than handed to the next call busy.
                release_runner(runner, pooled, completed)

    async def main_wrap(
        self,
        call_result: "Future[_R]",
        exc_info: "tuple[Any, Any, Any]",
        task_context: "list[asyncio.Task[Any]] | None",
        context: "list[contextvars.Context]",
        awaitable: "Awaitable[_R]",
    ) -> None:
        """Runs as a task on the loop: awaits ``awaitable`` (the call of the
        wrapped function) and reports its outcome, and the context it ended
        with, through ``call_result``."""
        __traceback_hide__ = True
        # Thread-critical values of the caller's async code stay behind, and
        # so does the chain of busy executors: the waiting thread serves this
        # call's thread-sensitive work itself.
        # Claimed here, at the first step, not when the task was scheduled: a
        # waiting thread may abandon a call whose loop stopped before it ever
        # ran, and rerun it elsewhere (see _OuterLoopWatch).
        if not call_result.set_running_or_notify_cancel():
            return
        _crossing.set(object())  # a fresh crossing (see asgiref.local)
        SyncToAsync.deadlock_context.set(None)
        # A nested call's task is listed in task_context (so that cancelling
        # the sync_to_async call waiting for it cancels it) by
        # _start_main_task, once the task has suspended: a coroutine that
        # completes in its first step is never listed.
        try:
            active = exc_info[1]
            if active is None:
                result = await awaitable
            else:
                result = await _await_while_handling(active, awaitable)
        except GeneratorExit:
            # Finalised without its task (see SyncToAsync.__call__): the
            # current context is some unrelated thread's, so it is not
            # captured; the waiting thread gets an error instead of a hang.
            _untrack(task_context)
            _resolve(
                call_result,
                error=RuntimeError(
                    "The event loop running this async_to_sync call dropped it "
                    "before the coroutine completed."
                ),
            )
            raise
        except BaseException as exc:
            _untrack(task_context)
            # Capture the context first: the waiting thread wakes as soon as
            # the future resolves and reads it immediately.
            context[0] = contextvars.copy_context()
            _resolve(call_result, error=exc)
        else:
            _untrack(task_context)
            context[0] = contextvars.copy_context()
            _resolve(call_result, result)

    def __get__(self, parent: Any, objtype: Any = None) -> Any:
        if parent is None:
            return self
        bound = functools.partial(self.__call__, parent)
        return functools.update_wrapper(bound, self.awaitable)


async def _await_while_handling(active: BaseException, awaitable: "Awaitable[Any]") -> Any:
    traceback = active.__traceback__
    try:
        raise active
    except BaseException:
        active.__traceback__ = traceback
        return await awaitable


def _discard(awaitable: object) -> None:
    # An un-awaited coroutine would warn when collected; it never ran, so
    # closing it is all that is left to do.
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


def _untrack(task_context: "list[asyncio.Task[Any]] | None") -> None:
    # Listed only once suspended (see _start_main_task): usually empty.
    # No running loop: a coroutine finalised by the garbage collector
    # outside any loop (see main_wrap), whose task is gone with its loop.
    if not task_context or _get_running_loop() is None:
        return
    task = asyncio.current_task()
    if task is not None and task in task_context:
        task_context.remove(task)


def _start_main_task(
    loop: "asyncio.AbstractEventLoop",
    coro: "Coroutine[Any, Any, None]",
    context: "contextvars.Context",
    watch: "_OuterLoopWatch",
) -> None:
    """Loop-side start of an async_to_sync call on an outer loop."""
    call_result = watch.call_result
    if call_result.cancelled():  # abandoned by the waiting thread already
        coro.close()
        return
    try:
        task = watch.task = _start_task_in_context(loop, coro, context)
        if watch.task_context is not None and not task.done():
            watch.task_context.append(task)
    except BaseException as exc:
        coro.close()
        _resolve(call_result, error=exc)


class _OuterLoopWatch:
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
        loop: "asyncio.AbstractEventLoop",
        call_result: "Future[Any]",
        awaitable: object,
        task_context: "list[asyncio.Task[Any]] | None",
    ) -> None:
        self.loop = loop
        self.call_result = call_result
        self.awaitable = awaitable
        self.task_context = task_context
        self.stopped_since: float | None = None
        self.task: asyncio.Task[Any] | None = None

    def check(self) -> None:
        task = self.task
        if task is not None and task.done():
            if not self.call_result.running() and not self.call_result.done():
                _discard(self.awaitable)  # main_wrap never got to it
            if task.cancelled():
                _resolve(self.call_result, error=asyncio.CancelledError())
            else:
                _resolve(
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
            _resolve(
                self.call_result,
                error=RuntimeError(
                    f"The event loop {loop!r} that was running this async_to_sync call "
                    "stopped before the coroutine completed."
                ),
            )


class ThreadSensitiveContext:
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

    def __init__(self, *, executor: "Executor | None" = None) -> None:
        self._executor = executor
        self._token: contextvars.Token[ThreadSensitiveContext] | None = None
        self._state = "new"
        self._outer_executor: Any = None

    async def __aenter__(self) -> "ThreadSensitiveContext":
        var = SyncToAsync.thread_sensitive_context
        if self._executor is None:
            outer = var.get(None)
            # A context inherited from a task that has left it (a keep-alive
            # request task created during the previous request) does not
            # count: this one becomes the outermost.
            if outer is None or outer._state == "exited":
                self._state = "entered"
                self._token = var.set(self)
            return self
        if self._state == "entered":
            raise RuntimeError("This ThreadSensitiveContext is already entered.")
        if self._state == "exited":
            raise RuntimeError(
                "A ThreadSensitiveContext with an executor cannot be entered again; "
                "create a new one (it may reuse the executor)."
            )
        if not _waiting_side_loaded:
            _load_waiting_side()  # for the check in _executor_for_call
        self._state = "entered"
        self._token = var.set(self)
        self._outer_executor = _local_get(AsyncToSync.executors, "current", None)
        AsyncToSync.executors.current = None
        return self

    async def __aexit__(
        self,
        exc_type: "type[BaseException] | None",
        exc: "BaseException | None",
        traceback: "TracebackType | None",
    ) -> None:
        if self._token is None:
            return
        # GeneratorExit: an async generator closed by aclose() (in its own
        # context), or a coroutine finalised without its task in some
        # unrelated context (see SyncToAsync.__call__). Only our own context
        # is restored; any other is left alone, and so is waiting, which a
        # coroutine being closed cannot do.
        finalised = exc_type is GeneratorExit
        var = SyncToAsync.thread_sensitive_context
        own_context = not finalised or var.get(None) is self
        if own_context:
            try:
                var.reset(self._token)
            except ValueError:  # a copy of our context, not ours
                if not finalised:
                    raise
                own_context = False
        self._token = None
        self._state = "exited"
        if self._executor is not None:
            if own_context:
                AsyncToSync.executors.current = self._outer_executor
            return
        own = SyncToAsync.context_to_thread_executor.pop(self, None)
        if own is None:
            return
        # Never block here: the worker may be parked in async_to_sync on this
        # very loop, and could not finish while the loop waits for it.
        own.shutdown(wait=False)
        if own_context and not finalised:
            # But do wait, on the loop: work started inside the context (a
            # cancelled request's response.close()) must not run on after it,
            # into whatever the program does next.
            await _until_work_finished(own)

    def _executor_for_call(self) -> Executor:
        if self._executor is not None:
            if self._state == "exited":
                raise RuntimeError(
                    "This ThreadSensitiveContext(executor=...) has exited; a task that "
                    "outlived it cannot make thread-sensitive calls through it."
                )
            given = self._executor
            if (
                type(given) is _CurrentThreadExecutor
                and given._work_thread is threading.current_thread()  # pyright: ignore[reportPrivateUsage]
            ):
                # The bridge queues on a CurrentThreadExecutor directly, past
                # submit()'s own check: without this the call would wait for
                # a thread that is busy running this very loop.
                raise RuntimeError(
                    f"ThreadSensitiveContext(executor=...) was given {given!r}, which "
                    "belongs to the thread running this event loop: its work could never "
                    "run. Give it an executor of another thread."
                )
            return given
        executors = SyncToAsync.context_to_thread_executor
        executor = executors.get(self)
        if executor is None:
            executor = executors.setdefault(
                self, _one_thread_executor(f"context-{next(_context_executor_numbers)}")
            )
            if self._state == "exited":
                # A task that outlived the context calls through it (as
                # upstream allows): no exit will shut this executor down, so
                # the context's end does, or its thread would wait forever.
                weakref.finalize(self, executor.shutdown, False)
        return executor


class AsyncSingleThreadContext:
    """Sync context manager: every ``async_to_sync`` call inside it runs its
    event loop on the same thread. Re-entrant (only the outermost counts)."""

    def __init__(self) -> None:
        self._token: contextvars.Token[AsyncSingleThreadContext] | None = None

    def __enter__(self) -> "AsyncSingleThreadContext":
        var = AsyncToSync.async_single_thread_context
        if var.get(None) is None:
            self._token = var.set(self)
        return self

    def __exit__(
        self,
        exc_type: "type[BaseException] | None",
        exc: "BaseException | None",
        traceback: "TracebackType | None",
    ) -> None:
        if self._token is None:
            return
        AsyncToSync.async_single_thread_context.reset(self._token)
        self._token = None
        runner = AsyncToSync.context_to_thread_executor.pop(self, None)
        if runner is not None:
            runner.close()


def _load_waiting_side() -> None:
    # See the note at _CallOutcome. Idempotent: racing first calls bind the
    # same classes.
    global _CallOutcome, _CurrentThreadExecutor, _waiting_side_loaded
    from asgiref.current_thread_executor import CallOutcome, CurrentThreadExecutor

    _CallOutcome, _CurrentThreadExecutor = CallOutcome, CurrentThreadExecutor
    _waiting_side_loaded = True


if not TYPE_CHECKING:  # hidden from type checkers: every unknown name would type as Any

    def __getattr__(name: str) -> Any:
        # Upstream's module re-exports CurrentThreadExecutor (it imports it at
        # the top); code reading it from here gets the class, loaded now.
        if name == "CurrentThreadExecutor":
            _load_waiting_side()
            return _CurrentThreadExecutor
        if name == "ThreadPoolExecutor":
            from concurrent.futures import ThreadPoolExecutor

            return ThreadPoolExecutor
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Variables of the bridge itself that must not travel back to the caller.
_BRIDGE_PRIVATE_VARS = frozenset({_crossing, SyncToAsync.deadlock_context})


def _reset_after_fork() -> None:
    # The child has only the forking thread: executors, loop threads and
    # waiting threads of the parent are gone.
    global _pid
    _pid = os.getpid()
    _ProcessWideExecutor.lock = threading.Lock()  # may have been held by a parent thread
    SyncToAsync.single_thread_executor = cast(Executor, _ProcessWideExecutor())
    SyncToAsync.context_to_thread_executor.clear()
    AsyncToSync.loop_thread_executors.clear()
    AsyncToSync.context_to_thread_executor.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


if TYPE_CHECKING:
    # Overloads for type checkers only: at run time each would be one more
    # function (and registry entry) that ``import asgiref.sync`` builds.
    @overload
    def sync_to_async(
        func: None = None,
        *,
        thread_sensitive: bool = True,
        executor: "Executor | None" = None,
        context: "contextvars.Context | None" = None,
    ) -> "Callable[[Callable[_P, _R]], SyncToAsync[_P, _R]]": ...

    @overload
    def sync_to_async(
        func: "Callable[_P, _R]",
        *,
        thread_sensitive: bool = True,
        executor: "Executor | None" = None,
        context: "contextvars.Context | None" = None,
    ) -> "SyncToAsync[_P, _R]": ...


def sync_to_async(
    func: "Callable[_P, _R] | None" = None,
    *,
    thread_sensitive: bool = True,
    executor: "Executor | None" = None,
    context: "contextvars.Context | None" = None,
) -> "SyncToAsync[_P, _R] | Callable[[Callable[_P, _R]], SyncToAsync[_P, _R]]":
    """Make a sync callable awaitable: ``await sync_to_async(f)(...)`` runs
    ``f(...)`` in a thread (see the module docstring for which one) and
    returns its result. Usable bare, as ``@sync_to_async`` or with options."""
    if func is None:
        return lambda f: SyncToAsync(
            f, thread_sensitive=thread_sensitive, executor=executor, context=context
        )
    return SyncToAsync(func, thread_sensitive=thread_sensitive, executor=executor, context=context)


if TYPE_CHECKING:  # as for sync_to_async

    @overload
    def async_to_sync(
        awaitable: None = None, *, force_new_loop: bool = False
    ) -> "Callable[[_AsyncCallable[_P, _R]], AsyncToSync[_P, _R]]": ...

    @overload
    def async_to_sync(
        awaitable: "_AsyncCallable[_P, _R]",
        *,
        force_new_loop: bool = False,
    ) -> "AsyncToSync[_P, _R]": ...


def async_to_sync(
    awaitable: "_AsyncCallable[_P, _R] | None" = None,
    *,
    force_new_loop: bool = False,
) -> "AsyncToSync[_P, _R] | Callable[[_AsyncCallable[_P, _R]], AsyncToSync[_P, _R]]":
    """Make an async callable callable from sync code: ``async_to_sync(f)(...)``
    runs ``f(...)`` to completion and returns its result. Usable bare, as
    ``@async_to_sync`` or with ``force_new_loop=True``."""
    if awaitable is None:
        return lambda f: AsyncToSync(f, force_new_loop=force_new_loop)
    return AsyncToSync(awaitable, force_new_loop=force_new_loop)
