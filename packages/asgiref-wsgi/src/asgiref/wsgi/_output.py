"""The response path from the app thread to the event loop, with backpressure.

The app thread appends messages; the loop takes everything pending in one
wake-up (so a burst of small chunks costs one thread hand-off, not one each)
and sends them. When more than ``buffer_size`` body bytes wait, the app thread
blocks: a slow client slows the app down instead of filling memory. While it
blocks it steps aside in the pool (``client_wait``), and a client that takes
nothing for ``timeout`` seconds has its response abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from asgiref.wsgi._errors import StreamingStoppedError
from asgiref.wsgi._pool import ClientWait

if TYPE_CHECKING:
    from asgiref.typing import ASGISendEvent

# How often a blocked app thread checks that the event loop still exists.
_WAKE_INTERVAL = 1.0


class Outgoing:
    """One ASGI message, and whether the sender waits until it went out."""

    __slots__ = ("message", "sent", "size", "wait")

    def __init__(self, message: ASGISendEvent, size: int = 0, *, wait: bool = False) -> None:
        self.message = message
        self.size = size
        self.wait = wait
        self.sent = False


class ResponseChannel:
    """Messages from the app thread to the event loop, bounded by body bytes waiting."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        buffer_size: int,
        *,
        timeout: float | None = None,
        client_wait: ClientWait = contextlib.nullcontext,
    ) -> None:
        self._loop = loop
        self._buffer_size = max(buffer_size, 1)
        self._timeout = timeout
        self._client_wait = client_wait
        self._condition = threading.Condition()
        self._pending: deque[Outgoing] = deque()
        self._buffered = 0
        self._stopped = False
        self.client_gone = False
        # The client took nothing for ``timeout`` seconds; set by the app thread.
        self.timed_out = False
        # What the loop does then (stop waiting in send()); None once that is over.
        self.on_timeout: Callable[[], object] | None = None
        self.response_started = False
        self._finished = False
        self._loop_waiting = False
        self._last_progress = time.monotonic()
        self._wake = asyncio.Event()

    # -- application thread side ------------------------------------------

    def put(self, item: Outgoing) -> None:
        with self._condition:
            self._raise_if_stopped()
            self._pending.append(item)
            self._buffered += item.size
            self._wake_loop()
            if not self._must_wait(item):
                return
        # Waiting for the client: the pool may run another request meanwhile.
        with self._client_wait(), self._condition:
            waiting_since = time.monotonic()
            while self._must_wait(item) and not self._stopped:
                self._condition.wait(self._wait_interval(waiting_since))
                self._check_client(waiting_since)
        self._raise_if_stopped()

    def _must_wait(self, item: Outgoing) -> bool:
        return self._buffered > self._buffer_size or (item.wait and not item.sent)

    def _stalled_for(self, waiting_since: float) -> float:
        return time.monotonic() - max(waiting_since, self._last_progress)

    def _wait_interval(self, waiting_since: float) -> float:
        if self._timeout is None:
            return _WAKE_INTERVAL
        return max(min(_WAKE_INTERVAL, self._timeout - self._stalled_for(waiting_since)), 0.01)

    def _check_client(self, waiting_since: float) -> None:
        if self._loop.is_closed():
            self._stopped = True
        elif self._timeout is not None and self._stalled_for(waiting_since) >= self._timeout:
            self._stopped = self.timed_out = True
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._timeout_reached)

    def _timeout_reached(self) -> None:
        # Looked up on the loop, not in the thread: the loop may have moved on.
        if self.on_timeout is not None:
            self.on_timeout()

    def _raise_if_stopped(self) -> None:
        if self._stopped:
            raise StreamingStoppedError("the client is gone; the response was abandoned")

    def finish(self) -> None:
        """The app thread is done; whatever is pending is the rest of the response."""
        with self._condition:
            self._finished = True
            self._wake_loop()

    def _wake_loop(self) -> None:
        if self._loop_waiting and not self._loop.is_closed():
            self._loop_waiting = False
            self._loop.call_soon_threadsafe(self._wake.set)

    # -- event loop side ----------------------------------------------------

    async def take(self) -> tuple[list[Outgoing], bool]:
        """Every pending message, and whether the app thread has finished."""
        while True:
            with self._condition:
                if self._pending or self._finished:
                    batch = list(self._pending)
                    self._pending.clear()
                    return batch, self._finished
                self._loop_waiting = True
                self._wake.clear()
            await self._wake.wait()

    def sent(self, item: Outgoing) -> None:
        with self._condition:
            self._buffered -= item.size
            item.sent = True
            self._last_progress = time.monotonic()
            self._condition.notify_all()

    def stop(self) -> None:
        """No more messages can be delivered: unblock and fail the app thread's puts."""
        with self._condition:
            self._stopped = True
            self._wake_loop()
            self._condition.notify_all()

    def client_left(self) -> None:
        """The client disconnected: stop, and remember why."""
        self.client_gone = True
        self.stop()

    @property
    def stopped(self) -> bool:
        return self._stopped
