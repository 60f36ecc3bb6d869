"""An executor whose work runs on the thread that created it.

A sync thread that waits for async code (``async_to_sync``) lends itself out
through a :class:`CurrentThreadExecutor`: while it sits in
:meth:`CurrentThreadExecutor.run_until_future`, callables submitted from other
threads run right there, on the waiting thread.

Beside the API upstream has (``run_until_future``, ``submit``), its methods
without an underscore are the protocol through which asgiref.sync drives it:
the bridge's waiting threads serve their executors with a liveness check and
route work past ``submit()``'s own-thread check. They are documented, not
exported, and may change with asgiref-sync.
"""

from __future__ import annotations

# Upstream's module binds these names (its imports, and the type variables
# of its annotations); code may read them from here.
import threading as threading
from collections import deque as deque
from collections.abc import Callable as Callable
from concurrent.futures import Executor as Executor
from concurrent.futures import Future as Future
from typing import TYPE_CHECKING
from typing import Any as Any
from typing import ParamSpec as ParamSpec
from typing import TypeVar as TypeVar

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.local._cpython import CallOutcome as CallOutcome
from asgiref.local._cpython import new_outcome, release_signal

if TYPE_CHECKING:
    from typing import TypeAlias

__all__ = ["CurrentThreadExecutor"]  # CallOutcome is for asgiref.sync only

_T = TypeVar("_T")
_P = ParamSpec("_P")
_R = TypeVar("_R")

# One submitted call: (the future reporting its outcome, fn, args, kwargs).
# A plain tuple rather than a class: it is built on every submit.
if TYPE_CHECKING:
    _Job: TypeAlias = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def _run_job(
    future: Future[Any],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
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


class WorkItem:
    """One queued call in upstream's shape: ``_WorkItem(future, fn, *args,
    **kwargs)``, whose ``run()`` calls ``fn`` into ``future`` unless the
    future was cancelled. The executors here queue plain tuples instead (see
    _Job); this is for code that builds work items itself.
    """

    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(
        self, future: Future[Any], fn: Callable[..., Any], *args: Any, **kwargs: Any
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

    def __init__(self, old_executor: CurrentThreadExecutor | None = None) -> None:
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

    @classmethod
    def for_thread(cls, thread: threading.Thread) -> CurrentThreadExecutor:
        """An executor whose work runs on ``thread``, which need not have
        started yet: its starter builds it, so the new thread has nothing to
        hand back before work can be queued for it."""
        executor = cls()
        executor._work_thread = thread
        return executor

    # -- the serving side ------------------------------------------------

    def run_until_future(self, future: Future[Any]) -> None:
        """Serve submitted work on this thread until ``future`` is done."""
        if threading.current_thread() is not self._work_thread:
            raise RuntimeError(
                "CurrentThreadExecutor.run_until_future must be called from the "
                "thread that created the executor"
            )
        self.begin(future)
        self.serve(future, None, None)

    def begin(self, future: Future[Any]) -> None:
        """Make ``future``'s completion end the serving (on the creating
        thread). Separate from :meth:`serve` so the bridge can do it before
        it wakes the event loop: the fewer steps between that wake-up and the
        blocking wait, the sooner the loop thread gets the GIL."""
        with self._mutex:
            if self._broken:
                raise RuntimeError("CurrentThreadExecutor already quit or is broken")
            self._served = future
        if type(future) is not CallOutcome or not future.wake_when_done(self._wake):
            future.add_done_callback(self._signal)

    def begin_new_outcome(self) -> Future[Any]:
        """A new outcome future, served as :meth:`begin` serves a future.

        For the bridge, which creates this executor and the outcome together
        for one call: neither is shared yet, so nothing can race with the
        wiring and the locking of ``begin`` is skipped (every nested
        ``async_to_sync`` call does this)."""
        outcome = new_outcome()
        self._served = outcome
        if type(outcome) is CallOutcome:
            outcome.wake_unshared(self._wake)
        else:
            outcome.add_done_callback(self._signal)
        return outcome

    def serve(
        self,
        future: Future[Any],
        poll_interval: float | None,
        on_idle: Callable[[], None] | None,
    ) -> None:
        """After ``begin(future)``: run submitted work on this thread until
        ``future`` is done, calling ``on_idle`` every ``poll_interval``
        seconds without work (the bridge's check that an event loop it waits
        for is still there, so a wait can never become permanent)."""
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
            self.retire()
            raise

    def _signal(self, _future: object = None) -> None:
        release_signal(self._wake)

    def cancel_queued(self) -> None:
        """Cancel the work that has not started yet."""
        with self._mutex:
            queued = list(self._jobs)
            self._jobs.clear()
        for future, _fn, _args, _kwargs in queued:
            future.cancel()

    def retire(self) -> None:
        """Stop taking work. Normally nothing is queued then; after an escape
        (an exception out of ``on_idle`` or a job) pending work moves to the
        outer executor, or fails loudly."""
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

    def try_submit(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[Any] | None:
        """Queue ``fn`` and return its future, or None once this executor has
        finished (the decision and the queueing are one atomic step)."""
        future: Future[Any] = new_outcome()
        job = (future, fn, args, kwargs)
        with self._mutex:
            if not self._accepts_work():
                return None
            self._jobs.append(job)
        release_signal(self._wake)
        return future

    def submit(self, fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_R]:
        if threading.current_thread() is self._work_thread:
            raise RuntimeError("You cannot submit onto CurrentThreadExecutor from its own thread")
        future = self.try_submit(fn, args, kwargs)
        if future is not None:
            return future
        if self._old_executor is not None:
            return self._old_executor.submit(fn, *args, **kwargs)
        raise RuntimeError("CurrentThreadExecutor already quit or is broken")

    def live(self) -> CurrentThreadExecutor | None:
        """This executor if it still takes work, else the nearest outer one
        that does, else None."""
        executor: CurrentThreadExecutor | None = self
        while executor is not None and not executor._accepts_work():
            executor = executor._old_executor
        return executor

    def work_thread(self) -> threading.Thread:
        """The thread this executor runs its work on (the one that created it)."""
        return self._work_thread

    def __repr__(self) -> str:
        return f"<CurrentThreadExecutor for thread {self._work_thread.name!r}>"


def _chain(source: Future[Any], target: Future[Any]) -> None:
    def copy(done: Future[Any]) -> None:
        if not target.set_running_or_notify_cancel():
            return
        exc = done.exception()
        if exc is not None:
            target.set_exception(exc)
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)


# Upstream's name for one queued call.
_WorkItem = WorkItem
