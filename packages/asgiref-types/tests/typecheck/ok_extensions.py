"""Every extension message and the typed ``extensions`` mapping, including TLS data."""

from __future__ import annotations

from typing import BinaryIO, get_args

from asgiref.typing import (
    ASGI2Protocol,
    ASGIApplication,
    ASGIReceiveCallable,
    ASGISendCallable,
    ASGISendEvent,
    ExtensionName,
    HTTPResponseDebugEvent,
    HTTPResponseEarlyHintEvent,
    HTTPResponsePathsendEvent,
    HTTPResponseZeroCopySendEvent,
    HTTPScope,
    HTTPServerPushEvent,
    Scope,
    ScopeExtensions,
    TLSExtension,
)


def client_name(scope: HTTPScope) -> str | None:
    # Annotated, the entry is precise under mypy too (which sees values as Any).
    tls: TLSExtension | None = (scope.get("extensions") or {}).get("tls")
    if tls is None:
        return None
    chain = list(tls.get("client_cert_chain", []))
    version = tls["tls_version"]
    suite = tls["cipher_suite"]
    print(len(chain), version, suite, tls["server_cert"], tls.get("client_cert_error"))
    return tls.get("client_cert_name")


def advertised(scope: HTTPScope, name: ExtensionName) -> bool:
    return name in (scope.get("extensions") or {})


async def serve_file(scope: HTTPScope, send: ASGISendCallable, path: str, file: BinaryIO) -> None:
    await send({"type": "http.response.start", "status": 200})
    if advertised(scope, "http.response.early_hint"):
        await send({"type": "http.response.early_hint", "links": [b"</style.css>; rel=preload"]})
    if advertised(scope, "http.response.push"):
        await send({"type": "http.response.push", "path": "/style.css", "headers": []})
    if advertised(scope, "http.response.pathsend"):
        await send({"type": "http.response.pathsend", "path": path})
        return
    if advertised(scope, "http.response.zerocopysend"):
        await send({"type": "http.response.zerocopysend", "file": file, "count": 10})
        await send({"type": "http.response.zerocopysend", "file": file, "offset": 10})
        return
    await send({"type": "http.response.body", "body": b"..."})


def messages(file_name: str) -> list[ASGISendEvent]:
    debug: HTTPResponseDebugEvent = {
        "type": "http.response.debug",
        "info": {"template": "index.html", "context": {"user": None}},
    }
    hint: HTTPResponseEarlyHintEvent = {"type": "http.response.early_hint", "links": []}
    push: HTTPServerPushEvent = {"type": "http.response.push", "path": "/", "headers": []}
    path: HTTPResponsePathsendEvent = {"type": "http.response.pathsend", "path": file_name}
    with open(file_name, "rb") as handle:
        zero: HTTPResponseZeroCopySendEvent = {"type": "http.response.zerocopysend", "file": handle}
        return [debug, hint, push, path, zero]


def a_tls_scope() -> HTTPScope:
    tls: TLSExtension = {"server_cert": None, "tls_version": 0x0304, "cipher_suite": 0x1301}
    extensions: ScopeExtensions = {
        "tls": tls,
        "http.response.trailers": {},
        "http.response.debug": {},
        "websocket.http.response": {},
    }
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.5"},
        "http_version": "2",
        "method": "GET",
        "scheme": "https",
        "path": "/",
        "raw_path": None,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example.org")],
        "client": ("127.0.0.1", 5000),
        "server": ("/run/app.sock", None),
        "state": {},
        "extensions": extensions,
    }


KNOWN: tuple[str, ...] = get_args(ExtensionName)


class Legacy:
    """An ASGI 2 application: the class is called with the scope, the instance is awaited."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body"})


legacy: ASGIApplication = Legacy
protocol_class: type[ASGI2Protocol] = Legacy


def custom_extension(scope: HTTPScope) -> object:
    # Servers may advertise extensions this package does not know.
    extensions = scope.get("extensions") or {}
    if "fullflush" in extensions:
        return extensions.get("fullflush")
    return None


def open_extension_names() -> list[HTTPScope]:
    # Extension names are open: a server advertises its own next to known ones,
    # or sends None for "none at all".
    own: ScopeExtensions = {"fullflush": {}, "http.response.pathsend": {}}
    own["x-server.metrics"] = {"level": 3}
    bare = a_tls_scope()
    bare["extensions"] = None
    return [
        {**a_tls_scope(), "extensions": own},
        {**a_tls_scope(), "extensions": {"fullflush": {}, "tls": a_tls_scope_tls()}},
        bare,
    ]


def a_tls_scope_tls() -> TLSExtension:
    return {"server_cert": "PEM", "tls_version": None, "cipher_suite": None}
