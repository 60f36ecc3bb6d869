"""The server thread's side of one AsgiToWsgi request: from ASGI events to a WSGI response.

The thread waits on the request's outbox (each wait bounded by the adapter's
``message_timeout``), reads the body when the app asks for it, calls
``start_response`` and yields each body chunk as soon as the app sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from asgiref.wsgi._asgi_to_wsgi_body import BodyReader
from asgiref.wsgi._asgi_to_wsgi_exchange import (
    Body,
    Ended,
    Event,
    Exchange,
    ReadRequest,
    SendFile,
    Start,
)

logger = logging.getLogger("asgiref.wsgi")

StartResponse = Callable[..., Any]
_FILE_BLOCK = 64 * 1024
_ERROR_BODY = b"Internal Server Error"


class ApplicationSilent(TimeoutError):  # noqa: N818  # names what happened
    """The ASGI application sent nothing for ``message_timeout`` seconds."""


class Channel:
    """The thread's end of an Exchange: takes its events, answers on its loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        exchange: Exchange,
        reader: BodyReader,
        timeout: float | None,
        coalesce_limit: int,
    ) -> None:
        self._loop = loop
        self._exchange = exchange
        self._outbox = exchange.outbox
        self._reader = reader
        self._timeout = timeout
        self._coalesce_limit = coalesce_limit
        self._held: Event | None = None
        self.client_gone = False

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        # A closed loop means the interpreter is exiting: nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def next_event(self) -> Event:
        """The app's next message; ApplicationSilent after ``timeout`` without one."""
        event, self._held = self._held, None
        while event is None or isinstance(event, ReadRequest):
            if event is not None:
                chunk = self._reader.read()
                self.client_gone = chunk is None
                self._post(self._exchange.deliver, chunk)
            try:
                event = self._outbox.get(timeout=self._timeout)
            except queue.Empty:
                raise ApplicationSilent(
                    f"the ASGI application sent nothing for {self._timeout} s"
                ) from None
        if isinstance(event, Body):
            event = self._coalesce(event)
            self._post(self._exchange.taken, len(event.data))
        return event

    def _coalesce(self, body: Body) -> Body:
        # Chunks the app has already sent go out together: one yield, one write.
        parts = [body.data]
        size = len(body.data)
        more = body.more
        while more and size < self._coalesce_limit:
            try:
                event = self._outbox.get_nowait()
            except queue.Empty:
                break
            if not isinstance(event, Body):
                self._held = event
                break
            parts.append(event.data)
            size += len(event.data)
            more = event.more
        return body if len(parts) == 1 else Body(b"".join(parts), more)

    def finished(self) -> None:
        self._post(self._exchange.finished)

    def abandon(self, *, cancel_now: bool = False) -> None:
        self._post(self._exchange.abandon, cancel_now)


def server_error(start_response: StartResponse) -> list[bytes]:
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(_ERROR_BODY))),
    ]
    start_response("500 Internal Server Error", headers)
    return [_ERROR_BODY]


def _incomplete(error: BaseException | None) -> Exception:
    if isinstance(error, Exception):
        return error
    if error is None:
        return RuntimeError("the ASGI application returned without completing its response")
    # The app's SystemExit or KeyboardInterrupt must not end the server's worker thread.
    aborted = RuntimeError(f"the ASGI application raised {type(error).__name__}")
    aborted.__cause__ = error
    return aborted


def respond(
    channel: Channel, environ: Mapping[str, Any], start_response: StartResponse
) -> Iterable[bytes]:
    """The WSGI response: after the app's ``http.response.start`` and its first body message."""
    try:
        event = channel.next_event()
    except ApplicationSilent:
        channel.abandon(cancel_now=True)
        logger.error("AsgiToWsgi: the ASGI application did not start its response in time; 500")
        return server_error(start_response)
    if isinstance(event, Ended):
        if channel.client_gone:
            return server_error(start_response)  # nobody is left to hear it
        if event.error is None:
            logger.error("AsgiToWsgi: the ASGI application returned without starting a response")
        else:
            logger.error("Exception in ASGI application", exc_info=event.error)
        return server_error(start_response)
    try:
        if not isinstance(event, Start):
            raise RuntimeError(f"the ASGI application's first message was {event!r}")
        start_response(event.status, event.headers)
        return _first_body(channel, environ)
    except ApplicationSilent:
        channel.abandon(cancel_now=True)
        raise
    except BaseException:
        channel.abandon()
        raise


def _first_body(channel: Channel, environ: Mapping[str, Any]) -> Iterable[bytes]:
    # Waiting for it here lets a whole response go back as a one-item list
    # (servers then set Content-Length) and a file as the server's file_wrapper.
    first = channel.next_event()
    if isinstance(first, Body) and not first.more:
        return _Whole([first.data], channel)
    file_wrapper = environ.get("wsgi.file_wrapper")
    if isinstance(first, SendFile) and file_wrapper is not None:
        wrapped: Iterable[bytes] = file_wrapper(_SentFile(first.path, channel), _FILE_BLOCK)
        return wrapped
    if isinstance(first, Ended):
        raise _incomplete(first.error)
    return _Stream(channel, first)


class _Whole(list[bytes]):
    """A response the app completed at once: one chunk, so servers can set Content-Length."""

    def __init__(self, chunks: list[bytes], channel: Channel) -> None:
        super().__init__(chunks)
        self._channel: Channel | None = channel

    def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.finished()


class _SentFile:
    """The file of ``http.response.pathsend`` as handed to ``wsgi.file_wrapper``.

    Servers send it with ``os.sendfile`` through ``fileno()`` or read it;
    ``close()`` ends the response for the app.
    """

    def __init__(self, path: str, channel: Channel) -> None:
        self._file = open(path, "rb")  # noqa: SIM115  # closed by close(), as PEP 3333 asks
        self._channel: Channel | None = channel

    def read(self, size: int = -1) -> bytes:
        return self._file.read(size)

    def fileno(self) -> int:
        return self._file.fileno()

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def close(self) -> None:
        self._file.close()
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.finished()


class _Stream:
    """The rest of a streamed response, one chunk per app message (or batch of them)."""

    def __init__(self, channel: Channel, first: Event) -> None:
        self._channel = channel
        self._next: Event | None = first
        self._file: IO[bytes] | None = None
        self._done = False
        self._closed = False

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> bytes:
        while not self._done:
            if self._file is not None:
                data = self._file.read(_FILE_BLOCK)
                if data:
                    return data
                self._done = True
                break
            event, self._next = self._next, None
            try:
                event = event or self._channel.next_event()
            except ApplicationSilent:
                self._channel.abandon(cancel_now=True)
                raise
            if isinstance(event, Body):
                self._done = not event.more
                if event.data:
                    return event.data
            elif isinstance(event, SendFile):
                self._file = open(event.path, "rb")  # noqa: SIM115  # closed by close()
            elif isinstance(event, Ended):
                self._done = True
                raise _incomplete(event.error)
            else:
                raise RuntimeError(f"unexpected event in a started response: {event!r}")
        raise StopIteration

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._file is not None:
            self._file.close()
        if self._done and self._next is None:
            self._channel.finished()
        else:
            self._channel.abandon()
