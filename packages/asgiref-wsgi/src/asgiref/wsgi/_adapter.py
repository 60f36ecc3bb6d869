"""WsgiToAsgi: serve a WSGI application from an ASGI server."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import io
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, cast

from asgiref.wsgi._environ import build_environ
from asgiref.wsgi._errors import (
    ClientDisconnected,
    RejectedRequestError,
    RequestBodyTooLarge,
    RequestTimeout,
)
from asgiref.wsgi._filewrapper import FileWrapper
from asgiref.wsgi._input import BodyPump, InputStream
from asgiref.wsgi._output import ResponseChannel
from asgiref.wsgi._pool import LazyPool, WorkerPool, shared_pool
from asgiref.wsgi._response import ExcInfo, ResponseWriter, Write, run_application

logger = logging.getLogger("asgiref.wsgi")

if TYPE_CHECKING:
    from asgiref.typing import ASGISendCallable
    from asgiref.wsgi._interface import ServerReceive, ServerScope, ServerSend

WSGIApplication = Callable[[dict[str, Any], Any], Iterable[bytes]]

_KIB = 1024
_CLIENT_TIMEOUT = 60.0
# How far the request body is read ahead of the application once it runs
# (stream_buffer_size only lowers it): enough to keep the reader fed, small
# enough that many concurrent uploads hold little memory.
_READ_AHEAD = 64 * _KIB


@dataclass(frozen=True)
class _Options:
    duplicate_header_limit: int | None
    max_headers: int | None
    max_body_size: int | None
    body_buffer_size: int
    stream_buffer_size: int
    client_timeout: float | None

    def __post_init__(self) -> None:
        for name in ("max_headers", "max_body_size"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be None or >= 0")
        for name in ("body_buffer_size", "stream_buffer_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.client_timeout is not None and not self.client_timeout > 0:
            raise ValueError("client_timeout must be None or > 0")


_PLAIN = [(b"content-type", b"text/plain")]
# After a request whose body was not read whole, or whose framing is suspect,
# the rest of the stream must not be read as another request.
_PLAIN_AND_CLOSE = [*_PLAIN, (b"connection", b"close")]


async def _send_plain(
    send: ASGISendCallable, status: int, text: str, *, close: bool = False
) -> None:
    """A complete short text/plain response (the adapter's own 4xx/5xx)."""
    try:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": _PLAIN_AND_CLOSE if close else _PLAIN,
            }
        )
        await send({"type": "http.response.body", "body": text.encode("latin-1")})
    except OSError:
        pass  # the client left before hearing the answer


async def _serve_lifespan(
    receive: ServerReceive, send: ASGISendCallable, on_shutdown: Callable[[], None]
) -> None:
    """A WSGI app has nothing to start or stop; acknowledge both phases."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _refuse_websocket(receive: ServerReceive, send: ASGISendCallable) -> None:
    """WSGI cannot speak WebSocket: close before accepting (the client sees a 403)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1000})


def _exact_send(send: ServerSend) -> ASGISendCallable:
    """The server's send, typed for the messages the adapter makes."""
    # A send declared for MutableMapping messages takes these TypedDicts too.
    return cast("ASGISendCallable", send)


def _uncancel(task: asyncio.Task[Any] | None) -> None:
    """Forget a cancellation the adapter made and handled itself (Python 3.11+ counts them)."""
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


class WsgiToAsgiInstance:
    """One request's bridge between an ASGI server and the WSGI application.

    Usable directly as an ASGI application for a single request; ``WsgiToAsgi``
    makes one per request and shares its thread pool with it.
    """

    def __init__(
        self,
        wsgi_application: WSGIApplication | None,
        duplicate_header_limit: int | None = 100,
        *,
        max_headers: int | None = 1000,
        max_body_size: int | None = None,
        body_buffer_size: int = 64 * _KIB,
        stream_buffer_size: int = 256 * _KIB,
        client_timeout: float | None = _CLIENT_TIMEOUT,
        executor: Executor | None = None,
    ) -> None:
        self.duplicate_header_limit = duplicate_header_limit
        self.wsgi_application = wsgi_application
        self._options = _Options(
            duplicate_header_limit,
            max_headers,
            max_body_size,
            body_buffer_size,
            stream_buffer_size,
            client_timeout,
        )
        self._executor = executor
        self._writer: ResponseWriter | None = None
        self.scope: Mapping[str, Any] = {}

    async def __call__(self, scope: ServerScope, receive: ServerReceive, send: ServerSend) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._serve_http(scope, receive, _exact_send(send))
        elif kind == "lifespan":
            await _serve_lifespan(receive, _exact_send(send), lambda: None)
        elif kind == "websocket":
            await _refuse_websocket(receive, _exact_send(send))
        else:
            raise ValueError(f"WsgiToAsgi cannot serve a {kind!r} scope")

    # -- PEP 3333 pieces, kept callable on their own as upstream allows -------

    def build_environ(self, scope: Mapping[str, Any], body: IO[bytes] | None) -> dict[str, Any]:
        """The WSGI environ for ``scope``, reading the request body from ``body``.

        Raises ``ValueError`` (``RejectedRequestError``) for requests that must get
        a 4xx instead of reaching the application.
        """
        environ, _ = build_environ(
            scope,
            io.BytesIO() if body is None else body,
            duplicate_limit=self._options.duplicate_header_limit,
            max_headers=self._options.max_headers,
            file_wrapper=FileWrapper,
        )
        return environ

    def start_response(
        self,
        status: str,
        response_headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Write:
        if self._writer is None:
            raise RuntimeError("start_response() is only valid while a request is running")
        return self._writer.start_response(status, response_headers, exc_info)

    # -- the HTTP request --------------------------------------------------

    async def _serve_http(
        self, scope: Mapping[str, Any], receive: ServerReceive, send: ASGISendCallable
    ) -> None:
        self.scope = scope
        options = self._options
        try:
            environ = self.build_environ(scope, None)
        except RejectedRequestError as rejection:
            await _send_plain(send, rejection.status, rejection.reason, close=rejection.close)
            return
        declared = environ.get("CONTENT_LENGTH")
        if options.max_body_size is not None and int(declared or 0) > options.max_body_size:
            await _send_plain(send, 413, "Payload Too Large", close=True)
            return

        loop = asyncio.get_running_loop()
        executor = self._executor or shared_pool().get()
        client_wait = (
            executor.client_wait if isinstance(executor, WorkerPool) else contextlib.nullcontext
        )
        timeout = options.client_timeout
        # Received before the app starts only if the whole body may fit the
        # buffer; a larger one is left with the server until its app runs.
        buffer_first = bool(options.body_buffer_size) and (
            declared is None or int(declared) <= options.body_buffer_size
        )
        channel = ResponseChannel(
            loop, options.stream_buffer_size, timeout=timeout, client_wait=client_wait
        )
        pump = BodyPump(
            loop,
            receive,
            buffer_size=max(options.body_buffer_size, min(options.stream_buffer_size, _READ_AHEAD)),
            max_body_size=options.max_body_size,
            timeout=timeout,
            body_expected=declared not in (None, "0") or "HTTP_TRANSFER_ENCODING" in environ,
            on_disconnect=channel.client_left,
            response_started=lambda: channel.response_started,
            client_wait=client_wait,
            slot_wanted=executor.slot_wanted if isinstance(executor, WorkerPool) else None,
            held=not buffer_first,
        )
        environ["wsgi.input"] = InputStream(pump, None if declared is None else int(declared))
        pump_task = loop.create_task(pump.run())
        try:
            if buffer_first:
                # A slow client fills this buffer without holding a pool thread.
                await pump.prefetch(options.body_buffer_size)
            if pump.disconnected:
                return
            if pump.too_large:
                await _send_plain(send, 413, "Payload Too Large", close=True)
                return
            if pump.timed_out:
                await _send_plain(send, 408, "Request Timeout", close=True)
                return
            await self._run_and_deliver(loop, executor, environ, channel, pump, send)
        finally:
            pump.abort()
            channel.stop()
            pump_task.cancel()
            try:
                await pump_task
            except asyncio.CancelledError:
                pass
            except Exception:
                # A server whose receive() fails after the response is complete
                # has nothing left to tell this request.
                logger.debug("receive() failed while watching for a disconnect", exc_info=True)

    async def _run_and_deliver(
        self,
        loop: asyncio.AbstractEventLoop,
        executor: Executor,
        environ: dict[str, Any],
        channel: ResponseChannel,
        pump: BodyPump,
        send: ASGISendCallable,
    ) -> None:
        application = self.wsgi_application
        if application is None:
            raise RuntimeError("WsgiToAsgiInstance has no WSGI application to call")
        writer = self._writer = ResponseWriter(channel, self.scope.get("extensions") or {})

        errors_stream = environ["wsgi.errors"]

        def run_in_thread() -> BaseException | None:
            # From here on the body is read ahead, and a client leaving is seen.
            # Waking the loop costs a self-pipe write, so only a held pump gets it.
            if pump.held:
                loop.call_soon_threadsafe(pump.start)
            try:
                run_application(application, environ, writer)
                return None
            except BaseException as error:  # handed to the loop
                return error
            finally:
                errors_stream.flush()
                channel.finish()

        # The app sees the context variables of the ASGI task that serves it.
        work = functools.partial(contextvars.copy_context().run, run_in_thread)
        outcome = (
            asyncio.wrap_future(
                executor.submit_request(work, reads_client=pump.body_pending), loop=loop
            )
            if isinstance(executor, WorkerPool)
            else loop.run_in_executor(executor, work)
        )
        delivering = asyncio.current_task()
        if delivering is not None:
            # A client that takes nothing for client_timeout: stop waiting in send().
            channel.on_timeout = delivering.cancel
        try:
            await self._deliver(channel, send)
        except asyncio.CancelledError:
            if not channel.timed_out:
                raise
            _uncancel(delivering)
        finally:
            channel.on_timeout = None
            channel.stop()
        error = await outcome
        if channel.timed_out:
            logger.warning(
                "Response abandoned: the client took nothing for %s s", self._options.client_timeout
            )
            return
        await self._finish(error, writer, channel, send)

    @staticmethod
    async def _deliver(channel: ResponseChannel, send: ASGISendCallable) -> None:
        """Send what the app thread produces until it is done."""
        while True:
            batch, finished = await channel.take()
            for item in batch:
                if not channel.stopped:
                    try:
                        await send(item.message)
                    except OSError:
                        channel.client_left()  # the client is gone; the app thread stops too
                channel.sent(item)
            if finished:
                return

    async def _finish(
        self,
        error: BaseException | None,
        writer: ResponseWriter,
        channel: ResponseChannel,
        send: ASGISendCallable,
    ) -> None:
        client_gone = channel.client_gone
        if error is None:
            if not client_gone and not writer.body_complete:
                with contextlib.suppress(OSError):
                    await send({"type": "http.response.body"})
            return
        if client_gone:
            # Nobody is listening any more; only a genuine app failure is worth a record.
            if not isinstance(error, ClientDisconnected):
                logger.error(
                    "Exception in WSGI application %r", self.wsgi_application, exc_info=error
                )
            return
        if writer.headers_sent:
            # Too late for an error page: failing the ASGI call makes the server
            # cut the connection, so the client cannot take a truncated body
            # for a complete one.
            raise error
        if isinstance(error, RequestBodyTooLarge):
            await _send_plain(send, 413, "Payload Too Large", close=True)
        elif isinstance(error, RequestTimeout):
            await _send_plain(send, 408, "Request Timeout", close=True)
        elif isinstance(error, ClientDisconnected):
            await _send_plain(send, 400, "Bad Request: Incomplete request body", close=True)
        else:
            logger.error("Exception in WSGI application %r", self.wsgi_application, exc_info=error)
            await _send_plain(send, 500, "Internal Server Error")


class WsgiToAsgi:
    """Wraps a WSGI application so that ASGI servers can run it.

    Requests run concurrently on a bounded thread pool (``max_workers``, or your
    own ``executor``); bodies stream both ways with bounded buffers.
    """

    def __init__(
        self,
        wsgi_application: WSGIApplication,
        duplicate_header_limit: int | None = 100,
        *,
        max_workers: int = 32,
        executor: Executor | None = None,
        max_headers: int | None = 1000,
        max_body_size: int | None = None,
        body_buffer_size: int = 64 * _KIB,
        stream_buffer_size: int = 256 * _KIB,
        client_timeout: float | None = _CLIENT_TIMEOUT,
    ) -> None:
        self.duplicate_header_limit = duplicate_header_limit
        self.wsgi_application = wsgi_application
        self._pool = LazyPool(max_workers) if executor is None else None
        self._executor = executor
        self._instance_options: dict[str, Any] = {
            "max_headers": max_headers,
            "max_body_size": max_body_size,
            "body_buffer_size": body_buffer_size,
            "stream_buffer_size": stream_buffer_size,
            "client_timeout": client_timeout,
        }
        # Fail at construction, not at the first request.
        _Options(duplicate_header_limit, **self._instance_options)

    async def __call__(self, scope: ServerScope, receive: ServerReceive, send: ServerSend) -> None:
        if scope["type"] == "lifespan":
            await _serve_lifespan(receive, _exact_send(send), self._shutdown)
            return
        executor = self._executor
        if self._pool is not None and scope["type"] == "http":
            executor = self._pool.get()
        instance = WsgiToAsgiInstance(
            self.wsgi_application,
            self.duplicate_header_limit,
            executor=executor,
            **self._instance_options,
        )
        await instance(scope, receive, send)

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
