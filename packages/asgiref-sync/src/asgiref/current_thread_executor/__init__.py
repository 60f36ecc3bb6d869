"""An executor whose work runs on the thread that created it.

A sync thread that waits for async code (``async_to_sync``) lends itself out
through a :class:`CurrentThreadExecutor`: while it sits in
:meth:`CurrentThreadExecutor.run_until_future`, callables submitted from other
threads run right there, on the waiting thread.

Its futures, and those of the bridge's other calls, are ``CallOutcome``
futures, defined here rather than in a module of their own because the first
bridge call that needs them pays for every module it loads (this one is loaded
by the first ``async_to_sync`` or thread-sensitive ``sync_to_async`` call, not
by ``import asgiref.sync``).
"""

# Annotations are strings rather than a __future__ import (see asgiref.sync).

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Executor, Future, InvalidStateError
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]

__all__ = ["CurrentThreadExecutor"]  # CallOutcome is for asgiref.sync only

if TYPE_CHECKING:
    from _thread import LockType

# Upstream's module defines these at run time too (ParamSpec and TypeVar are
# its imports); code may read them from here.
_T = TypeVar("_T")
_P = ParamSpec("_P")
_R = TypeVar("_R")


# -- CallOutcome ------------------------------------------------------------

# ``CallOutcome``: a ``concurrent.futures.Future`` with cheap transitions.
#
# Every bridge call makes one (the outcome of an ``async_to_sync`` call, or of
# a job on a CurrentThreadExecutor), and between two threads it changes state
# or is inspected about eight times. A standard Future builds a
# ``threading.Condition`` (several Python-level steps) when created and enters
# it, again in Python, for each of those; here every step takes one C-level
# lock instead. The Condition, which only a thread *blocking* on the future
# needs (``result(timeout)`` before completion, ``concurrent.futures.wait``), is
# built on first use and shares that lock, so Future's own waiting code works
# unchanged. The bridge itself never blocks on it: it is woken by done-callbacks.

# concurrent.futures' state names (module-private constants there; Future's
# own methods, which this class still relies on for blocking waits and
# repr(), compare states by these values).
_PENDING = "PENDING"
_RUNNING = "RUNNING"
_CANCELLED = "CANCELLED"
_CANCELLED_AND_NOTIFIED = "CANCELLED_AND_NOTIFIED"
_FINISHED = "FINISHED"
_ENDED = (_CANCELLED, _CANCELLED_AND_NOTIFIED, _FINISHED)


class CallOutcome(Future[Any]):
    """A Future with the same states and API whose transitions are cheap."""

    def __init__(self) -> None:
        # Future.__init__ is not called: it builds the Condition eagerly.
        self._lock = threading.Lock()
        self._state = _PENDING
        self._result = None
        self._exception = None
        self._waiters = []
        self._callbacks: list[Callable[[Future[Any]], object]] = []
        # The wake-up signal of the one thread serving work until this
        # outcome (see CurrentThreadExecutor._begin): released on the way
        # out, without the done-callback machinery.
        self._waker: LockType | None = None

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes not set yet; ``_condition`` is the one
        # Future's blocking methods need.
        if name != "_condition":
            raise AttributeError(name)
        with _CONDITION_CREATION:
            condition = self.__dict__.get("_condition")
            if condition is None:
                condition = self.__dict__["_condition"] = threading.Condition(self._lock)
        return condition

    # -- inspection ------------------------------------------------------

    def cancelled(self) -> bool:
        return self._state in (_CANCELLED, _CANCELLED_AND_NOTIFIED)

    def running(self) -> bool:
        return self._state == _RUNNING

    def done(self) -> bool:
        return self._state in _ENDED

    def result(self, timeout: "float | None" = None) -> Any:
        state = self._state
        if state == _FINISHED:
            if self._exception is not None:
                raise self._exception
            return self._result
        if state not in (_PENDING, _RUNNING):
            raise CancelledError()
        return super().result(timeout)

    def exception(self, timeout: "float | None" = None) -> "BaseException | None":
        if self._state == _FINISHED:
            return self._exception
        return super().exception(timeout)

    # -- transitions -----------------------------------------------------

    def add_done_callback(self, fn: "Callable[[Future[Any]], object]") -> None:
        with self._lock:
            if self._state not in _ENDED:
                self._callbacks.append(fn)
                return
        self._run_callbacks(fn)

    def cancel(self) -> bool:
        with self._lock:
            state = self._state
            if state in (_RUNNING, _FINISHED):
                return False
            if state != _PENDING:
                return True
            self._state = _CANCELLED
            if "_condition" in self.__dict__:
                self._wake_blocked()
        self._ended()
        return True

    def set_running_or_notify_cancel(self) -> bool:
        with self._lock:
            state = self._state
            if state == _PENDING:
                self._state = _RUNNING
                return True
            if state == _CANCELLED:
                self._state = _CANCELLED_AND_NOTIFIED
                for waiter in self._waiters:
                    waiter.add_cancelled(self)
                return False
        raise RuntimeError(f"Future in unexpected state: {state}")

    def set_result(self, result: Any) -> None:
        self._finish(result, None)

    def set_exception(self, exception: "BaseException | None") -> None:
        self._finish(None, exception)

    def _finish(self, result: Any, exception: "BaseException | None") -> None:
        with self._lock:
            state = self._state
            if state not in _ENDED:
                self._result = result
                self._exception = exception
                self._state = _FINISHED
                for waiter in self._waiters:
                    if exception is None:
                        waiter.add_result(self)
                    else:
                        waiter.add_exception(self)
                if "_condition" in self.__dict__:  # someone blocks on it
                    self._wake_blocked()
        if state in _ENDED:
            # Built outside the lock: repr() takes it (through the Condition),
            # and unlike Future's RLock this lock is not re-entrant.
            raise InvalidStateError(f"{state}: {self!r}")
        self._ended()

    def _wake_when_done(self, waker: "LockType") -> bool:
        """Release ``waker`` once this future has ended (now, if it has).
        False when another thread's waker holds the one slot."""
        with self._lock:
            if self._state not in _ENDED:
                if self._waker is not None:
                    return False
                self._waker = waker
                return True
        _release_signal(waker)
        return True

    # -- helpers ---------------------------------------------------------

    def _ended(self) -> None:
        # Outside the lock, once the state is final (nothing can be added
        # to the callbacks any more).
        waker = self._waker
        if waker is not None:
            _release_signal(waker)
        if self._callbacks:
            self._run_callbacks()

    def _wake_blocked(self) -> None:
        # Called with the lock held, once the Condition exists; only threads
        # blocked through Future's own waiting code use it.
        self.__dict__["_condition"].notify_all()

    def _run_callbacks(self, late: "Callable[[Future[Any]], object] | None" = None) -> None:
        """Run the callbacks added before the outcome, or the one ``late``
        callback added after it."""
        if late is None:
            callbacks, self._callbacks = self._callbacks, []
        else:
            callbacks = [late]
        for callback in callbacks:
            # As Future does: a failing callback is logged, the others still run.
            try:
                callback(self)
            except Exception:
                # concurrent.futures' own logger, looked up only when needed.
                logging.getLogger("concurrent.futures").exception(
                    "exception calling callback for %r", self
                )


_CONDITION_CREATION = threading.Lock()


def _release_signal(signal: "LockType") -> None:
    # A one-slot wake-up signal: a lock that is held while nothing is
    # pending. Releasing one that is already released is a no-op by design:
    # one wake-up covers everything that happened since the last wait.
    try:  # noqa: SIM105  (hot path; contextlib.suppress costs more)
        signal.release()
    except RuntimeError:
        pass


# -- CurrentThreadExecutor --------------------------------------------------


# One submitted call: (the future reporting its outcome, fn, args, kwargs).
# A plain tuple rather than a class: it is built on every submit, and a
# class of its own would be one more that ``import asgiref.sync`` creates.
if TYPE_CHECKING:
    from typing import TypeAlias

    _Job: TypeAlias = "tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]"


def _run_job(
    future: "Future[Any]",
    fn: "Callable[..., Any]",
    args: "tuple[Any, ...]",
    kwargs: "dict[str, Any]",
) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        outcome = fn(*args, **kwargs)
    except BaseException as exc:
        # Every failure, KeyboardInterrupt included, belongs to the caller
        # that awaits this future; this thread must keep serving.
        future.set_exception(exc)
    else:
        future.set_result(outcome)


class _WorkItem:  # pyright: ignore[reportUnusedClass]  (upstream's name, for other code)
    """One queued call in upstream's shape: ``_WorkItem(future, fn, *args,
    **kwargs)``, whose ``run()`` calls ``fn`` into ``future`` unless the
    future was cancelled. The executors here queue plain tuples instead (see
    _Job); this is for code that builds work items itself.
    """

    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(
        self, future: "Future[Any]", fn: "Callable[..., Any]", *args: Any, **kwargs: Any
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def run(self) -> None:
        _run_job(self.future, self.fn, self.args, self.kwargs)


class CurrentThreadExecutor(Executor):
    """Runs submitted callables on its creating thread, during
    :meth:`run_until_future`.

    ``old_executor`` is the executor that was serving this thread before this
    one (an outer bridge call); work that arrives after this executor has
    finished is handed to it, and only when there is none does ``submit``
    raise ``RuntimeError``.
    """

    def __init__(self, old_executor: "CurrentThreadExecutor | None" = None) -> None:
        self._work_thread = threading.current_thread()
        self._old_executor = old_executor
        # Two plain locks instead of a threading.Condition: ``_mutex`` makes
        # "may work still be queued?" and the queueing one atomic step, and
        # ``_wake`` is a one-slot signal, held while nothing is pending and
        # released by whoever adds work or completes the served future. Both
        # are C-level, where a Condition runs a few microseconds of Python per
        # wait and per notify and allocates a lock per wait; every bridge call
        # creates and waits on one of these. The trade: a release of an
        # already released ``_wake`` is a no-op by design (one wake-up covers
        # any amount of queued work), so the serving loop always re-checks the
        # queue and the future after waking.
        self._mutex = threading.Lock()
        self._wake = threading.Lock()
        self._wake.acquire()
        self._jobs: deque[_Job] = deque()
        self._served: Future[Any] | None = None
        self._broken = False

    # -- the serving side ------------------------------------------------

    def run_until_future(self, future: "Future[Any]") -> None:
        """Serve submitted work on this thread until ``future`` is done."""
        if threading.current_thread() is not self._work_thread:
            raise RuntimeError(
                "CurrentThreadExecutor.run_until_future must be called from the "
                "thread that created the executor"
            )
        self._begin(future)
        self._serve(future, None, None)

    def _begin(self, future: "Future[Any]") -> None:
        """Make ``future``'s completion end the serving (on the creating
        thread). Separate from :meth:`_serve` so the bridge can do it before
        it wakes the event loop: the fewer steps between that wake-up and the
        blocking wait, the sooner the loop thread gets the GIL."""
        with self._mutex:
            if self._broken:
                raise RuntimeError("CurrentThreadExecutor already quit or is broken")
            self._served = future
        if type(future) is not CallOutcome or not future._wake_when_done(self._wake):  # pyright: ignore[reportPrivateUsage]
            future.add_done_callback(self._signal)

    def _begin_new_outcome(self) -> CallOutcome:
        """A new CallOutcome, served as :meth:`_begin` serves a future.

        For the bridge, which creates this executor and the outcome together
        for one call: neither is shared yet, so nothing can race with the
        wiring and the locking of ``_begin`` is skipped (every nested
        ``async_to_sync`` call does this)."""
        outcome = CallOutcome()
        outcome._waker = self._wake  # pyright: ignore[reportPrivateUsage]
        self._served = outcome
        return outcome

    def _serve(
        self,
        future: "Future[Any]",
        poll_interval: "float | None",
        on_idle: "Callable[[], None] | None",
    ) -> None:
        # After _begin(future). ``on_idle`` runs every ``poll_interval``
        # seconds without work; the bridge uses it to notice an event loop
        # that went away, so a wait can never become permanent.
        mutex = self._mutex
        jobs = self._jobs
        wait = self._wake.acquire
        timeout = -1 if poll_interval is None else poll_interval
        try:
            while True:
                while jobs:
                    _run_job(*jobs.popleft())
                if future.done():
                    with mutex:
                        # Decided under the mutex: no submit can slip in
                        # between the last job and the shutdown, so there
                        # is nothing left to retire.
                        if not jobs:
                            self._broken = True
                            return
                    continue
                if not wait(True, timeout) and on_idle is not None:
                    on_idle()
        except BaseException:
            self._retire()
            raise

    def _signal(self, _future: object = None) -> None:
        _release_signal(self._wake)

    def _cancel_queued(self) -> None:
        """Cancel the work that has not started yet."""
        with self._mutex:
            queued = list(self._jobs)
            self._jobs.clear()
        for future, _fn, _args, _kwargs in queued:
            future.cancel()

    def _retire(self) -> None:
        # Normally the queue is empty here; after an escape (an exception out
        # of on_idle or a job runner) pending work moves outwards or fails
        # loudly.
        with self._mutex:
            self._broken = True
            leftovers = list(self._jobs)
            self._jobs.clear()
        for future, fn, args, kwargs in leftovers:
            if self._old_executor is not None:
                try:
                    inner = self._old_executor.submit(fn, *args, **kwargs)
                except RuntimeError as exc:
                    future.set_exception(exc)
                else:
                    _chain(inner, future)
            elif future.set_running_or_notify_cancel():
                future.set_exception(
                    RuntimeError("CurrentThreadExecutor already quit or is broken")
                )

    # -- the submitting side ---------------------------------------------

    def _accepts_work(self) -> bool:
        """True while work submitted now would run on this executor's thread."""
        served = self._served
        return not self._broken and (served is None or not served.done())

    def _try_submit(
        self, fn: "Callable[..., Any]", args: "tuple[Any, ...]", kwargs: "dict[str, Any]"
    ) -> "Future[Any] | None":
        """Queue ``fn`` and return its future, or None once this executor has
        finished (the decision and the queueing are one atomic step)."""
        future: Future[Any] = CallOutcome()
        job = (future, fn, args, kwargs)
        with self._mutex:
            if not self._accepts_work():
                return None
            self._jobs.append(job)
        _release_signal(self._wake)
        return future

    def submit(
        self, fn: "Callable[_P, _R]", /, *args: "_P.args", **kwargs: "_P.kwargs"
    ) -> "Future[_R]":
        if threading.current_thread() is self._work_thread:
            raise RuntimeError("You cannot submit onto CurrentThreadExecutor from its own thread")
        future = self._try_submit(fn, args, kwargs)
        if future is not None:
            return future
        if self._old_executor is not None:
            return self._old_executor.submit(fn, *args, **kwargs)
        raise RuntimeError("CurrentThreadExecutor already quit or is broken")

    def _live(self) -> "CurrentThreadExecutor | None":
        """This executor if it still takes work, else the nearest outer one
        that does, else None."""
        executor: CurrentThreadExecutor | None = self
        while executor is not None and not executor._accepts_work():
            executor = executor._old_executor
        return executor

    def __repr__(self) -> str:
        return f"<CurrentThreadExecutor for thread {self._work_thread.name!r}>"


def _chain(source: "Future[Any]", target: "Future[Any]") -> None:
    def copy(done: "Future[Any]") -> None:
        if not target.set_running_or_notify_cancel():
            return
        exc = done.exception()
        if exc is not None:
            target.set_exception(exc)
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)
