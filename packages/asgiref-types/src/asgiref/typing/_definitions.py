"""Every ASGI type, written once for type checkers and for runtime introspection.

This module is only executed when a program touches a name of
``asgiref.typing`` at runtime (see the package ``__init__``), so it may use the
full typing machinery. Annotations are real objects (no postponed evaluation)
so that ``__required_keys__`` / ``__optional_keys__`` are exact at runtime on
every supported Python.

Levels covered: ASGI 3.0 and 2.0 applications, the HTTP and WebSocket
sub-specification 2.5, lifespan 2.0 with ``state``, and the extensions
websocket denial response, server push, zero-copy send, path send, early
hints, trailers, debug and TLS.
"""

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, Protocol, TypeAlias

from asgiref.typing._compat import NotRequired, TypedDict

# The extension types live apart (see there why); the package reads every public
# name from this module, hence the explicit re-exports.
from asgiref.typing._extensions import ExtensionName as ExtensionName
from asgiref.typing._extensions import ScopeExtensions as ScopeExtensions
from asgiref.typing._extensions import TLSExtension as TLSExtension

# --------------------------------------------------------------------------
# Building blocks shared by several scopes and messages.

Headers: TypeAlias = Iterable[tuple[bytes, bytes]]
"""``[name, value]`` pairs of byte strings, in wire order, duplicates kept."""


class ASGIVersions(TypedDict):
    """``scope["asgi"]``: the core version and the protocol spec version."""

    version: Literal["2.0", "3.0"]
    spec_version: NotRequired[str]


# --------------------------------------------------------------------------
# Scopes.


class HTTPScope(TypedDict):
    """The connection scope of one HTTP request."""

    type: Literal["http"]
    asgi: ASGIVersions
    method: str
    http_version: str
    scheme: NotRequired[str]
    path: str
    raw_path: NotRequired[bytes | None]
    query_string: bytes
    root_path: NotRequired[str]
    headers: Headers
    client: NotRequired[tuple[str, int] | None]
    server: NotRequired[tuple[str, int | None] | None]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[ScopeExtensions | None]


class WebSocketScope(TypedDict):
    """The connection scope of one WebSocket, alive as long as the socket."""

    type: Literal["websocket"]
    asgi: ASGIVersions
    http_version: NotRequired[str]
    scheme: NotRequired[str]
    path: str
    raw_path: NotRequired[bytes | None]
    query_string: NotRequired[bytes | None]
    root_path: NotRequired[str]
    headers: Headers
    client: NotRequired[tuple[str, int] | None]
    server: NotRequired[tuple[str, int | None] | None]
    subprotocols: NotRequired[Iterable[str]]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[ScopeExtensions | None]


class LifespanScope(TypedDict):
    """The scope of the lifespan protocol, alive as long as the event loop."""

    type: Literal["lifespan"]
    asgi: ASGIVersions
    # Absent when the server cannot carry state from lifespan to requests.
    state: NotRequired[dict[str, Any]]


WWWScope: TypeAlias = HTTPScope | WebSocketScope
"""The scope of an HTTP or WebSocket connection."""
Scope: TypeAlias = HTTPScope | WebSocketScope | LifespanScope
"""Any connection scope an application can be called with."""


# --------------------------------------------------------------------------
# HTTP messages.


class HTTPRequestEvent(TypedDict):
    """Received: a chunk of the request body."""

    type: Literal["http.request"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class HTTPDisconnectEvent(TypedDict):
    """Received: the client went away or the response is complete."""

    type: Literal["http.disconnect"]


class HTTPResponseStartEvent(TypedDict):
    """Sent: status and headers; ``trailers`` needs the trailers extension."""

    type: Literal["http.response.start"]
    status: int
    headers: NotRequired[Headers]
    trailers: NotRequired[bool]


class HTTPResponseBodyEvent(TypedDict):
    """Sent: a chunk of the response body."""

    type: Literal["http.response.body"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class HTTPResponseTrailersEvent(TypedDict):
    """Sent (extension ``http.response.trailers``): trailing headers after the body."""

    type: Literal["http.response.trailers"]
    headers: Headers
    more_trailers: NotRequired[bool]


class HTTPServerPushEvent(TypedDict):
    """Sent (extension ``http.response.push``): an HTTP/2 push promise."""

    type: Literal["http.response.push"]
    path: str
    headers: Headers


class SupportsFileno(Protocol):
    """An open file with an OS descriptor usable by ``os.sendfile`` (not BytesIO)."""

    def fileno(self) -> int: ...


class HTTPResponseZeroCopySendEvent(TypedDict):
    """Sent (extension ``http.response.zerocopysend``): body bytes from a file descriptor."""

    type: Literal["http.response.zerocopysend"]
    file: SupportsFileno
    offset: NotRequired[int]
    count: NotRequired[int]
    more_body: NotRequired[bool]


class HTTPResponsePathsendEvent(TypedDict):
    """Sent (extension ``http.response.pathsend``): the whole body from an absolute path."""

    type: Literal["http.response.pathsend"]
    path: str


class HTTPResponseEarlyHintEvent(TypedDict):
    """Sent (extension ``http.response.early_hint``): a 103 response with ``Link`` values."""

    type: Literal["http.response.early_hint"]
    links: Iterable[bytes]


class HTTPResponseDebugEvent(TypedDict):
    """Sent (extension ``http.response.debug``, test clients only): debug data."""

    type: Literal["http.response.debug"]
    info: dict[str, Any]


# --------------------------------------------------------------------------
# WebSocket messages. A data frame carries exactly one of ``bytes``/``text``;
# the other key may be absent or None. ``WebSocketReceiveEvent`` and
# ``WebSocketSendEvent`` keep upstream's single TypedDict class (programs call
# them, and narrowing a received message must give them back), so they cannot
# say "exactly one"; the ``Strict...`` unions of a binary and a text variant
# do, for code that builds frames and wants a checker to insist on it.


class WebSocketConnectEvent(TypedDict):
    """Received: the handshake is waiting for accept or close."""

    type: Literal["websocket.connect"]


class WebSocketAcceptEvent(TypedDict):
    """Sent: complete the handshake (``headers`` since spec 2.1)."""

    type: Literal["websocket.accept"]
    subprotocol: NotRequired[str | None]
    headers: NotRequired[Headers]


class WebSocketReceiveBytesEvent(TypedDict):
    """Received: a binary data message."""

    type: Literal["websocket.receive"]
    bytes: bytes
    text: NotRequired[None]


class WebSocketReceiveTextEvent(TypedDict):
    """Received: a text data message."""

    type: Literal["websocket.receive"]
    bytes: NotRequired[None]
    text: str


class WebSocketReceiveEvent(TypedDict):
    """Received: a data message, binary (``bytes``) or text (``text``)."""

    type: Literal["websocket.receive"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


StrictWebSocketReceiveEvent: TypeAlias = WebSocketReceiveBytesEvent | WebSocketReceiveTextEvent
"""A received data message with exactly one of ``bytes`` / ``text``."""


class WebSocketSendBytesEvent(TypedDict):
    """Sent: a binary data message."""

    type: Literal["websocket.send"]
    bytes: bytes
    text: NotRequired[None]


class WebSocketSendTextEvent(TypedDict):
    """Sent: a text data message."""

    type: Literal["websocket.send"]
    bytes: NotRequired[None]
    text: str


class WebSocketSendEvent(TypedDict):
    """Sent: a data message, binary (``bytes``) or text (``text``)."""

    type: Literal["websocket.send"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


StrictWebSocketSendEvent: TypeAlias = WebSocketSendBytesEvent | WebSocketSendTextEvent
"""A data message to send with exactly one of ``bytes`` / ``text``."""


class WebSocketResponseStartEvent(TypedDict):
    """Sent (extension ``websocket.http.response``): deny the handshake with a response."""

    type: Literal["websocket.http.response.start"]
    status: int
    headers: NotRequired[Headers]


class WebSocketResponseBodyEvent(TypedDict):
    """Sent (extension ``websocket.http.response``): body of the denial response."""

    type: Literal["websocket.http.response.body"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class WebSocketDisconnectEvent(TypedDict):
    """Received: the socket closed (``reason`` since spec 2.5)."""

    type: Literal["websocket.disconnect"]
    code: int
    reason: NotRequired[str | None]


class WebSocketCloseEvent(TypedDict):
    """Sent: close the socket, or reject the handshake with 403 (``reason`` since 2.3)."""

    type: Literal["websocket.close"]
    code: NotRequired[int]
    reason: NotRequired[str | None]


# --------------------------------------------------------------------------
# Lifespan messages, in the order of the two phases: the server's event, then
# the application's answer (complete or failed).


class LifespanStartupEvent(TypedDict):
    """Received: the server is about to accept connections."""

    type: Literal["lifespan.startup"]


class LifespanStartupCompleteEvent(TypedDict):
    """Sent: startup finished; the server may start serving."""

    type: Literal["lifespan.startup.complete"]


class LifespanStartupFailedEvent(TypedDict):
    """Sent: startup failed; the server logs ``message`` and exits."""

    type: Literal["lifespan.startup.failed"]
    message: NotRequired[str]


class LifespanShutdownEvent(TypedDict):
    """Received: the server has stopped accepting connections."""

    type: Literal["lifespan.shutdown"]


class LifespanShutdownCompleteEvent(TypedDict):
    """Sent: cleanup finished; the server may exit."""

    type: Literal["lifespan.shutdown.complete"]


class LifespanShutdownFailedEvent(TypedDict):
    """Sent: cleanup failed; the server logs ``message`` and exits."""

    type: Literal["lifespan.shutdown.failed"]
    message: NotRequired[str]


# --------------------------------------------------------------------------
# What travels through ``receive`` and ``send``: exactly the messages a server
# may deliver to an application, and exactly those an application may emit.

ASGIReceiveEvent: TypeAlias = (
    HTTPRequestEvent
    | HTTPDisconnectEvent
    | WebSocketConnectEvent
    | WebSocketReceiveEvent
    | WebSocketDisconnectEvent
    | LifespanStartupEvent
    | LifespanShutdownEvent
)
"""Every event a server hands to an application through ``receive``."""

ASGISendEvent: TypeAlias = (
    HTTPResponseStartEvent
    | HTTPResponseBodyEvent
    | HTTPResponseTrailersEvent
    | HTTPServerPushEvent
    | HTTPResponseZeroCopySendEvent
    | HTTPResponsePathsendEvent
    | HTTPResponseEarlyHintEvent
    | HTTPResponseDebugEvent
    | WebSocketAcceptEvent
    | WebSocketSendEvent
    | WebSocketResponseStartEvent
    | WebSocketResponseBodyEvent
    | WebSocketCloseEvent
    | LifespanStartupCompleteEvent
    | LifespanStartupFailedEvent
    | LifespanShutdownCompleteEvent
    | LifespanShutdownFailedEvent
)
"""Every event an application may pass to ``send``."""

ASGIReceiveCallable: TypeAlias = Callable[[], Awaitable[ASGIReceiveEvent]]
"""The ``receive`` argument of an ASGI 3 application: await it for the next event."""
ASGISendCallable: TypeAlias = Callable[[ASGISendEvent], Awaitable[None]]
"""The ``send`` argument of an ASGI 3 application: await it with each event."""


# --------------------------------------------------------------------------
# Applications.


class ASGI2Protocol(Protocol):
    """An ASGI 2 ("double callable") application class: built with the scope, then awaited."""

    def __init__(self, scope: Scope) -> None: ...

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None: ...


ASGI2Instance: TypeAlias = Callable[[ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]
"""What an ASGI 2 application returns for a scope."""

ASGI2Application: TypeAlias = Callable[[Scope], ASGI2Instance]
"""An ASGI 2 application: a class like ``ASGI2Protocol`` or any factory of instances."""

ASGI3Application: TypeAlias = Callable[
    [Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]
]
"""An ASGI 3 ("single callable") application."""

ASGIApplication: TypeAlias = ASGI2Application | ASGI3Application
"""An ASGI application of either style (``guarantee_single_callable`` makes it ASGI 3)."""
