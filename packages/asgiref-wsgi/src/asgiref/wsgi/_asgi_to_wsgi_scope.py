"""The ASGI HTTP scope of a WSGI request, as an ASGI server would build it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_to_bytes

if TYPE_CHECKING:
    from asgiref.typing import HTTPScope

# Characters that stay as they are in a request target's path (RFC 3986 pchar
# plus "/"), for rebuilding raw_path when the server does not give the original.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_UNPREFIXED = {"CONTENT_TYPE": b"content-type", "CONTENT_LENGTH": b"content-length"}


def _latin1(text: str) -> bytes:
    # PEP 3333 native strings hold the request's bytes one character each.
    return text.encode("latin-1", "replace")


def _http_version(protocol: str) -> str:
    version = protocol.partition("/")[2]
    return {"2.0": "2", "3.0": "3"}.get(version, version or "1.1")


def _raw_path(environ: Mapping[str, Any], path_bytes: bytes) -> bytes:
    """The request target's path as sent, when the server kept it and it agrees."""
    for key in ("RAW_URI", "REQUEST_URI"):
        target = environ.get(key)
        if not isinstance(target, str) or not target:
            continue
        raw = _latin1(target).partition(b"?")[0]
        if not raw.startswith(b"/") and b"://" in raw:
            # absolute-form ("http://host/path"): the path starts after the authority
            raw = b"/" + raw.partition(b"://")[2].partition(b"/")[2]
        # A rewritten URL (mod_rewrite, a proxy) no longer names this path.
        if unquote_to_bytes(raw) == path_bytes:
            return raw
    return quote(path_bytes, safe=_PATH_SAFE).encode("ascii")


def _headers(environ: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = _latin1(key[5:].replace("_", "-").lower())
        elif key in _UNPREFIXED and value:
            name = _UNPREFIXED[key]
        else:
            continue
        headers.append((name, _latin1(str(value))))
    return headers


def _port(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def build_scope(environ: Mapping[str, Any], state: dict[str, Any], *, pathsend: bool) -> HTTPScope:
    """The ``http`` scope of ``environ``; ``state`` is copied, not shared."""
    root_bytes = _latin1(environ.get("SCRIPT_NAME", ""))
    path_bytes = root_bytes + _latin1(environ.get("PATH_INFO", ""))
    client_host = environ.get("REMOTE_ADDR")
    # wsgiref gives no REMOTE_PORT; the host alone is still worth having.
    client = (client_host, _port(environ.get("REMOTE_PORT")) or 0) if client_host else None
    server_port = _port(environ.get("SERVER_PORT", ""))
    server = (environ.get("SERVER_NAME", ""), server_port) if "SERVER_NAME" in environ else None
    scope: HTTPScope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": _http_version(environ.get("SERVER_PROTOCOL", "")),
        "method": environ.get("REQUEST_METHOD", "GET").upper(),
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": path_bytes.decode("utf-8", "replace"),
        "raw_path": _raw_path(environ, path_bytes),
        "query_string": _latin1(environ.get("QUERY_STRING", "")),
        "root_path": root_bytes.decode("utf-8", "replace"),
        "headers": _headers(environ),
        "client": client,
        "server": server,
        "state": dict(state),
        "extensions": {"http.response.pathsend": {}} if pathsend else {},
    }
    return scope
