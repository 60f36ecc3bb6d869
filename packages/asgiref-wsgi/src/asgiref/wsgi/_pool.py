"""The bounded thread pool WSGI applications run on, created on first use."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Executor, ThreadPoolExecutor


class LazyPool:
    """A ThreadPoolExecutor made when the first request needs it.

    Creating it lazily keeps importing and constructing the adapter free of
    threads, and a forked child (gunicorn with uvicorn workers) gets its own.
    """

    def __init__(self, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0

    def get(self) -> Executor:
        with self._lock:
            if self._executor is None or self._pid != os.getpid():
                self._executor = ThreadPoolExecutor(
                    self.max_workers, thread_name_prefix="asgiref-wsgi"
                )
                self._pid = os.getpid()
            return self._executor

    def shutdown(self) -> None:
        """Let idle threads exit; a later request starts a fresh pool."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)


_shared_pool: LazyPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> LazyPool:
    """The pool used by WsgiToAsgiInstance objects created on their own."""
    global _shared_pool
    with _shared_lock:
        if _shared_pool is None:
            _shared_pool = LazyPool(32)
        return _shared_pool
