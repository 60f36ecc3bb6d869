"""The thread pool WSGI applications run on: bounded in running apps, not in waiting clients.

``max_workers`` bounds how many applications *run* at once. A thread that waits
for its client (body bytes that have not arrived, room for response bytes the
client has not taken) hands its run slot to the next request for as long as it
waits, so stalled clients can never keep other requests from running; each
costs one parked thread until the client moves or its timeout ends the wait.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import queue
import threading
import weakref
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")

# What the app thread wraps around a wait for its client (``client_wait``).
ClientWait = Callable[[], contextlib.AbstractContextManager[None]]

_thread_numbers = itertools.count(1)
_live_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_registered = False
# Runs before the interpreter joins non-daemon threads (as ThreadPoolExecutor
# uses it): idle workers must end first, running requests may finish.
_register_before_thread_join: Callable[[Callable[[], None]], None] | None = getattr(
    threading, "_register_atexit", None
)


def _shut_down_live_pools() -> None:
    for pool in list(_live_pools):
        pool.shutdown(wait=False)


def _ensure_exit_hook() -> bool:
    """Register the interpreter-exit hook once; False if worker threads must be daemons."""
    global _exit_hook_registered
    with _exit_hook_lock:
        if not _exit_hook_registered and _register_before_thread_join is not None:
            with contextlib.suppress(RuntimeError):  # the interpreter is already exiting
                _register_before_thread_join(_shut_down_live_pools)
                _exit_hook_registered = True
        return _exit_hook_registered


class _Job:
    __slots__ = ("call", "future", "reads_client")

    def __init__(self, future: Future[Any], call: Callable[[], Any], reads_client: bool) -> None:
        self.future = future
        self.call = call
        # May wait on its client's body (an upload still arriving).
        self.reads_client = reads_client

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.call()
        except BaseException as error:  # the future carries it to whoever waits
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


class WorkerPool(Executor):
    """An executor whose jobs may step aside (``client_wait``) while they wait on a client.

    Threads are made on demand; when idle, at most ``max_workers`` of them stay.
    """

    def __init__(self, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._lock = threading.Lock()
        self._slot_free = threading.Condition(self._lock)
        self._free_slots = max_workers
        self._backlog: deque[_Job] = deque()  # waiting for a run slot; no thread yet
        # Jobs holding a slot, for the first worker free; None ends a worker.
        self._ready: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # one count per worker waiting on _ready
        self._threads: set[threading.Thread] = set()
        self._returning = 0  # threads back from a client wait, wanting a slot again
        self._queued_not_reading = 0  # backlog jobs that will not wait on a client's body
        self._shut_down = False
        _live_pools.add(self)

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        return self.submit_request(functools.partial(fn, *args, **kwargs), reads_client=False)

    def submit_request(self, call: Callable[[], _T], *, reads_client: bool) -> Future[_T]:
        """Queue ``call``; ``reads_client``: it may wait on its client's body."""
        future: Future[_T] = Future()
        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._backlog.append(_Job(future, call, reads_client))
            self._queued_not_reading += not reads_client
            self._dispatch()
        return future

    @contextlib.contextmanager
    def client_wait(self) -> Generator[None, None, None]:
        """Around a job's wait for its client: its slot serves others meanwhile."""
        with self._lock:
            self._release_slot()
        try:
            yield
        finally:
            with self._lock:
                self._returning += 1
                while not self._free_slots:
                    self._slot_free.wait()
                self._returning -= 1
                self._free_slots -= 1

    def slot_wanted(self) -> bool:
        """Whether a job that will not wait on its client (a request without a
        body still to come), or a thread back from a client wait, waits for a
        run slot: a reader holding its slot through its client's pause gives
        it up at once then. Queued uploads do not count: keeping them from all
        starting at once is what the hold is for. Read without the lock: a
        stale answer costs the caller one poll interval, nothing more."""
        return self._queued_not_reading > 0 or self._returning > 0

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shut_down = True
            if cancel_futures:
                for job in self._backlog:
                    job.future.cancel()
                self._backlog.clear()
                self._queued_not_reading = 0
            while self._idle.acquire(timeout=0):
                self._ready.put(None)
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()

    # -- with the lock held ----------------------------------------------

    def _release_slot(self) -> None:
        self._free_slots += 1
        if self._returning:
            self._slot_free.notify()
        self._dispatch()

    def _dispatch(self) -> None:
        # A thread coming back from a client wait has the first claim on a free
        # slot: finishing started work comes before starting new work.
        while self._backlog and self._free_slots > self._returning:
            job = self._backlog.popleft()
            self._queued_not_reading -= not job.reads_client
            if job.future.cancelled():
                continue
            self._free_slots -= 1
            self._ready.put(job)
            if not self._idle.acquire(timeout=0):
                self._start_thread()

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._work,
            name=f"asgiref-wsgi-{next(_thread_numbers)}",
            daemon=not _ensure_exit_hook(),
        )
        self._threads.add(thread)
        thread.start()

    # -- worker threads --------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._ready.get()
            if job is None:
                break
            job.run()
            del job  # the finished request's objects must not live on in an idle thread
            with self._lock:
                # Threads beyond max_workers only exist for jobs that were parked.
                leaving = self._shut_down or len(self._threads) > self.max_workers
                if not leaving:
                    # Idle before the freed slot is handed on: the next job can be ours.
                    self._idle.release()
                self._release_slot()
            if leaving:
                break
        with self._lock:
            self._threads.discard(threading.current_thread())


class LazyPool:
    """A WorkerPool made when the first request needs it.

    Creating it lazily keeps importing and constructing the adapter free of
    threads, and a forked child (gunicorn with uvicorn workers) gets its own.
    """

    def __init__(self, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._lock = threading.Lock()
        self._pool: WorkerPool | None = None
        self._pid = 0

    def get(self) -> WorkerPool:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = WorkerPool(self.max_workers)
                self._pid = os.getpid()
            return self._pool

    def shutdown(self) -> None:
        """Let idle threads exit; a later request starts a fresh pool."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)


_shared_pool: LazyPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> LazyPool:
    """The pool used by WsgiToAsgiInstance objects created on their own."""
    global _shared_pool
    with _shared_lock:
        if _shared_pool is None:
            _shared_pool = LazyPool(32)
        return _shared_pool
