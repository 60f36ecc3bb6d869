"""CallOutcome: a concurrent.futures.Future whose state changes are cheap.

Part of the home of asgiref-sync's private touches (this package): the
``future_fields`` touch. CallOutcome sets and reads ``Future``'s private
fields itself instead of going through ``Future.__init__`` and its
Condition; ``release_signal`` wakes the one thread serving work until an
outcome ends. Whether the bridge uses CallOutcome at all is decided in the
package's ``__init__`` (the gate, the fallback and the measured gain are
there); this module imports nothing of asgiref, so the package's imports
flow one way: ``__init__`` -> here.

Every bridge call makes one outcome (of an ``async_to_sync`` call, or of a
job on a CurrentThreadExecutor), and between two threads it changes state or
is inspected about eight times. A standard Future builds a
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _thread import LockType

__all__ = ["CallOutcome", "release_signal"]

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
    """A Future with the same states and API whose transitions are cheap
    (drives ``concurrent.futures.Future``'s private fields)."""

    def __init__(self) -> None:
        # Future.__init__ is not called: it builds the Condition eagerly.
        self._lock = threading.Lock()
        self._state = _PENDING
        self._result = None
        self._exception = None
        self._waiters = []
        self._callbacks: list[Callable[[Future[Any]], object]] = []
        # The wake-up signal of the one thread serving work until this
        # outcome (see wake_when_done): released on the way out, without the
        # done-callback machinery.
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

    def set_exception(self, exception: BaseException | None) -> None:
        self._finish(None, exception)

    def _finish(self, result: Any, exception: BaseException | None) -> None:
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

    def wake_unshared(self, waker: LockType) -> None:
        """:meth:`wake_when_done` for an outcome no other thread can see yet
        (nothing can race with it, so no lock is taken)."""
        self._waker = waker

    def wake_when_done(self, waker: LockType) -> bool:
        """Release ``waker`` once this future has ended (now, if it has).
        False when another thread's waker holds the one slot."""
        with self._lock:
            if self._state not in _ENDED:
                if self._waker is not None:
                    return False
                self._waker = waker
                return True
        release_signal(waker)
        return True

    # -- helpers ---------------------------------------------------------

    def _ended(self) -> None:
        # Outside the lock, once the state is final (nothing can be added
        # to the callbacks any more).
        waker = self._waker
        if waker is not None:
            release_signal(waker)
        if self._callbacks:
            self._run_callbacks()

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
                # concurrent.futures' own logger, looked up only when needed.
                logging.getLogger("concurrent.futures").exception(
                    "exception calling callback for %r", self
                )


_CONDITION_CREATION = threading.Lock()


def release_signal(signal: LockType) -> None:
    """Release a one-slot wake-up signal: a lock that is held while nothing
    is pending. Releasing one that is already released is a no-op by design:
    one wake-up covers everything that happened since the last wait."""
    try:  # noqa: SIM105  (hot path; contextlib.suppress costs more)
        signal.release()
    except RuntimeError:
        pass
