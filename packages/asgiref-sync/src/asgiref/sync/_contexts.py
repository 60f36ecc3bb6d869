"""Turns on the loop thread of an ``AsyncSingleThreadContext``.

As upstream's do, the calls of one context run on its one thread one at a
time: a caller in another thread waits for the call in front of it, and
leaving the context waits for the calls running or waiting there. A call
made from inside a running call of the context (through ``sync_to_async``,
however deep) cannot wait for it, as that call waits for it in turn: such a
call is told so and runs elsewhere. Every call made on a turn carries, in its
context, the mark of that turn, which is how it is recognised.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Final

__all__ = ["Turns"]

# How often a waiter looks whether the runner it waits for has ended (an
# ended runner never hands over its turn).
_POLL_SECONDS: Final = 0.25


class _Turn:
    """One call's hold on a context's thread; ``live`` until it is given back."""

    __slots__ = ("live",)

    def __init__(self) -> None:
        self.live = True


# The turns held by the calls the current code runs inside (innermost last).
_held: contextvars.ContextVar[tuple[_Turn, ...]] = contextvars.ContextVar(
    "asgiref_single_thread_turns", default=()
)


class Turns:
    """Who may run a call on one context's loop thread, and who waits."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holder: _Turn | None = None
        self._waiting = 0

    def _inside_holder(self) -> bool:
        holder = self._holder
        return holder is not None and holder in _held.get()

    def take(self, ended: Callable[[], bool]) -> bool:
        """Wait for a turn, in this thread; False, without one, for a call
        made inside the holder's call, or when ``ended()`` (the thread is
        gone: it would never be handed over)."""
        if self._inside_holder():
            return False
        with self._changed:
            self._waiting += 1
            try:
                while self._holder is not None:
                    if ended():
                        return False
                    self._changed.wait(_POLL_SECONDS)
                if ended():
                    return False
                self._holder = _Turn()
                return True
            finally:
                self._waiting -= 1
                self._changed.notify_all()

    def mark(self, context: contextvars.Context) -> None:
        """Record the current turn in ``context``, where its call will run."""
        holder = self._holder
        assert holder is not None
        # Only live turns are kept: marks flow back to callers with the rest
        # of the context, and would otherwise pile up call after call.
        kept = tuple(turn for turn in context.get(_held, ()) if turn.live)
        context.run(_held.set, (*kept, holder))

    def give_back(self) -> None:
        with self._changed:
            holder, self._holder = self._holder, None
            if holder is not None:
                holder.live = False
            self._changed.notify_all()

    def wait_until_unused(self, ended: Callable[[], bool], then: Callable[[], None]) -> None:
        """Call ``then`` once no call holds or waits for a turn (at once
        when called inside the holder's call, or once ``ended()``), before
        another can take one: ``then`` should make ``ended()`` true."""
        if self._inside_holder():
            then()
            return
        with self._changed:
            while (self._holder is not None or self._waiting) and not ended():
                self._changed.wait(_POLL_SECONDS)
            then()
