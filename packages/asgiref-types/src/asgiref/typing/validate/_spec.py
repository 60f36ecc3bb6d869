"""The ASGI specification as data: every scope and message, key by key.

Covers ASGI 3.0, HTTP/WebSocket 2.5, lifespan 2.0 (with ``state``) and the
extensions of the ASGI extensions document plus TLS. A test compares these
tables with the TypedDicts of ``asgiref.typing`` so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asgiref.typing.validate._rules import (
    Address,
    Bool,
    Bytes,
    Choice,
    Const,
    Each,
    ExactlyOne,
    Field,
    FileDescriptor,
    HeaderPairs,
    Int,
    Nullable,
    Shape,
    StrKeyedDict,
    Text,
)

Direction = Literal["send", "receive"]

# The HTTP/WebSocket spec version a scope claims when it does not say.
DEFAULT_WWW_SPEC_VERSION = "2.0"


@dataclass(frozen=True)
class MessageSpec:
    """A message type: its protocol, who sends it, its keys, the extension it needs."""

    protocol: str
    direction: Direction
    shape: Shape
    extension: str | None = None


# --------------------------------------------------------------------------
# Values used in several places.

_REQUEST_HEADERS = HeaderPairs(lowercase_names=False)  # the spec only says "should"
_RESPONSE_HEADERS = HeaderPairs(lowercase_names=True)
_ACCEPT_HEADERS = HeaderPairs(lowercase_names=True, forbidden=(b"sec-websocket-protocol",))
_HTTP_STATUS = Int(100, 599, "an HTTP status code")
_CLOSE_CODE = Int(1000, 4999, "a WebSocket close code")
_TLS_NUMBER = Nullable(Int(0, 0xFFFF, "a 16-bit unsigned int"))
_OPTIONAL_TEXT = Field(Nullable(Text()), required=False)

ASGI_VERSIONS = Shape(
    {
        "version": Field(Choice(("2.0", "3.0"))),
        "spec_version": Field(Text(non_empty=True), required=False),
    }
)

TLS = Shape(
    {
        "server_cert": Field(Nullable(Text())),
        "client_cert_chain": Field(Each(Text(), "PEM certificates"), required=False),
        "client_cert_name": _OPTIONAL_TEXT,
        "client_cert_error": _OPTIONAL_TEXT,
        "tls_version": Field(_TLS_NUMBER),
        "cipher_suite": Field(_TLS_NUMBER),
    }
)

_MARKER = Field(StrKeyedDict(), required=False)

EXTENSIONS = Shape(
    {
        "websocket.http.response": _MARKER,
        "http.response.push": _MARKER,
        "http.response.zerocopysend": _MARKER,
        "http.response.pathsend": _MARKER,
        "http.response.early_hint": _MARKER,
        "http.response.trailers": _MARKER,
        "http.response.debug": _MARKER,
        "tls": Field(TLS, required=False),
    },
    other_values=StrKeyedDict(),
)

# Keys that HTTP and WebSocket scopes share, with the same meaning.
_CONNECTION_KEYS = {
    "asgi": Field(ASGI_VERSIONS),
    "scheme": Field(Text(non_empty=True), required=False),
    "path": Field(Text()),
    "raw_path": Field(Nullable(Bytes()), required=False),
    "root_path": Field(Text(), required=False),
    "headers": Field(_REQUEST_HEADERS),
    "client": Field(Nullable(Address(port_may_be_none=False)), required=False),
    "server": Field(Nullable(Address(port_may_be_none=True)), required=False),
    "state": Field(StrKeyedDict(), required=False),
    # Servers send None for "no extensions", as upstream's types allow.
    "extensions": Field(Nullable(EXTENSIONS), required=False),
}

# "3" is what HTTP/3 servers report; the 2.5 text predates HTTP/3 scopes.
SCOPES: dict[str, Shape] = {
    "http": Shape(
        {
            "type": Field(Const("http")),
            **_CONNECTION_KEYS,
            "http_version": Field(Choice(("1.0", "1.1", "2", "3"))),
            "method": Field(Text(non_empty=True, upper=True)),
            "query_string": Field(Bytes()),
        }
    ),
    "websocket": Shape(
        {
            "type": Field(Const("websocket")),
            **_CONNECTION_KEYS,
            "http_version": Field(Choice(("1.1", "2", "3")), required=False),
            "query_string": Field(Nullable(Bytes()), required=False),
            "subprotocols": Field(Each(Text(), "Unicode strings"), required=False),
        }
    ),
    "lifespan": Shape(
        {
            "type": Field(Const("lifespan")),
            "asgi": Field(ASGI_VERSIONS),
            "state": Field(StrKeyedDict(), required=False),
        }
    ),
}


# --------------------------------------------------------------------------
# Messages. Shapes shared by several message types are built once.

_BODY_KEYS = {
    "body": Field(Bytes(), required=False),
    "more_body": Field(Bool(), required=False),
}
_FRAME = (
    {
        "bytes": Field(Nullable(Bytes()), required=False),
        "text": Field(Nullable(Text()), required=False),
    },
    (ExactlyOne(("bytes", "text")),),
)


def _message(
    kind: str,
    protocol: str,
    direction: Direction,
    keys: dict[str, Field] | None = None,
    *,
    extension: str | None = None,
    together: tuple[ExactlyOne, ...] = (),
) -> tuple[str, MessageSpec]:
    fields = {"type": Field(Const(kind)), **(keys or {})}
    shape = Shape(fields, together=together, kind="a message dict")
    return kind, MessageSpec(protocol, direction, shape, extension)


MESSAGES: dict[str, MessageSpec] = dict(
    [
        # HTTP
        _message("http.request", "http", "receive", _BODY_KEYS),
        _message(
            "http.response.start",
            "http",
            "send",
            {
                "status": Field(_HTTP_STATUS),
                "headers": Field(_RESPONSE_HEADERS, required=False),
                "trailers": Field(
                    Bool(), required=False, extension_if_true="http.response.trailers"
                ),
            },
        ),
        _message("http.response.body", "http", "send", _BODY_KEYS),
        _message("http.disconnect", "http", "receive"),
        # HTTP extensions
        _message(
            "http.response.trailers",
            "http",
            "send",
            {
                "headers": Field(_RESPONSE_HEADERS),
                "more_trailers": Field(Bool(), required=False),
            },
            extension="http.response.trailers",
        ),
        _message(
            "http.response.push",
            "http",
            "send",
            {"path": Field(Text(non_empty=True)), "headers": Field(_RESPONSE_HEADERS)},
            extension="http.response.push",
        ),
        _message(
            "http.response.zerocopysend",
            "http",
            "send",
            {
                "file": Field(FileDescriptor()),
                "offset": Field(Int(0), required=False),
                "count": Field(Int(0), required=False),
                "more_body": Field(Bool(), required=False),
            },
            extension="http.response.zerocopysend",
        ),
        _message(
            "http.response.pathsend",
            "http",
            "send",
            {"path": Field(Text(absolute_path=True))},
            extension="http.response.pathsend",
        ),
        _message(
            "http.response.early_hint",
            "http",
            "send",
            {"links": Field(Each(Bytes(), "byte strings"))},
            extension="http.response.early_hint",
        ),
        _message(
            "http.response.debug",
            "http",
            "send",
            {"info": Field(StrKeyedDict())},
            extension="http.response.debug",
        ),
        # WebSocket
        _message("websocket.connect", "websocket", "receive"),
        _message(
            "websocket.accept",
            "websocket",
            "send",
            {
                "subprotocol": Field(Nullable(Text()), required=False),
                "headers": Field(_ACCEPT_HEADERS, required=False, since="2.1"),
            },
        ),
        _message("websocket.receive", "websocket", "receive", _FRAME[0], together=_FRAME[1]),
        _message("websocket.send", "websocket", "send", _FRAME[0], together=_FRAME[1]),
        _message(
            "websocket.disconnect",
            "websocket",
            "receive",
            {
                "code": Field(_CLOSE_CODE),
                "reason": Field(Nullable(Text()), required=False, since="2.5"),
            },
        ),
        _message(
            "websocket.close",
            "websocket",
            "send",
            {
                "code": Field(_CLOSE_CODE, required=False),
                "reason": Field(Nullable(Text()), required=False, since="2.3"),
            },
        ),
        # WebSocket denial response: the same keys as the HTTP response.
        _message(
            "websocket.http.response.start",
            "websocket",
            "send",
            {
                "status": Field(_HTTP_STATUS),
                "headers": Field(_RESPONSE_HEADERS, required=False),
            },
            extension="websocket.http.response",
        ),
        _message(
            "websocket.http.response.body",
            "websocket",
            "send",
            _BODY_KEYS,
            extension="websocket.http.response",
        ),
        # Lifespan
        _message("lifespan.startup", "lifespan", "receive"),
        _message("lifespan.startup.complete", "lifespan", "send"),
        _message(
            "lifespan.startup.failed",
            "lifespan",
            "send",
            {"message": Field(Text(), required=False)},
        ),
        _message("lifespan.shutdown", "lifespan", "receive"),
        _message("lifespan.shutdown.complete", "lifespan", "send"),
        _message(
            "lifespan.shutdown.failed",
            "lifespan",
            "send",
            {"message": Field(Text(), required=False)},
        ),
    ]
)
