"""Turning an ASGI HTTP scope into a PEP 3333 environ."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from asgiref.wsgi._errors import RejectedRequestError
from asgiref.wsgi._errors_stream import ErrorStream

# RFC 9110 token characters; a header name made of anything else is rejected.
_TOKEN_BYTES = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Twenty digits is already far beyond any real body; longer numbers are abuse.
_MAX_LENGTH_DIGITS = 19
_NO_LIMIT = sys.maxsize


def latin1(text: str) -> str:
    """A text that arrived decoded as UTF-8, re-expressed as WSGI's latin-1."""
    return text.encode("utf-8").decode("latin-1")


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("latin-1")
    raise RejectedRequestError(400, "Bad Request: Invalid header")


def script_name_and_path_info(scope: Mapping[str, Any]) -> tuple[str, str]:
    """SCRIPT_NAME and PATH_INFO, both as latin-1 strings of the request's bytes.

    ``raw_path`` is preferred because it keeps bytes that are not UTF-8; the
    mount point is only removed at a path-segment boundary.
    """
    script_name = latin1(scope.get("root_path") or "").rstrip("/")
    raw_path = scope.get("raw_path")
    if raw_path:
        target = _as_bytes(raw_path).split(b"?", 1)[0]
        path = unquote_to_bytes(target).decode("latin-1")
    else:
        path = latin1(scope.get("path") or "/")
    if script_name and (path == script_name or path.startswith(script_name + "/")):
        path = path[len(script_name) :]
    return script_name, path


def _server_name_and_port(scope: Mapping[str, Any]) -> tuple[str, str]:
    server = scope.get("server")
    if server:
        host, port = server[0], server[1]
        # A unix socket is announced as [path, None]: the path names the server.
        return str(host), "0" if port is None else str(port)
    return "localhost", "443" if scope.get("scheme") in ("https", "wss") else "80"


def _content_length(values: list[bytes]) -> int:
    first = values[0].strip()
    if (
        not first.isdigit()
        or len(first) > _MAX_LENGTH_DIGITS
        or any(other.strip() != first for other in values[1:])
    ):
        # Where this body ends is unknown, so the rest of the connection cannot
        # be read as further requests.
        raise RejectedRequestError(400, "Bad Request: Invalid Content-Length", close=True)
    return int(first)


def _group_headers(
    headers: Iterable[Any], duplicate_limit: int | None, max_headers: int | None
) -> dict[bytes, list[bytes]]:
    """Header values by lowercased name, validated in one linear pass."""
    per_name_limit = duplicate_limit or _NO_LIMIT
    total_limit = _NO_LIMIT if max_headers is None else max_headers
    grouped: dict[bytes, list[bytes]] = {}
    for count, pair in enumerate(headers, 1):
        if count > total_limit:
            raise RejectedRequestError(431, "Request Header Fields Too Large")
        name = _as_bytes(pair[0]).lower()
        value = _as_bytes(pair[1])
        if not name or name.translate(None, _TOKEN_BYTES):
            raise RejectedRequestError(400, "Bad Request: Invalid header name")
        if b"\r" in value or b"\n" in value or b"\0" in value:
            raise RejectedRequestError(400, "Bad Request: Invalid header value")
        # X_Auth_User and X-Auth-User both become HTTP_X_AUTH_USER: keeping
        # underscore names would let a client spoof a proxy's header.
        if b"_" in name:
            continue
        values = grouped.setdefault(name, [])
        values.append(value)
        if len(values) > per_name_limit:
            raise RejectedRequestError(400, "Bad Request: Too many duplicate headers")
    return grouped


def header_environ(
    headers: Iterable[Any], duplicate_limit: int | None, max_headers: int | None
) -> tuple[dict[str, str], int | None]:
    """The CONTENT_* and HTTP_* environ entries, and the declared body length."""
    environ: dict[str, str] = {}
    content_length: int | None = None
    grouped = _group_headers(headers, duplicate_limit, max_headers)
    if b"content-length" in grouped and b"transfer-encoding" in grouped:
        # RFC 9112 6.1: the server framed the body by Transfer-Encoding, so the
        # length is a lie; a proxy in front may have believed it (smuggling).
        raise RejectedRequestError(
            400, "Bad Request: Content-Length with Transfer-Encoding", close=True
        )
    for name, values in grouped.items():
        if name == b"content-length":
            content_length = _content_length(values)
            environ["CONTENT_LENGTH"] = str(content_length)
            continue
        separator = b"; " if name == b"cookie" else b","
        value = separator.join(values).decode("latin-1")
        if name == b"content-type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.decode("latin-1").upper().replace("-", "_")] = value
    return environ, content_length


def build_environ(
    scope: Mapping[str, Any],
    body: IO[bytes],
    *,
    duplicate_limit: int | None,
    max_headers: int | None,
    file_wrapper: Any,
) -> tuple[dict[str, Any], int | None]:
    """The full environ for ``scope`` reading from ``body``, and the body length.

    Raises RejectedRequestError for requests the application must never see.
    """
    script_name, path_info = script_name_and_path_info(scope)
    server_name, server_port = _server_name_and_port(scope)
    query = scope.get("query_string") or b""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": str(scope.get("method") or "GET").upper(),
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": query.decode("latin-1") if isinstance(query, bytes) else str(query),
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": "HTTP/" + str(scope.get("http_version") or "1.1"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": str(scope.get("scheme") or "http"),
        "wsgi.input": body,
        # Our input stream always ends at the end of the body, so frameworks
        # may read to EOF even when no Content-Length was sent.
        "wsgi.input_terminated": True,
        "wsgi.errors": ErrorStream(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": file_wrapper,
        "asgi.scope": scope,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = str(client[0])
        if len(client) > 1 and client[1] is not None:
            environ["REMOTE_PORT"] = str(client[1])
    headers, content_length = header_environ(
        scope.get("headers") or (), duplicate_limit, max_headers
    )
    environ.update(headers)
    return environ, content_length
