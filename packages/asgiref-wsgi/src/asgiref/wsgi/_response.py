"""The app-thread half of a response: ``start_response``, ``write`` and iteration.

Everything here runs on the worker thread that runs the application, so the
application and its ``start_response`` share one thread for the whole request.
Messages are handed to the event loop through a ``ResponseChannel``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from asgiref.wsgi._errors import StreamingStoppedError
from asgiref.wsgi._filewrapper import FileWrapper
from asgiref.wsgi._output import Outgoing, ResponseChannel

if TYPE_CHECKING:
    from asgiref.typing import HTTPResponsePathsendEvent, HTTPResponseZeroCopySendEvent

logger = logging.getLogger("asgiref.wsgi")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Write = Callable[[bytes], None]

_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


# The checks below take ``object``: WSGI apps are rarely type-checked, so the
# types their annotations promise are verified at run time.


def _parse_status(status: object) -> int:
    if not isinstance(status, str):
        raise TypeError(f"WSGI status must be a str, not {type(status).__name__}")
    code, _, reason = status.partition(" ")
    if len(code) != 3 or not code.isascii() or not code.isdigit() or "\n" in reason:
        raise ValueError(f"malformed WSGI status line {status!r}: expected e.g. '200 OK'")
    return int(code)


def _encode_header(pair: object) -> tuple[bytes, bytes]:
    if not isinstance(pair, tuple | list):
        raise TypeError(f"WSGI header {pair!r} must be a (name, value) tuple")
    items = cast("tuple[object, ...] | list[object]", pair)
    if len(items) != 2:
        raise TypeError(f"WSGI header {pair!r} must be a (name, value) tuple")
    name, value = items
    if not isinstance(name, str) or not isinstance(value, str):
        raise TypeError(f"WSGI header {pair!r}: name and value must be str")
    if not name or not set(name) <= _TOKEN_CHARS:
        raise ValueError(f"malformed WSGI header name {name!r}")
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(f"WSGI header {name!r} has a line break or NUL in its value")
    try:
        return name.lower().encode("ascii"), value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"WSGI header {name!r} value is not latin-1: {value!r}") from None


def _encode_headers(headers: object) -> list[tuple[bytes, bytes]]:
    if not isinstance(headers, list):
        raise TypeError("WSGI response headers must be a list of (name, value) tuples")
    return [_encode_header(pair) for pair in cast("list[object]", headers)]


def _check_chunk(data: object) -> None:
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"WSGI body chunks must be bytes, not {type(data).__name__}")


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            if not value.strip().isdigit():
                raise ValueError(f"malformed Content-Length {value!r} in the response")
            return int(value)
    return None


class ResponseWriter:
    """Tracks one response: status and headers until they are sent, then body bytes."""

    def __init__(self, channel: ResponseChannel, extensions: Mapping[str, Any]) -> None:
        self._channel = channel
        self._extensions = extensions
        self._status: int | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._remaining: int | None = None
        self._held_empty_chunk = False
        self.headers_sent = False
        # True once a message that ends the body by itself (pathsend) went out.
        self.body_complete = False

    # -- PEP 3333 callables -------------------------------------------------

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Write:
        if exc_info is not None:
            try:
                if self.headers_sent:
                    # Too late to change the response: let the error propagate.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # break the frame <-> traceback cycle
        elif self._status is not None:
            raise RuntimeError("start_response called a second time without exc_info")
        code = _parse_status(status)
        encoded = _encode_headers(headers)
        remaining = _declared_length(encoded)
        self._status, self._headers, self._remaining = code, encoded, remaining
        return self.write

    def write(self, data: bytes) -> None:
        if self._status is None:
            raise RuntimeError("write() called before start_response()")
        self.send_chunk(data)

    # -- driving the application's result ----------------------------------

    def send_chunk(self, data: bytes) -> bool:
        """Send one body chunk; False once the declared Content-Length is reached."""
        _check_chunk(data)
        if self._status is None:
            raise RuntimeError("the application yielded body data before start_response()")
        if self._remaining is not None:
            data = data[: self._remaining]
            self._remaining -= len(data)
        if not data and not self.headers_sent:
            # PEP 3333: headers wait for the first non-empty chunk.
            self._held_empty_chunk = True
            return self._remaining != 0
        self._send_headers()
        self._channel.put(
            Outgoing(
                {"type": "http.response.body", "body": bytes(data), "more_body": True}, len(data)
            )
        )
        return self._remaining != 0

    def consume(self, result: Iterable[bytes]) -> None:
        """Send everything ``result`` produces, stopping early at Content-Length."""
        if isinstance(result, FileWrapper) and self._send_file(result):
            return
        if self._remaining != 0:
            for chunk in result:
                if not self.send_chunk(chunk):
                    break
        if self._status is None:
            raise RuntimeError("the WSGI application returned without calling start_response()")
        self._send_headers()

    def _send_headers(self) -> None:
        status = self._status
        if self.headers_sent or status is None:  # None: every caller has refused that
            return
        self._channel.put(
            Outgoing({"type": "http.response.start", "status": status, "headers": self._headers})
        )
        self.headers_sent = self._channel.response_started = True
        if self._held_empty_chunk:
            self._channel.put(
                Outgoing({"type": "http.response.body", "body": b"", "more_body": True})
            )

    def _send_file(self, wrapper: FileWrapper) -> bool:
        """Hand the file to the server when it offers a way to send files itself."""
        if self._status is None:
            return False
        message: HTTPResponsePathsendEvent | HTTPResponseZeroCopySendEvent | None = None
        if "http.response.pathsend" in self._extensions:
            path = wrapper.sendable_path()
            # A partial file (Content-Length smaller than the file) is streamed instead.
            if path is not None and self._remaining in (None, wrapper.file_size(path)):
                message = {"type": "http.response.pathsend", "path": path}
        if message is None and "http.response.zerocopysend" in self._extensions:
            span = wrapper.zero_copy_span(self._remaining)
            if span is not None:
                offset, count = span
                message = {
                    "type": "http.response.zerocopysend",
                    "file": wrapper.filelike,
                    "offset": offset,
                    "count": count,
                }
        if message is None:
            return False
        self._send_headers()
        # Wait until the server is done with it: closing the wrapper closes the
        # descriptor and may delete the file.
        self._channel.put(Outgoing(message, wait=True))
        self.body_complete = True
        return True


def run_application(
    application: Callable[[dict[str, Any], Any], Iterable[bytes]],
    environ: dict[str, Any],
    writer: ResponseWriter,
) -> None:
    """Call the app and drain its result; ``close()`` runs exactly once on every path."""
    result = application(environ, writer.start_response)
    try:
        writer.consume(result)
    except StreamingStoppedError:
        pass  # the client is gone; close() below is all that is left to do
    finally:
        _close(result)


def _close(result: Iterable[bytes]) -> None:
    """Call the response's ``close()``; a failure there is logged, never raised.

    By then the response is complete (or already failed for its own reason):
    raising would make the server cut a response the client could have had
    whole, as gunicorn and waitress also judge.
    """
    close = getattr(result, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:
        logger.exception("Exception in close() of the WSGI response %r", result)
