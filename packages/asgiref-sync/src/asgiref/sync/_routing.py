"""Thread-sensitive routing: the single-thread executors, the deadlock chain,
and how the two context managers that steer them work.

Each thread-sensitive ``sync_to_async`` call holds the one-thread executor it
runs on (an :class:`Occupancy`) for as long as it runs; the occupancies of
the calls enclosing a context form a chain (``SyncToAsync.deadlock_context``),
so a nested call can tell that the executor it needs is held by one of its
own ancestors: waiting for it would never end.
"""

from __future__ import annotations

import contextvars
import itertools
import threading
import weakref
from collections.abc import Callable, MutableMapping
from concurrent.futures import Executor, Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from asgiref.current_thread_executor import CurrentThreadExecutor
from asgiref.local import Local
from asgiref.local._store import local_get
from asgiref.sync._one_thread import OneThreadExecutor
from asgiref.sync._outcome import until_work_finished

if TYPE_CHECKING:
    from typing_extensions import Self

    from asgiref.sync._loop_runner import LoopRunner

    # Only annotations name it: a Protocol class is slow to build at import.
    class _HasExecutor(Protocol):
        def executor_for_call(self) -> Executor: ...


__all__ = [
    "AsyncSingleThreadContextBase",
    "Occupancy",
    "ThreadSensitiveContextBase",
    "held_by_ancestor",
    "one_thread_executor",
    "route",
    "submit_routed",
]

_context_numbers = itertools.count(1)


class Occupancy:
    """A thread-sensitive call that currently holds a single-thread executor,
    chained to the occupancy of the enclosing call (``outer``)."""

    __slots__ = ("active", "executor", "outer")

    def __init__(self, outer: object) -> None:
        self.executor: Executor | None = None  # set once the call is routed
        self.outer = outer
        self.active = True

    def release(self, _future: object = None) -> None:
        """The call no longer holds its executor (a done-callback too)."""
        self.active = False


def held_by_ancestor(chain: object, executor: Executor) -> bool:
    """Whether an enclosing call in ``chain`` still holds ``executor``."""
    while type(chain) is Occupancy:
        if chain.executor is executor and chain.active:
            return True
        chain = chain.outer
    return False


def one_thread_executor(purpose: str) -> Executor:
    """A new one-thread executor whose thread's name says what it serves
    (``%(threadName)s`` in logs must tell concurrent requests apart)."""
    if purpose == "context":
        purpose = f"context-{next(_context_numbers)}"
    return OneThreadExecutor(f"asgiref-thread-sensitive-{purpose}")


def route(
    waiting: Executor | None,
    context: _HasExecutor | None,
    serving: CurrentThreadExecutor | None,
    process_wide: Executor,
) -> Executor:
    """Where a thread-sensitive call runs, the first that applies of:

    1. ``waiting``: the executor of a sync thread further out that waits in
       ``async_to_sync``. A task can inherit the executor of a call that has
       since ended (e.g. a keep-alive request task created during the previous
       request's last send); then the nearest live outer one, if any.
    2. ``context``: the innermost ``ThreadSensitiveContext``'s executor.
    3. ``serving``: the thread whose ``async_to_sync`` call runs this loop.
    4. ``process_wide``: the process-wide thread.
    """
    if waiting is not None:
        nearest = waiting.live() if type(waiting) is CurrentThreadExecutor else waiting
        if nearest is not None:
            return nearest
    if context is not None:
        return context.executor_for_call()
    if serving is not None:
        nearest = serving.live()
        if nearest is not None:
            return nearest
    return process_wide


def _describe(func: object) -> str:
    return getattr(func, "__qualname__", None) or repr(func)


def submit_routed(
    route: Callable[[], Executor], occupancy: Occupancy, func: object, call: Callable[[], Any]
) -> Future[Any]:
    """Submit ``call`` (which calls ``func``) to the executor ``route()``
    picks, recorded in ``occupancy`` (released when the call ends, or here if
    it never starts).

    A CurrentThreadExecutor that finished between routing and submitting
    refuses the work: then route again. The bridge's own routing picks
    another, live one; one routed to again anyway (given to a
    ThreadSensitiveContext) takes ``submit()``, which hands the work
    outwards or raises, instead of looping.
    """
    try:
        refused: Executor | None = None
        while True:
            executor: Executor = route()
            if held_by_ancestor(occupancy.outer, executor):
                raise RuntimeError(
                    "Single thread executor already being used, would deadlock: "
                    f"the thread-sensitive call to {_describe(func)} needs {executor!r}, whose "
                    "only thread is still running the thread-sensitive call that this "
                    "one was started from. Use thread_sensitive=False, or do not block "
                    "that thread on async code."
                )
            occupancy.executor = executor
            if type(executor) is not CurrentThreadExecutor or executor is refused:
                future = executor.submit(call)
                break
            queued = executor.try_submit(call, (), {})
            if queued is not None:
                future = queued
                break
            refused = executor
    except BaseException:
        occupancy.release()
        raise
    future.add_done_callback(occupancy.release)
    return future


# -- ThreadSensitiveContext and AsyncSingleThreadContext -----------------------
#
# The public classes live in asgiref.sync and supply, through small static
# methods, the bridge state they work with (the class attributes of
# SyncToAsync and AsyncToSync, which programs patch); their behaviour is here.


class _ContextManagerBase:
    # The public class supplies the bridge's state these work with (the
    # class attributes of SyncToAsync and AsyncToSync, read at call time:
    # programs patch them).

    @staticmethod
    def _current() -> contextvars.ContextVar[Any]:
        """The context variable holding the innermost context manager."""
        raise NotImplementedError


class ThreadSensitiveContextBase(_ContextManagerBase):
    """The behaviour of asgiref.sync.ThreadSensitiveContext (documented there)."""

    def __init__(self, *, executor: Executor | None = None) -> None:
        self._executor = executor
        self._token: contextvars.Token[Any] | None = None
        self._state = "new"
        self._outer_executor: Any = None

    @staticmethod
    def _own_executors() -> MutableMapping[Any, Executor]:
        raise NotImplementedError

    @staticmethod
    def _waiting_executors() -> Local:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        var = self._current()
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
        self._state = "entered"
        self._token = var.set(self)
        waiting = self._waiting_executors()
        self._outer_executor = local_get(waiting, "current", None)
        waiting.current = None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is None:
            return
        # GeneratorExit: an async generator closed by aclose() (in its own
        # context), or a coroutine finalised without its task in some
        # unrelated context (see SyncToAsync.__call__). Only our own context
        # is restored; any other is left alone, and so is waiting, which a
        # coroutine being closed cannot do.
        finalised = exc_type is GeneratorExit
        var = self._current()
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
                self._waiting_executors().current = self._outer_executor
            return
        own = self._own_executors().pop(self, None)
        if own is None:
            return
        # Never block here: the worker may be parked in async_to_sync on this
        # very loop, and could not finish while the loop waits for it.
        own.shutdown(wait=False)
        if own_context and not finalised:
            # But do wait, on the loop: work started inside the context (a
            # cancelled request's response.close()) must not run on after it,
            # into whatever the program does next.
            await until_work_finished(own)

    def executor_for_call(self) -> Executor:
        """The executor a thread-sensitive call made inside this context runs on."""
        if self._executor is not None:
            return self._given_executor(self._executor)
        executors = self._own_executors()
        executor = executors.get(self)
        if executor is None:
            executor = executors.setdefault(self, one_thread_executor("context"))
            if self._state == "exited":
                # A task that outlived the context calls through it (as
                # upstream allows): no exit will shut this executor down, so
                # the context's end does, or its thread would wait forever.
                weakref.finalize(self, executor.shutdown, False)
        return executor

    def _given_executor(self, given: Executor) -> Executor:
        if self._state == "exited":
            raise RuntimeError(
                "This ThreadSensitiveContext(executor=...) has exited; a task that "
                "outlived it cannot make thread-sensitive calls through it."
            )
        on_this_thread = threading.current_thread()
        if type(given) is CurrentThreadExecutor and given.work_thread() is on_this_thread:
            # The bridge queues on a CurrentThreadExecutor directly, past
            # submit()'s own check: without this the call would wait for a
            # thread that is busy running this very loop.
            raise RuntimeError(
                f"ThreadSensitiveContext(executor=...) was given {given!r}, which "
                "belongs to the thread running this event loop: its work could never "
                "run. Give it an executor of another thread."
            )
        return given


class AsyncSingleThreadContextBase(_ContextManagerBase):
    """The behaviour of asgiref.sync.AsyncSingleThreadContext (documented there)."""

    def __init__(self) -> None:
        self._token: contextvars.Token[Any] | None = None

    @staticmethod
    def _own_runners() -> MutableMapping[Any, LoopRunner]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        var = self._current()
        if var.get(None) is None:
            self._token = var.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._token is None:
            return
        self._current().reset(self._token)
        self._token = None
        runner = self._own_runners().pop(self, None)
        if runner is not None:
            runner.close()
