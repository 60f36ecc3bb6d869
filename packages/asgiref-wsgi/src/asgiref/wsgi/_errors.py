"""Exceptions the adapter raises inside the WSGI application's thread."""

from __future__ import annotations


class ClientDisconnected(OSError):  # noqa: N818  # the name servers use too
    """The client went away while the application was reading the request body.

    It is an ``OSError`` so that frameworks treat it like any other broken
    connection instead of reporting an application bug.
    """


class RequestTimeout(TimeoutError):  # noqa: N818  # reads as the HTTP status it becomes
    """The client sent no request body bytes for the adapter's ``client_timeout``.

    Raised by ``wsgi.input``; a ``TimeoutError``, and so an ``OSError``, it takes
    the application's broken-connection path. When it escapes the application
    before a response started, the client gets a 408.
    """


class RequestBodyDiscarded(OSError):  # noqa: N818  # names what happened to the body
    """The rest of the request body was dropped unread.

    Once the application has started its response, has stopped reading the body
    and its read-ahead buffer is full, the adapter drains the body to keep
    seeing whether the client is still there. ``wsgi.input`` then raises this
    when the application reads past what was buffered.
    """


class RequestBodyTooLarge(ValueError):  # noqa: N818  # reads as the HTTP status it becomes
    """The request body grew beyond the adapter's ``max_body_size``.

    Raised by ``wsgi.input`` for bodies without a ``Content-Length``; when it
    escapes the application before a response started, the client gets a 413.
    """


class RejectedRequestError(ValueError):
    """A request the adapter answers itself with a 4xx, never calling the app.

    ``close``: the connection must not carry another request after this one.
    """

    def __init__(self, status: int, reason: str, *, close: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.close = close


class StreamingStoppedError(ClientDisconnected):
    """The response can no longer be delivered: the client left mid-response.

    Raised by ``write()`` and inside the adapter's iteration to unwind the
    application so that its ``close()`` still runs; being a
    ``ClientDisconnected`` it takes the app's usual broken-connection path.
    """
