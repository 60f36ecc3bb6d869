"""``wsgi.input``: the request body streamed from the event loop to the app thread.

The loop side (``BodyPump``) reads ``http.request`` messages ahead of the
application, but never more than ``buffer_size`` bytes; the thread side
(``InputStream``) is the file-like object the application reads from. Memory
stays bounded whatever the body's size.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from asgiref.wsgi._errors import ClientDisconnected, RequestBodyTooLarge

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]

# How long a blocked reader sleeps before re-checking that the request is
# still alive; only matters if the loop was closed without ending the request
# (a thread blocked forever would also block interpreter exit).
_WAKE_INTERVAL = 1.0


class BodyPump:
    """Shared state between the event loop (producer) and the app thread (consumer)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        receive: Receive,
        *,
        buffer_size: int,
        max_body_size: int | None,
        on_disconnect: Callable[[], None],
    ) -> None:
        self._loop = loop
        self._receive = receive
        self._buffer_size = max(buffer_size, 1)
        self._max_body_size = max_body_size
        self._on_disconnect = on_disconnect
        self._condition = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._received = 0
        self.complete = False
        self.disconnected = False
        self.too_large = False
        self._aborted = False
        self._ended = False
        self._space = asyncio.Event()
        self._space.set()
        self._arrived = asyncio.Event()

    # -- event loop side -------------------------------------------------

    async def run(self) -> None:
        """Receive the body ahead of the reader, then keep watching for a disconnect."""
        try:
            await self._pump()
        finally:
            self._ended = True
            self._arrived.set()

    async def _pump(self) -> None:
        while not self.complete:
            await self._space.wait()
            message = await self._receive()
            kind = message.get("type")
            if kind == "http.disconnect":
                self._mark_disconnected()
                return
            if kind == "http.request":
                self._accept(bytes(message.get("body") or b""), bool(message.get("more_body")))
                if self.too_large:
                    return
        # The body is in; a later message can only be the client leaving.
        while True:
            message = await self._receive()
            if message.get("type") == "http.disconnect":
                self._mark_disconnected()
                return

    def _accept(self, chunk: bytes, more_body: bool) -> None:
        with self._condition:
            self._received += len(chunk)
            if self._max_body_size is not None and self._received > self._max_body_size:
                self.too_large = True
            elif chunk:
                self._chunks.append(chunk)
                self._buffered += len(chunk)
            self.complete = not more_body
            if self._buffered >= self._buffer_size and not self.complete:
                self._space.clear()
            self._condition.notify_all()
        self._arrived.set()

    def _mark_disconnected(self) -> None:
        with self._condition:
            self.disconnected = True
            self._condition.notify_all()
        self._arrived.set()
        self._on_disconnect()

    async def prefetch(self, size: int) -> None:
        """Wait until the body is complete, ``size`` bytes arrived, or it failed."""
        while not (self.complete or self._ended or self._buffered >= size):
            self._arrived.clear()
            await self._arrived.wait()

    def abort(self) -> None:
        """The request is over: wake and fail any reader still waiting."""
        with self._condition:
            self._aborted = True
            self._condition.notify_all()

    # -- application thread side ------------------------------------------

    def take(self, limit: int) -> bytes:
        """Up to ``limit`` bytes (at least one unless at EOF), blocking as needed."""
        with self._condition:
            while True:
                if self.too_large:
                    raise RequestBodyTooLarge("request body exceeds the configured maximum")
                if self._chunks:
                    return self._pop(limit)
                if self.complete:
                    return b""
                if self.disconnected or self._aborted or self._loop.is_closed():
                    raise ClientDisconnected("client disconnected while sending the body")
                self._condition.wait(_WAKE_INTERVAL)

    def _pop(self, limit: int) -> bytes:
        chunk = self._chunks.popleft()
        if len(chunk) > limit:
            self._chunks.appendleft(chunk[limit:])
            chunk = chunk[:limit]
        self._buffered -= len(chunk)
        if not self._space.is_set() and self._buffered < self._buffer_size:
            # One wake-up per refill, not one per read.
            self._loop.call_soon_threadsafe(self._space.set)
        return chunk


class InputStream(io.RawIOBase):
    """The file-like ``wsgi.input`` (PEP 3333: read, readline, readlines, iteration).

    Reads never go past the declared ``Content-Length``.
    """

    def __init__(self, pump: BodyPump, content_length: int | None) -> None:
        super().__init__()
        self._pump = pump
        self._remaining = content_length
        self._pushed_back = b""

    def readable(self) -> bool:
        return True

    def _next_chunk(self, limit: int) -> bytes:
        if self._pushed_back:
            chunk, self._pushed_back = self._pushed_back[:limit], self._pushed_back[limit:]
            return chunk
        if self._remaining is not None:
            limit = min(limit, self._remaining)
            if limit <= 0:
                return b""
        chunk = self._pump.take(limit)
        if self._remaining is not None:
            if not chunk:
                raise ClientDisconnected("request body shorter than its Content-Length")
            self._remaining -= len(chunk)
        return chunk

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            chunk = self._next_chunk(wanted)
            if not chunk:
                break
            parts.append(chunk)
            wanted -= len(chunk)
        return b"".join(parts)

    def readall(self) -> bytes:
        parts: list[bytes] = []
        while chunk := self._next_chunk(1 << 20):
            parts.append(chunk)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        chunk = self.read(len(view))
        view[: len(chunk)] = chunk
        return len(chunk)

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        parts: list[bytes] = []
        length = 0
        while limit < 0 or length < limit:
            chunk = self._next_chunk(1 << 16 if limit < 0 else limit - length)
            if not chunk:
                break
            newline = chunk.find(b"\n")
            if newline >= 0:
                self._pushed_back = chunk[newline + 1 :] + self._pushed_back
                parts.append(chunk[: newline + 1])
                break
            parts.append(chunk)
            length += len(chunk)
        return b"".join(parts)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line
