"""AsgiToWsgi: serve an ASGI application from a WSGI server."""

from __future__ import annotations

import concurrent.futures
import logging
import queue
from collections.abc import Iterable
from typing import Any

from asgiref.wsgi._asgi_to_wsgi_body import BodyReader
from asgiref.wsgi._asgi_to_wsgi_callable import as_single_callable
from asgiref.wsgi._asgi_to_wsgi_exchange import Event, Exchange
from asgiref.wsgi._asgi_to_wsgi_lifespan import Lifespan, LifespanMode
from asgiref.wsgi._asgi_to_wsgi_loop import LoopThread, shared_loop_thread
from asgiref.wsgi._asgi_to_wsgi_response import Channel, StartResponse, respond, server_error
from asgiref.wsgi._asgi_to_wsgi_scope import build_scope

logger = logging.getLogger("asgiref.wsgi")

_KIB = 1024
# The loop itself bounds lifespan waits; this margin only covers a loop that is stuck.
_LOOP_MARGIN = 5.0


def _seconds(name: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a number of seconds or None" if optional else "a number of seconds"
        raise TypeError(f"{name} must be {kind}, not {value!r}")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be > 0 and finite, not {value!r}")
    return float(value)


def _size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int (bytes), not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, not {value!r}")
    return value


class AsgiToWsgi:
    """A WSGI application (PEP 3333) that serves an ASGI 3 or ASGI 2 application.

    Every request of the process runs on one event loop in one thread, started
    on first use (anew in a forked child). Options, all keyword-only:

    - ``lifespan``: "auto" (default; served without lifespan if the app fails
      on it), "on" (a failure is a startup failure: every request is a 500) or
      "off".
    - ``lifespan_timeout``: seconds each of startup and shutdown may take (60).
    - ``message_timeout``: seconds the server's thread waits for the app's next
      message (60); then the app is cancelled and the request ends with a 500
      or an aborted response. ``None`` waits without limit.
    - ``disconnect_grace``: seconds an app may keep running after it was told
      ``http.disconnect`` for a response closed early, before it is cancelled (5).
    - ``body_chunk_size``: the most bytes one ``http.request`` carries (64 KiB).
    - ``response_buffer_size``: response bytes the app may send ahead of the
      server before its ``send()`` waits (64 KiB).
    """

    def __init__(
        self,
        application: Any,
        *,
        lifespan: LifespanMode = "auto",
        lifespan_timeout: float = 60.0,
        message_timeout: float | None = 60.0,
        disconnect_grace: float = 5.0,
        body_chunk_size: int = 64 * _KIB,
        response_buffer_size: int = 64 * _KIB,
    ) -> None:
        if lifespan not in ("auto", "on", "off"):
            raise ValueError(f'lifespan must be "auto", "on" or "off", not {lifespan!r}')
        self.application = application
        self._app = as_single_callable(application)
        self._lifespan_mode: LifespanMode = lifespan
        self._lifespan_timeout = _seconds("lifespan_timeout", lifespan_timeout) or 0.0
        self._message_timeout = _seconds("message_timeout", message_timeout, optional=True)
        self._grace = _seconds("disconnect_grace", disconnect_grace) or 0.0
        self._chunk_size = _size("body_chunk_size", body_chunk_size)
        self._buffer_size = _size("response_buffer_size", response_buffer_size)
        self._lifespan: Lifespan | None = None
        self._generation = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        runner = shared_loop_thread()
        lifespan = self._started_lifespan(runner)
        if lifespan.failure is not None:
            return server_error(start_response)
        loop = runner.loop()
        outbox: queue.SimpleQueue[Event] = queue.SimpleQueue()
        exchange = Exchange(outbox, self._buffer_size, self._grace)
        scope = build_scope(environ, lifespan.state, pathsend="wsgi.file_wrapper" in environ)
        loop.call_soon_threadsafe(exchange.start, self._app, scope)
        reader = BodyReader(environ, self._chunk_size)
        channel = Channel(loop, exchange, reader, self._message_timeout, self._buffer_size)
        return respond(channel, environ, start_response)

    def _started_lifespan(self, runner: LoopThread) -> Lifespan:
        lifespan = self._lifespan
        if lifespan is not None and self._generation == runner.generation:
            return lifespan
        runner.loop()  # started outside the lock, which loop() takes itself
        with runner.lock:
            if self._lifespan is None or self._generation != runner.generation:
                self._lifespan = self._start_lifespan(runner)
                self._generation = runner.generation
                # Keyed by the lifespan, which its hook keeps alive: an id that no
                # other adapter can reuse while the hook is registered.
                runner.on_exit(id(self._lifespan), self._lifespan.shutdown)
            return self._lifespan

    def _start_lifespan(self, runner: LoopThread) -> Lifespan:
        # Requests wait for this (under the runner's lock): startup precedes them all.
        lifespan = Lifespan(self._app, self._lifespan_mode, self._lifespan_timeout)
        started = runner.run(lifespan.startup())
        try:
            started.result(timeout=self._lifespan_timeout + _LOOP_MARGIN)
        except concurrent.futures.TimeoutError:
            started.cancel()
            lifespan.failure = "the event loop did not run lifespan startup"
            logger.error("AsgiToWsgi: %s; every request is answered 500", lifespan.failure)
        return lifespan

    def close(self) -> None:
        """Run the application's lifespan shutdown now (bounded in time).

        A request served afterwards starts the application (and its lifespan) again.
        """
        runner = shared_loop_thread()
        with runner.lock:
            lifespan, self._lifespan = self._lifespan, None
            if lifespan is not None:
                runner.on_exit(id(lifespan), None)
        if lifespan is not None and self._generation == runner.generation:
            try:
                runner.run(lifespan.shutdown()).result(
                    timeout=self._lifespan_timeout + _LOOP_MARGIN
                )
            except concurrent.futures.TimeoutError:
                logger.error("AsgiToWsgi: lifespan shutdown did not end in time")

    def __repr__(self) -> str:
        return f"AsgiToWsgi({self.application!r})"
