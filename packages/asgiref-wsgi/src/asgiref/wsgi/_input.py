"""``wsgi.input``: the request body streamed from the event loop to the app thread.

The loop side (``BodyPump``) reads ``http.request`` messages ahead of the
application, but never more than ``buffer_size`` bytes; the thread side
(``InputStream``) is the file-like object the application reads from. Memory
stays bounded whatever the body's size.

Two rules keep a hostile client from holding the application: a body that
makes no progress for ``timeout`` seconds fails the read (``RequestTimeout``),
and once the application has started its response and stopped reading, the
rest of the body is drained unread, so that a client leaving is still seen.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.wsgi._errors import (
    ClientDisconnected,
    RequestBodyDiscarded,
    RequestBodyTooLarge,
    RequestTimeout,
)
from asgiref.wsgi._pool import ClientWait

if TYPE_CHECKING:
    from asgiref.wsgi._interface import ServerReceive

_T = TypeVar("_T")

# How long a blocked reader sleeps before re-checking that the request is
# still alive; only matters if the loop was closed without ending the request
# (a thread blocked forever would also block interpreter exit).
_WAKE_INTERVAL = 1.0
# With a full read-ahead buffer and the response started, an application that
# has not read for this long is taken to be done with the body. Short enough
# for a client leaving to be seen within a second, long enough for an app that
# streams its response while it reads (and so pauses between reads) to go on.
_UNREAD_GRACE = 0.5
_FULL_BUFFER_CHECK = 0.1
# A reader whose client has delivered this much since its last short wait (or
# that has not waited yet) waits a little for more before it steps aside in the
# pool. Stepping aside on every brief wait for a fast client lets every queued
# upload start at once (one thread and its buffers each), which buys no speed
# when the client or the event loop is what limits the upload; a stalled or
# trickling client still steps aside, after one short wait.
_KEEP_SLOT_CREDIT = 64 * 1024
# The short wait is what the bytes delivered since the last one would take at
# _KEEP_SLOT_PACE, within these bounds: a client that keeps up that pace keeps
# its slot even when a busy server spaces its messages (uvicorn hands over
# 256 KiB at a time) beyond 0.1 s, while a client that stalls steps aside once
# what it sent is used up at that pace, after 0.5 s at most.
_KEEP_SLOT_PACE = 512 * 1024  # bytes per second
_KEEP_SLOT_WAIT = 0.1
_KEEP_SLOT_WAIT_MAX = 0.5
# That wait ends as soon as another request wants a run slot (checked this
# often): the hold only keeps idle slots from starting more uploads, it never
# makes a queued request wait, so stalled uploads cannot delay the others.
_SLOT_WANTED_CHECK = 0.02


def _no_slot_wanted() -> bool:
    return False


class BodyPump:
    """Shared state between the event loop (producer) and the app thread (consumer)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        receive: ServerReceive,
        *,
        buffer_size: int,
        max_body_size: int | None,
        timeout: float | None,
        body_expected: bool,
        on_disconnect: Callable[[], None],
        response_started: Callable[[], bool],
        client_wait: ClientWait,
        slot_wanted: Callable[[], bool] | None = None,
        held: bool = False,
    ) -> None:
        self._loop = loop
        self._receive = receive
        self._buffer_size = max(buffer_size, 1)
        self._max_body_size = max_body_size
        self._timeout = timeout
        # A request that announces no body gets it (empty) at once: no timer needed.
        self._body_expected = body_expected
        self._on_disconnect = on_disconnect
        self._response_started = response_started
        self._client_wait = client_wait
        # Without a WorkerPool no slot is held, so none is ever wanted.
        self._slot_wanted = slot_wanted or _no_slot_wanted
        self._condition = threading.Condition()
        self._chunks: deque[bytes] = deque()
        # Where the unread part of the first chunk starts: a read taking part
        # of a chunk copies only what it returns, never the rest.
        self._offset = 0
        self._buffered = 0
        self._received = 0
        # Bytes delivered since the reader's last short wait (see _KEEP_SLOT_CREDIT).
        self._credit = _KEEP_SLOT_CREDIT
        self._last_read = time.monotonic()
        self.complete = False
        self.disconnected = False
        self.too_large = False
        # Why reads fail once the buffered bytes are used up (set at most once).
        self.failure: type[OSError] | None = None
        self._failure_text = ""
        self._aborted = False
        self._ended = False
        self._space = asyncio.Event()
        self._space.set()
        self._arrived = asyncio.Event()
        # A held pump receives nothing until start(): the body of a request
        # still waiting for a thread stays in the server's flow-controlled buffer.
        # Only a held pump has the event (most requests are not held: no cost).
        self._go: asyncio.Event | None = asyncio.Event() if held else None
        # A receive() still pending after its wait timed out.
        self._receiving: asyncio.Future[Mapping[str, Any]] | None = None

    @property
    def timed_out(self) -> bool:
        return self.failure is RequestTimeout

    # -- event loop side -------------------------------------------------

    @property
    def body_pending(self) -> bool:
        """Whether a reader may yet have to wait for the client's body."""
        return self._body_expected and not self.complete

    @property
    def held(self) -> bool:
        """Whether the pump was created held and so waits for start().

        Fixed at construction, so the app's thread may read it: only a held
        pump is worth waking the event loop for.
        """
        return self._go is not None

    def start(self) -> None:
        """Let a held pump begin receiving (call on the event loop)."""
        if self._go is not None:
            self._go.set()

    async def run(self) -> None:
        """Receive the body ahead of the reader, then keep watching for a disconnect."""
        try:
            if self._go is not None:
                await self._go.wait()
            await self._pump()
        finally:
            if self._receiving is not None:
                self._receiving.cancel()
            self._ended = True
            self._arrived.set()

    async def _pump(self) -> None:
        while not self.complete:
            if not self._space.is_set() and self.failure is None:
                await self._wait_for_room()
            if not await self._receive_body():
                return
        # The body is in; a later message can only be the client leaving.
        while True:
            message = await self._receive()
            if message.get("type") == "http.disconnect":
                self._mark_disconnected()
                return

    async def _receive_body(self) -> bool:
        """Buffer the next piece of the body; False once no more will come."""
        # A method of its own so that no frame keeps the message (and its
        # body) alive while the pump waits for the next one.
        message = await self._next_message()
        if message is None:
            self._fail(RequestTimeout, "no request body bytes arrived in time")
            return True
        kind = message.get("type")
        if kind == "http.disconnect":
            self._mark_disconnected()
            return False
        if kind == "http.request":
            self._accept(bytes(message.get("body") or b""), bool(message.get("more_body")))
        return not self.too_large

    async def _next_message(self) -> Mapping[str, Any] | None:
        """The next message, or None if a wanted body made no progress in time.

        A receive() that timed out stays pending for the next call: the
        server's receive is never cancelled half-way. (asyncio.wait_for is
        avoided on purpose: before Python 3.12 it can swallow the pump's own
        cancellation when the message arrives at that moment.)
        """
        timed = self._timeout is not None and self._body_expected and self.failure is None
        if self._receiving is None:
            if not timed:
                return await self._receive()
            self._receiving = asyncio.ensure_future(self._receive())
        receiving = self._receiving
        done, _ = await asyncio.wait({receiving}, timeout=self._timeout if timed else None)
        if not done:
            return None
        self._receiving = None
        return receiving.result()

    async def _wait_for_room(self) -> None:
        """Wait until the reader makes room, or until it is clearly done with the body."""
        room = asyncio.ensure_future(self._space.wait())
        try:
            while not room.done():
                idle = time.monotonic() - self._last_read
                if idle >= _UNREAD_GRACE and self._response_started():
                    self._fail(RequestBodyDiscarded, "the application stopped reading the body")
                    return
                await asyncio.wait({room}, timeout=_FULL_BUFFER_CHECK)
        finally:
            room.cancel()

    def _accept(self, chunk: bytes, more_body: bool) -> None:
        with self._condition:
            self._body_expected = more_body
            self.complete = not more_body
            if self.failure is not None:
                return  # nobody will read it: dropped, only the end of the body matters
            self._received += len(chunk)
            if self._max_body_size is not None and self._received > self._max_body_size:
                self.too_large = True
            elif chunk:
                self._chunks.append(chunk)
                self._buffered += len(chunk)
                self._credit += len(chunk)
            if self._buffered >= self._buffer_size and not self.complete:
                self._space.clear()
            self._condition.notify_all()
        self._arrived.set()

    def _keep_slot_wait(self, credit: int) -> float:
        """How long a reader whose client delivered ``credit`` bytes waits in its slot."""
        return min(max(_KEEP_SLOT_WAIT, credit / _KEEP_SLOT_PACE), _KEEP_SLOT_WAIT_MAX)

    def _fail(self, failure: type[OSError], text: str) -> None:
        with self._condition:
            if self.failure is None:
                self.failure, self._failure_text = failure, text
            self._condition.notify_all()
        self._arrived.set()

    def _mark_disconnected(self) -> None:
        with self._condition:
            self.disconnected = True
            self._condition.notify_all()
        if not self.complete:  # a whole body stays readable to its end
            self._fail(ClientDisconnected, "client disconnected while sending the body")
        self._on_disconnect()

    async def prefetch(self, size: int) -> None:
        """Wait until the body is complete, ``size`` bytes arrived, or it failed."""
        while not (
            self.complete or self._ended or self.failure is not None or self._buffered >= size
        ):
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
        return self._next(lambda: self._pop(limit), b"")

    def take_into(self, target: memoryview) -> int:
        """Like ``take``, copied straight into ``target``: no bytes object in between."""
        return self._next(lambda: self._pop_into(target), 0)

    def _next(self, pop: Callable[[], _T], at_eof: _T) -> _T:
        self._last_read = time.monotonic()
        with self._condition:
            got = self._available(pop, at_eof)
            if got is None and self._credit >= _KEEP_SLOT_CREDIT:
                credit, self._credit = self._credit, 0
                deadline = time.monotonic() + self._keep_slot_wait(credit)
                while (
                    got is None
                    and not self._slot_wanted()
                    and (left := deadline - time.monotonic()) > 0
                ):
                    self._condition.wait(min(left, _SLOT_WANTED_CHECK))
                    got = self._available(pop, at_eof)
            if got is not None:
                return got
        # Waiting for the client: the pool may run another request meanwhile.
        with self._client_wait(), self._condition:
            while (got := self._available(pop, at_eof)) is None:
                self._condition.wait(_WAKE_INTERVAL)
            return got

    def _available(self, pop: Callable[[], _T], at_eof: _T) -> _T | None:
        """What a read gets now; None if it has to wait for the client."""
        if self.too_large:
            raise RequestBodyTooLarge("request body exceeds the configured maximum")
        if self._chunks:
            return pop()
        if self.failure is not None:
            raise self.failure(self._failure_text)
        if self.complete:
            return at_eof
        if self._aborted or self._loop.is_closed():
            raise ClientDisconnected("client disconnected while sending the body")
        return None

    def _pop(self, limit: int) -> bytes:
        head, start = self._chunks[0], self._offset
        # A whole unread message is handed over as it is, not copied.
        chunk = head if not start and limit >= len(head) else head[start : start + limit]
        self._consume(len(chunk))
        return chunk

    def _pop_into(self, target: memoryview) -> int:
        head, start = self._chunks[0], self._offset
        count = min(len(target), len(head) - start)
        with memoryview(head) as source:
            target[:count] = source[start : start + count]
        self._consume(count)
        return count

    def _consume(self, count: int) -> None:
        self._offset += count
        if self._offset >= len(self._chunks[0]):
            self._chunks.popleft()
            self._offset = 0
        self._buffered -= count
        if not self._space.is_set() and self._buffered < self._buffer_size:
            # One wake-up per refill, not one per read.
            self._loop.call_soon_threadsafe(self._space.set)


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

    def _allowed(self, wanted: int) -> int:
        """How much of ``wanted`` the declared length still allows."""
        return wanted if self._remaining is None else min(wanted, self._remaining)

    def _count(self, received: int) -> None:
        if self._remaining is not None:
            if not received:
                raise ClientDisconnected("request body shorter than its Content-Length")
            self._remaining -= received

    def _next_chunk(self, limit: int) -> bytes:
        if self._pushed_back:
            chunk, self._pushed_back = self._pushed_back[:limit], self._pushed_back[limit:]
            return chunk
        limit = self._allowed(limit)
        if limit <= 0:
            return b""
        chunk = self._pump.take(limit)
        self._count(len(chunk))
        return chunk

    def _next_into(self, target: memoryview) -> int:
        if self._pushed_back:
            count = min(len(target), len(self._pushed_back))
            target[:count] = self._pushed_back[:count]
            self._pushed_back = self._pushed_back[count:]
            return count
        limit = self._allowed(len(target))
        if limit <= 0:
            return 0
        count = self._pump.take_into(target[:limit])
        self._count(count)
        return count

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
        # Straight from the received messages into the caller's buffer
        # (werkzeug reads this way): no intermediate bytes per read.
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view) and (count := self._next_into(view[filled:])):
            filled += count
        return filled

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
