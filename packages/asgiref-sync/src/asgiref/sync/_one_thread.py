"""The executors behind thread-sensitive calls: one long-lived thread each.

``SyncToAsync.single_thread_executor`` and the executor of each
``ThreadSensitiveContext`` were one-worker ``ThreadPoolExecutor``s. Every
``sync_to_async`` call goes through one, and a ThreadPoolExecutor's submit
builds a Future with a ``threading.Condition``, takes a Python-level
semaphore to decide whether to start a thread, and reports completion
through Condition-guarded callbacks: several Python-level lock dances per call.

``OneThreadExecutor`` keeps the type (it *is* a ``ThreadPoolExecutor``, for
code that checks or reads ``_max_workers``) but serves its work with a
:class:`~asgiref.current_thread_executor.CurrentThreadExecutor` running on its
own thread, with futures that take one C-level lock per transition. What that
trades, and how each difference is handled:

* The worker is a daemon thread (a thread parked waiting for work must not
  keep the interpreter from exiting); an ``atexit`` hook shuts every live
  executor down and waits for it, so work already submitted still runs to
  completion at exit, as with a ThreadPoolExecutor.
* ``shutdown()`` lets queued work finish, then ends the thread;
  ``cancel_futures=True`` cancels what has not started. A submit afterwards
  raises ``RuntimeError`` as a ThreadPoolExecutor's does.
* ``shutdown(wait=True)`` blocks, which an event loop must not do: the
  worker may need that loop to finish its job. ``unfinished_work()`` gives
  a future to await instead.
"""

from __future__ import annotations

import atexit
import contextvars
import sys
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.current_thread_executor import CurrentThreadExecutor
from asgiref.local._cpython import new_outcome

__all__ = ["OneThreadExecutor", "bridge_thread"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_live: weakref.WeakSet[OneThreadExecutor] = weakref.WeakSet()


def bridge_thread(target: Callable[[], object], name: str) -> threading.Thread:
    """A (not yet started) daemon thread for the bridge, in a fresh, empty
    context: what every thread started before 3.14 gets, and what it still
    gets from 3.14 when ``sys.flags.thread_inherit_context`` is on (free-
    threaded builds) instead of a copy of the starter's context, which a
    long-lived thread would otherwise keep alive, with all its values."""
    if sys.version_info >= (3, 14):
        fresh = contextvars.Context()
        return threading.Thread(target=target, name=name, daemon=True, context=fresh)
    return threading.Thread(target=target, name=name, daemon=True)


class OneThreadExecutor(ThreadPoolExecutor):
    """A one-worker executor whose thread starts on the first submit."""

    def __init__(self, thread_name: str) -> None:
        super().__init__(max_workers=1, thread_name_prefix=thread_name)
        self._name = thread_name
        self._start_lock = threading.Lock()
        self._server: CurrentThreadExecutor | None = None
        self._stop: Future[None] = new_outcome()
        self._stopped: Future[None] | None = None
        self._last_job: weakref.ref[Future[object]] | None = None
        self._worker: threading.Thread | None = None
        self._closed = False

    def submit(self, fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_R]:
        server = self._server
        if server is None:
            server = self._start()
        future = server.try_submit(fn, args, kwargs)
        if future is None:
            raise RuntimeError("cannot schedule new futures after shutdown")
        self._last_job = weakref.ref(future)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._start_lock:
            # Under the lock: shutdowns racing from several threads stop the
            # worker once, and a concurrent first submit either starts it
            # before this or fails.
            self._closed = True
            server, worker = self._server, self._worker
            if server is not None and cancel_futures:
                server.cancel_queued()
            if not self._stop.done():
                self._stop.set_result(None)
        if wait and worker is not None and worker is not threading.current_thread():
            worker.join()
        super().shutdown(wait=False)

    def unfinished_work(self) -> Future[None] | None:
        """After ``shutdown()``: None when every job has finished, else a
        future that is done once they have (the worker has stopped)."""
        # One thread runs the jobs in order: the last one done means all are,
        # unless it was cancelled before it started. Only a weak reference is
        # kept (a strong one would hold the last call's result or exception,
        # and the frames of its traceback, until the next call); the queue or
        # the job runner holds the future until the job ends, so a dead
        # reference means it has ended. "Last" is the last of one thread's
        # submits: a submit racing this from another thread may be missed.
        last = None if self._last_job is None else self._last_job()
        if last is None or (last.done() and not last.cancelled()):
            return None
        return self._stopped

    def __repr__(self) -> str:
        state = "shut down" if self._closed else "running" if self._worker else "not started"
        return f"<one-thread ThreadPoolExecutor {self._name!r} ({state})>"

    def _start(self) -> CurrentThreadExecutor:
        with self._start_lock:
            if self._server is not None:
                return self._server
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            # The executor is built here, for the thread, and wired to the
            # stop signal before the thread runs: the caller (usually the
            # event loop's thread) can queue work at once instead of waiting
            # for the new thread to report that it is ready.
            stop, stopped = self._stop, new_outcome()
            worker = bridge_thread(lambda: _serve(server, stop, stopped), f"{self._name}_0")
            server = CurrentThreadExecutor.for_thread(worker)
            server.begin(stop)
            worker.start()
            self._server, self._worker, self._stopped = server, worker, stopped
            _live.add(self)
            return server


def _serve(server: CurrentThreadExecutor, stop: Future[None], stopped: Future[None]) -> None:
    try:
        server.serve(stop, None, None)
    finally:
        stopped.set_result(None)


@atexit.register
def _finish_at_exit() -> None:
    for executor in list(_live):
        executor.shutdown(wait=True)
