"""The event-loop side of one AsgiToWsgi request: the app's ``receive`` and ``send``.

Everything the server's thread must act on (status and headers, body chunks, a
file to send, a request for the next body chunk, the end of the app) goes into
``outbox`` in order; the thread answers through ``call_soon_threadsafe``. Body
chunks waiting for the server are bounded by ``buffer_size`` bytes: beyond it
``send()`` waits until the server has taken them.
"""

from __future__ import annotations

import asyncio
import http
import logging
import queue
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

from asgiref.wsgi._asgi_to_wsgi_callable import SingleCallable
from asgiref.wsgi._errors import ClientDisconnected

if TYPE_CHECKING:
    from asgiref.typing import ASGIReceiveEvent, ASGISendEvent, HTTPScope

logger = logging.getLogger("asgiref.wsgi")

# PEP 3333 forbids these in start_response (wsgiref asserts it): the WSGI
# server owns the connection and the transfer coding.
_HOP_BY_HOP = frozenset(
    b"connection keep-alive proxy-authenticate proxy-authorization te trailers"
    b" transfer-encoding upgrade".split()
)
# RFC 9110 field syntax, as loosely as servers accept it: control characters,
# and in a name also space and ":", would corrupt the response on the wire.
_NAME = re.compile(rb"[^\x00-\x20:\x7f]+")
_VALUE = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*")


# Plain slotted classes rather than dataclasses: the dataclasses module is
# otherwise not loaded in a gunicorn worker, and it is resident memory (issue 23).
class Start:
    __slots__ = ("headers", "status")

    def __init__(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.status = status
        self.headers = headers


class Body:
    __slots__ = ("data", "more")

    def __init__(self, data: bytes, more: bool) -> None:
        self.data = data
        self.more = more


class SendFile:
    """``http.response.pathsend``: the thread opens the file (no blocking open on the loop)."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


class Ended:
    """The app's task finished; ``error`` is for the thread to report, if any."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class ReadRequest:
    """The app awaits ``receive()``: the thread reads the next body chunk."""


READ = ReadRequest()
Event = Start | Body | SendFile | Ended | ReadRequest
# What the thread read: a chunk and whether more follows, or None when the client is gone.
Chunk = tuple[bytes, bool] | None


def _status_line(status: object) -> str:
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 999:
        raise TypeError(
            f"http.response.start status must be an int from 100 to 999, not {status!r}"
        )
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _header(pair: object) -> tuple[bytes, bytes]:
    if isinstance(pair, (list, tuple)):
        items = cast("Sequence[object]", pair)
        if len(items) == 2 and isinstance(items[0], bytes) and isinstance(items[1], bytes):
            return items[0], items[1]
    raise TypeError(f"response headers must be [bytes, bytes] pairs, not {pair!r}")


def _wsgi_headers(headers: object) -> list[tuple[str, str]]:
    if not isinstance(headers, (list, tuple)):
        raise TypeError(f"response headers must be a list of pairs, not {headers!r}")
    result: list[tuple[str, str]] = []
    for pair in cast("Sequence[object]", headers):
        name, value = _header(pair)
        if not (_NAME.fullmatch(name) and _VALUE.fullmatch(value)):
            raise ValueError(f"invalid response header {pair!r}")
        if name.lower() not in _HOP_BY_HOP:
            result.append((name.decode("latin-1"), value.decode("latin-1")))
    return result


class Exchange:
    """One request's state on the loop; the thread's calls arrive via call_soon_threadsafe."""

    def __init__(self, outbox: queue.SimpleQueue[Event], buffer_size: int, grace: float) -> None:
        self.outbox = outbox
        self._buffer_size = buffer_size
        self._grace = grace
        self._started = False
        self._complete = False
        self._body_read = False
        self._disconnected = False  # the server closed the response before it was complete
        self._over = asyncio.Event()  # the response ended, one way or the other
        self._read_lock = asyncio.Lock()
        self._pending_read: asyncio.Future[Chunk] | None = None
        self._room: asyncio.Future[None] | None = None
        self._unread = 0  # bytes handed to the thread that it has not taken yet
        self._task: asyncio.Task[None] | None = None

    def start(self, application: SingleCallable, scope: HTTPScope) -> None:
        task = asyncio.get_running_loop().create_task(self._run(application, scope))
        task.add_done_callback(self._ended)
        self._task = task

    # ---- the application's side

    async def _run(self, application: SingleCallable, scope: HTTPScope) -> None:
        await application(scope, self.receive, self.send)

    async def receive(self) -> ASGIReceiveEvent:
        async with self._read_lock:
            if not (self._body_read or self._over.is_set()):
                self._pending_read = asyncio.get_running_loop().create_future()
                self.outbox.put(READ)
                chunk = await self._pending_read
                if chunk is not None:
                    data, more = chunk
                    self._body_read = not more
                    return {"type": "http.request", "body": data, "more_body": more}
            await self._over.wait()
            return {"type": "http.disconnect"}

    async def send(self, message: ASGISendEvent) -> None:
        # Validated here: at runtime an app may send anything.
        fields = cast("Mapping[str, object]", message)
        kind = fields.get("type")
        if self._complete:
            raise RuntimeError(f"ASGI message {kind!r} sent after the response completed")
        if self._disconnected:
            raise ClientDisconnected("the client is gone (the WSGI server closed the response)")
        if kind == "http.response.start":
            if self._started:
                raise RuntimeError("http.response.start sent twice")
            event: Event = Start(
                _status_line(fields.get("status")), _wsgi_headers(fields.get("headers", []))
            )
            self._started = True
            self.outbox.put(event)
        elif not self._started:
            raise RuntimeError(f"ASGI message {kind!r} sent before http.response.start")
        elif kind == "http.response.body":
            await self._send_body(fields.get("body", b""), bool(fields.get("more_body", False)))
        elif kind == "http.response.pathsend":
            path = fields.get("path")
            if not isinstance(path, str):
                raise TypeError(f"http.response.pathsend path must be a str, not {path!r}")
            self._complete = True
            self.outbox.put(SendFile(path))
            await self._over.wait()
        else:
            raise RuntimeError(f"unexpected ASGI message type {kind!r} in an http scope")

    async def _send_body(self, body: object, more: bool) -> None:
        if not isinstance(body, (bytes, bytearray)):
            raise TypeError(f"http.response.body body must be bytes, not {type(body).__name__}")
        if not more:
            self._complete = True
        elif not body:
            return
        self._unread += len(body)
        self.outbox.put(Body(bytes(body), more))
        while more and self._unread > self._buffer_size and not self._over.is_set():
            self._room = asyncio.get_running_loop().create_future()
            await self._room
        if self._disconnected:
            raise ClientDisconnected("the client is gone (the WSGI server closed the response)")

    # ---- the server thread's side (always called on the loop)

    def deliver(self, chunk: Chunk) -> None:
        """The body chunk the thread read for the pending ``receive()``; None: client gone."""
        if chunk is None:
            self.abandon()
        else:
            self._answer_read(chunk)

    def taken(self, size: int) -> None:
        """The thread took ``size`` bytes of body chunks from the outbox."""
        self._unread -= size
        if self._unread <= self._buffer_size:
            self._wake_sender()

    def finished(self) -> None:
        """The response went out whole: the app now sees ``http.disconnect``."""
        self._set_over()

    def abandon(self, cancel_now: bool = False) -> None:
        """The server stopped the response early: disconnect, then cancel after the grace."""
        if self._complete and not cancel_now:
            self._set_over()
            return
        self._disconnected = True
        self._set_over()
        task = self._task
        if task is not None and not task.done():
            loop = asyncio.get_running_loop()
            loop.call_later(0 if cancel_now else self._grace, _cancel, task, self._grace)

    def _set_over(self) -> None:
        self._over.set()
        self._wake_sender()
        self._answer_read(None)

    def _answer_read(self, chunk: Chunk) -> None:
        pending, self._pending_read = self._pending_read, None
        if pending is not None and not pending.done():
            pending.set_result(chunk)

    def _wake_sender(self) -> None:
        room, self._room = self._room, None
        if room is not None and not room.done():
            room.set_result(None)

    def _ended(self, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if not self._over.is_set() and not self._complete:
            self.outbox.put(Ended(error))
            return
        self.outbox.put(Ended(None))
        if error is not None and not isinstance(error, ClientDisconnected):
            logger.error("Exception in ASGI application after its response ended", exc_info=error)


def _cancel(task: asyncio.Task[None], grace: float) -> None:
    if task.done():
        return
    task.cancel()
    # A task that swallows cancellation keeps running; say so once instead of waiting on it.
    asyncio.get_running_loop().call_later(grace, _report_stuck, task)


def _report_stuck(task: asyncio.Task[None]) -> None:
    if not task.done():
        logger.warning("AsgiToWsgi: an ASGI application task ignored cancellation and still runs")
