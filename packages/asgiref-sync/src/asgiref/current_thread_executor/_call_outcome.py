"""``CallOutcome``: a ``concurrent.futures.Future`` with cheap transitions.

Every bridge call makes one (the outcome of an ``async_to_sync`` call, or of
a job on a CurrentThreadExecutor), and between two threads it changes state
or is inspected about eight times. A standard Future builds a
``threading.Condition`` (several Python-level steps) when created and enters
it, again in Python, for each of those; here every step takes one C-level
lock instead. The Condition, which only a thread *blocking* on the future
needs (``result(timeout)`` before completion, ``concurrent.futures.wait``), is
built on first use and shares that lock, so Future's own waiting code works
unchanged. The bridge itself never blocks on it: it is woken by done-callbacks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, InvalidStateError
from typing import Any

__all__ = ["CallOutcome"]

# concurrent.futures' state names (module-private constants there; Future's
# own methods, which this class still relies on for blocking waits and
# repr(), compare states by these values).
_PENDING = "PENDING"
_RUNNING = "RUNNING"
_CANCELLED = "CANCELLED"
_CANCELLED_AND_NOTIFIED = "CANCELLED_AND_NOTIFIED"
_FINISHED = "FINISHED"
_ENDED = (_CANCELLED, _CANCELLED_AND_NOTIFIED, _FINISHED)

_logger = logging.getLogger("concurrent.futures")


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

    def result(self, timeout: float | None = None) -> Any:
        state = self._state
        if state == _FINISHED:
            if self._exception is not None:
                raise self._exception
            return self._result
        if state not in (_PENDING, _RUNNING):
            raise CancelledError()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if self._state == _FINISHED:
            return self._exception
        return super().exception(timeout)

    # -- transitions -----------------------------------------------------

    def add_done_callback(self, fn: Callable[[Future[Any]], object]) -> None:
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
        self._run_callbacks()
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
        with self._lock:
            state = self._state
            if state not in _ENDED:
                self._result = result
                self._state = _FINISHED
                for waiter in self._waiters:
                    waiter.add_result(self)
                if "_condition" in self.__dict__:  # someone blocks on it
                    self._wake_blocked()
        if state in _ENDED:
            raise self._already_ended(state)
        self._run_callbacks()

    def set_exception(self, exception: BaseException | None) -> None:
        with self._lock:
            state = self._state
            if state not in _ENDED:
                self._exception = exception
                self._state = _FINISHED
                for waiter in self._waiters:
                    waiter.add_exception(self)
                if "_condition" in self.__dict__:  # someone blocks on it
                    self._wake_blocked()
        if state in _ENDED:
            raise self._already_ended(state)
        self._run_callbacks()

    # -- helpers ---------------------------------------------------------

    def _already_ended(self, state: str) -> InvalidStateError:
        # Built outside the lock: repr() takes it (through the Condition),
        # and unlike Future's RLock this lock is not re-entrant.
        return InvalidStateError(f"{state}: {self!r}")

    def _wake_blocked(self) -> None:
        # Called with the lock held, once the Condition exists; only threads
        # blocked through Future's own waiting code use it.
        self.__dict__["_condition"].notify_all()

    def _run_callbacks(self, late: Callable[[Future[Any]], object] | None = None) -> None:
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
                _logger.exception("exception calling callback for %r", self)


_CONDITION_CREATION = threading.Lock()
