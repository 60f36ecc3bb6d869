"""The response path from the app thread to the event loop, with backpressure.

The app thread appends messages; the loop takes everything pending in one
wake-up (so a burst of small chunks costs one thread hand-off, not one each)
and sends them. When more than ``buffer_size`` body bytes wait, the app thread
blocks: a slow client slows the app down instead of filling memory.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

from asgiref.wsgi._errors import StreamingStoppedError

# How often a blocked app thread checks that the event loop still exists.
_WAKE_INTERVAL = 1.0


class Outgoing:
    """One ASGI message, and whether the sender waits until it went out."""

    __slots__ = ("delivered", "message", "size")

    def __init__(self, message: dict[str, Any], size: int = 0, *, wait: bool = False) -> None:
        self.message = message
        self.size = size
        self.delivered: threading.Event | None = threading.Event() if wait else None


class ResponseChannel:
    """Messages from the app thread to the event loop, bounded by body bytes waiting."""

    def __init__(self, loop: asyncio.AbstractEventLoop, buffer_size: int) -> None:
        self._loop = loop
        self._buffer_size = max(buffer_size, 1)
        self._condition = threading.Condition()
        self._pending: deque[Outgoing] = deque()
        self._buffered = 0
        self._stopped = False
        self.client_gone = False
        self._finished = False
        self._loop_waiting = False
        self._wake = asyncio.Event()

    # -- application thread side ------------------------------------------

    def put(self, item: Outgoing) -> None:
        with self._condition:
            self._raise_if_stopped()
            self._pending.append(item)
            self._buffered += item.size
            self._wake_loop()
            while self._buffered > self._buffer_size and not self._stopped:
                if not self._condition.wait(_WAKE_INTERVAL) and self._loop.is_closed():
                    self._stopped = True
        if item.delivered is not None:
            while not item.delivered.wait(_WAKE_INTERVAL) and not self._stopped:
                if self._loop.is_closed():
                    self.stop()
        self._raise_if_stopped()

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
            self._condition.notify_all()
        if item.delivered is not None:
            item.delivered.set()

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
