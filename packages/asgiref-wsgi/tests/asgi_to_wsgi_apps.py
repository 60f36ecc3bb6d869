"""ASGI apps served through AsgiToWsgi by real WSGI servers in the tests.

Imported by gunicorn, waitress and wsgiref in a subprocess
(``asgi_to_wsgi_apps:application``); not a test module itself. The hand-written
app below covers each point of the adapter's contract and reports what it saw
(as JSON, or in a marker file named in the query string, for what happens after
the client has left); a Starlette app and Django's ASGI handler (settings made
in code, no database) are mounted beside it, each through its own AsgiToWsgi.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import django  # type: ignore[import-not-found, import-untyped, unused-ignore]
from django.conf import settings  # type: ignore[import-not-found, import-untyped, unused-ignore]
from django.core.asgi import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
    get_asgi_application,
)
from django.http import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path as django_path  # type: ignore[import-not-found, import-untyped, unused-ignore]
from starlette.applications import Starlette  # type: ignore[import-not-found, unused-ignore]
from starlette.concurrency import run_in_threadpool  # type: ignore[import-not-found, unused-ignore]
from starlette.responses import (  # type: ignore[import-not-found, unused-ignore]
    JSONResponse,
    PlainTextResponse,
    StreamingResponse,
)
from starlette.routing import Route  # type: ignore[import-not-found, unused-ignore]

from asgiref.wsgi import AsgiToWsgi

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_MIB = 1 << 20
# Everything the app waits for ends by itself, so a defect in the adapter shows
# as a failed assertion in the test rather than a server busy forever.
_WAIT_LIMIT = 10.0


def _query(scope: Scope, name: str, default: str = "") -> str:
    values = parse_qs(scope["query_string"].decode("latin-1")).get(name, [default])
    return str(values[0])


def _route(scope: Scope) -> str:
    """The path below the mount point, whether or not ``path`` includes ``root_path``."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _note(marker: str, line: str) -> None:
    """Append one line to a marker file the test reads (the app outlives the response)."""
    if marker:
        with Path(marker).open("a") as sink:
            sink.write(line + "\n")


async def _wait_for_file(path: str) -> bool:
    deadline = time.monotonic() + _WAIT_LIMIT
    while time.monotonic() < deadline:
        if _exists(path):
            return True
        await asyncio.sleep(0.02)
    return False


async def _read_body(receive: Receive) -> dict[str, Any]:
    """The whole request body, summarised: how it arrived and what it was."""
    digest = hashlib.sha256()
    total = chunks = max_chunk = 0
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        body: bytes = message.get("body", b"")
        digest.update(body)
        total += len(body)
        chunks += 1
        max_chunk = max(max_chunk, len(body))
        if not message.get("more_body", False):
            break
    return {"total": total, "chunks": chunks, "max_chunk": max_chunk, "sha256": digest.hexdigest()}


async def _respond(
    send: Send,
    body: bytes,
    status: int = 200,
    content_type: bytes = b"text/plain",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    head = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": body})


async def _respond_json(send: Send, data: object) -> None:
    await _respond(send, json.dumps(data).encode(), content_type=b"application/json")


def _describe_scope(scope: Scope) -> dict[str, Any]:
    def text(value: bytes) -> str:
        return value.decode("latin-1")

    return {
        "type": scope["type"],
        "asgi": scope["asgi"],
        "http_version": scope["http_version"],
        "method": scope["method"],
        "scheme": scope["scheme"],
        "path": scope["path"],
        "raw_path": text(scope["raw_path"]) if scope.get("raw_path") is not None else None,
        "root_path": scope.get("root_path"),
        "query_string": text(scope["query_string"]),
        "query_string_is_bytes": isinstance(scope["query_string"], bytes),
        "headers": [[text(name), text(value)] for name, value in scope["headers"]],
        "headers_are_bytes": all(
            isinstance(n, bytes) and isinstance(v, bytes) for n, v in scope["headers"]
        ),
        "client": list(scope["client"]) if scope.get("client") else None,
        "server": list(scope["server"]) if scope.get("server") else None,
        "extensions": sorted(scope.get("extensions") or {}),
        "has_state": "state" in scope,
    }


async def _scope(scope: Scope, receive: Receive, send: Send) -> None:
    body = await _read_body(receive)
    await _respond_json(send, {"scope": _describe_scope(scope), "body": body})


async def _status(scope: Scope, receive: Receive, send: Send) -> None:
    await _respond(send, b"", status=int(_query(scope, "code", "200")))


async def _headers(scope: Scope, receive: Receive, send: Send) -> None:
    extra = [
        (b"x-first", b"1"),
        (b"set-cookie", b"a=1; Path=/"),
        (b"set-cookie", b"b=2; Path=/"),
        (b"x-latin", "café".encode("latin-1")),
        (b"X-Mixed-Case", b"kept"),
    ]
    await _respond(send, b"headers", status=201, headers=extra)


async def _stream(scope: Scope, receive: Receive, send: Send) -> None:
    count, size = int(_query(scope, "chunks", "10")), int(_query(scope, "size", "1000"))
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for index in range(count):
        chunk = bytes([65 + index % 26]) * size
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _big(scope: Scope, receive: Receive, send: Send) -> None:
    # One chunk object sent again and again: the app itself holds 1 MiB at most,
    # so any growth of the process is the adapter's or the server's.
    total, chunk = int(_query(scope, "size")), b"b" * _MIB
    length = str(total).encode()
    headers = [(b"content-type", b"application/octet-stream"), (b"content-length", length)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    sent = 0
    while sent < total:
        piece = chunk if total - sent >= len(chunk) else chunk[: total - sent]
        sent += len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": sent < total})


async def _sink(scope: Scope, receive: Receive, send: Send) -> None:
    await _respond_json(send, await _read_body(receive))


async def _sse(scope: Scope, receive: Receive, send: Send) -> None:
    # The second event waits until the test saw the first one: if the adapter
    # held the first back, the test never sees it in time and the app says so.
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"data: first\n\n", "more_body": True})
    outcome = "released" if await _wait_for_file(_query(scope, "release")) else "timeout"
    await send({"type": "http.response.body", "body": f"data: {outcome}\n\n".encode()})


async def _cleanup(scope: Scope, receive: Receive, send: Send) -> None:
    """Streams until the client is gone, then records how the app learnt it.

    mode=receive: a well-behaved app that listens for ``http.disconnect``;
    mode=send: an app that never calls receive(), so only its send() or a
    cancellation can stop it.
    """
    marker, mode = _query(scope, "marker"), _query(scope, "mode", "receive")
    disconnected = asyncio.Event()

    async def listen() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        _note(marker, "disconnect")
        disconnected.set()

    listener = asyncio.ensure_future(listen()) if mode == "receive" else None
    outcome = "ended without noticing the client left"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    deadline = time.monotonic() + 2 * _WAIT_LIMIT
    try:
        while time.monotonic() < deadline and not disconnected.is_set():
            await send({"type": "http.response.body", "body": b"c" * 16384, "more_body": True})
            await asyncio.sleep(0.001)
        if disconnected.is_set():
            outcome = "stopped streaming"
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    except OSError as error:
        outcome = f"send raised {type(error).__name__}"
    finally:
        if listener is not None:
            listener.cancel()
        _note(marker, outcome)


async def _stubborn(scope: Scope, receive: Receive, send: Send) -> None:
    """Streams, then ignores the client leaving, errors and cancellation for a while.

    It ends by itself one second after it was cancelled, so that it is gone
    before the server stops (at most after twice _WAIT_LIMIT).
    """
    marker, ignored = _query(scope, "marker"), set()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    deadline = time.monotonic() + 2 * _WAIT_LIMIT
    while time.monotonic() < deadline:
        try:
            await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": b"s" * 16384, "more_body": True})
        except BaseException as error:  # ignoring everything is the point
            if type(error).__name__ not in ignored:
                ignored.add(type(error).__name__)
                _note(marker, type(error).__name__)
            if isinstance(error, asyncio.CancelledError):
                deadline = min(deadline, time.monotonic() + 1)
    _note(marker, "stubborn app ended")


async def _after(scope: Scope, receive: Receive, send: Send) -> None:
    # After a complete response, receive() must say the exchange is over.
    marker = _query(scope, "marker")
    await _read_body(receive)
    await _respond(send, b"done")
    try:
        message = await asyncio.wait_for(receive(), _WAIT_LIMIT)
        _note(marker, message["type"])
    except asyncio.TimeoutError:
        _note(marker, "receive() still waiting")


async def _upload_probe(scope: Scope, receive: Receive, send: Send) -> None:
    # What receive() says when the client leaves halfway through its body.
    marker, total = _query(scope, "marker"), 0
    while True:
        message = await receive()
        total += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    _note(marker, f"{message['type']} after {total} bytes")
    await _respond(send, b"read")


async def _error_before(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("raw app failed before its response")


async def _error_after(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-length", b"100")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"x" * 10, "more_body": True})
    raise RuntimeError("raw app failed during its response")


async def _sleep(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.sleep(float(_query(scope, "seconds", "1")))
    await _respond(send, b"slept")


async def _pathsend(scope: Scope, receive: Receive, send: Send) -> None:
    path = _query(scope, "file")
    content = _read(path)
    if "http.response.pathsend" in (scope.get("extensions") or {}):
        headers = [(b"content-length", str(len(content)).encode()), (b"x-sent-by", b"pathsend")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": path})
    else:
        await _respond(send, content, headers=[(b"x-sent-by", b"body")])


def _read(path: str) -> bytes:
    # Small local test files: reading them on the loop costs less than a thread hop.
    return Path(path).read_bytes()


def _exists(path: str) -> bool:
    return Path(path).exists()


async def _state(scope: Scope, receive: Receive, send: Send) -> None:
    state: dict[str, Any] = scope["state"]
    report = {"keys": sorted(state), "hits": len(state["hits"]), "pid": state["pid"]}
    # Shallow copy: a new key stays in this request, a shared object is shared.
    state["set_by_a_request"] = True
    state["hits"].append(1)
    await _respond_json(send, report)


async def _loop(scope: Scope, receive: Receive, send: Send) -> None:
    await _respond_json(
        send,
        {
            "pid": os.getpid(),
            "loop": id(asyncio.get_running_loop()),
            "thread": threading.get_ident(),
            "started_in": scope["state"]["pid"],
        },
    )


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    await _respond(send, b"hello")


_ROUTES: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {
    "/": _hello,
    "/status": _status,
    "/headers": _headers,
    "/stream": _stream,
    "/big": _big,
    "/sink": _sink,
    "/sse": _sse,
    "/cleanup": _cleanup,
    "/stubborn": _stubborn,
    "/after": _after,
    "/upload-probe": _upload_probe,
    "/error-before": _error_before,
    "/error-after": _error_after,
    "/sleep": _sleep,
    "/pathsend": _pathsend,
    "/state": _state,
    "/loop": _loop,
}


async def _in_a_thread(function: Callable[..., None], *args: Any) -> None:
    """Run blocking cleanup in a thread, as apps close connection pools at shutdown.

    Where the interpreter lets no exit hook start a thread (CPython 3.12.0 and
    3.12.1, gh-113964) the test asks for it to run inline instead.
    """
    if os.environ.get("A2W_SHUTDOWN_INLINE"):
        function(*args)
    else:
        await asyncio.get_running_loop().run_in_executor(None, function, *args)


async def _lifespan(receive: Receive, send: Send, state: dict[str, Any]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            state.update(pid=os.getpid(), hits=[], started=True)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            marker, line = os.environ.get("A2W_SHUTDOWN_MARKER", ""), f"shutdown {os.getpid()}"
            await _in_a_thread(_note, marker, line)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, scope["state"])
        return
    name = _route(scope)
    handler = _ROUTES.get(name) or (_scope if name.startswith("/scope") else None)
    if handler is None:
        await _respond(send, b"not found", status=404)
        return
    await handler(scope, receive, send)


async def _failing_startup_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "database unreachable: a2w-42"})
        return
    await _respond(send, b"served although startup failed")


class _Asgi2App:
    """An ASGI 2 (double-callable) app: the adapter must accept it as well."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    async def __call__(self, receive: Receive, send: Send) -> None:
        if self._scope["type"] == "lifespan":
            raise ValueError("no lifespan here")
        await _respond(send, f"asgi2 {self._scope['method']}".encode())


async def _no_lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        raise ValueError(f"this app does not speak {scope['type']!r}")
    await _respond(send, b"served without lifespan")


def _mount(routes: dict[str, WSGIApp], default: WSGIApp) -> WSGIApp:
    """Dispatch on the first path segment, moving it into SCRIPT_NAME as mounts do."""

    def dispatch(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        prefix = "/" + path.split("/", 2)[1] if path.count("/") else ""
        app = routes.get(prefix)
        if app is None:
            return default(environ, start_response)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
        environ["PATH_INFO"] = path[len(prefix) :]
        return app(environ, start_response)

    return dispatch


# -- Starlette: lifespan state, streaming, server-sent events ----------------


@contextlib.asynccontextmanager
async def _starlette_lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    yield {"greeting": "hello from the lifespan", "started_in": os.getpid()}
    # Blocking cleanup in Starlette's thread pool, as apps dispose of engines.
    marker, line = os.environ.get("A2W_SHUTDOWN_MARKER", ""), f"starlette shutdown {os.getpid()}"
    if os.environ.get("A2W_SHUTDOWN_INLINE"):
        _note(marker, line)
    else:
        await run_in_threadpool(_note, marker, line)


async def _starlette_hello(request: Any) -> Any:
    return PlainTextResponse(request.state.greeting)


async def _starlette_where(request: Any) -> Any:
    return JSONResponse(
        {
            "url_path": request.url.path,
            "root_path": request.scope.get("root_path"),
            "url_for": str(request.url_for("where")),
            "query": dict(request.query_params),
        }
    )


async def _starlette_echo(request: Any) -> Any:
    digest, total = hashlib.sha256(), 0
    async for chunk in request.stream():
        digest.update(chunk)
        total += len(chunk)
    return JSONResponse({"total": total, "sha256": digest.hexdigest()})


async def _starlette_stream(request: Any) -> Any:
    async def lines() -> AsyncIterator[bytes]:
        for number in range(20):
            yield f"line {number}\n".encode()
            await asyncio.sleep(0)

    return StreamingResponse(lines(), media_type="text/plain")


async def _released_events(release: str) -> AsyncIterator[str]:
    yield "data: first\n\n"
    yield f"data: {'released' if await _wait_for_file(release) else 'timeout'}\n\n"


async def _starlette_sse(request: Any) -> Any:
    events = _released_events(request.query_params["release"])
    return StreamingResponse(events, media_type="text/event-stream")


def _starlette_app() -> Any:
    return Starlette(
        routes=[
            Route("/", _starlette_hello),
            Route("/where", _starlette_where, name="where"),
            Route("/echo", _starlette_echo, methods=["POST"]),
            Route("/stream", _starlette_stream),
            Route("/sse", _starlette_sse),
        ],
        lifespan=_starlette_lifespan,
    )


# -- Django: its ASGI handler with an async and a sync view ------------------


def _django_report(request: Any, kind: str) -> Any:
    return JsonResponse(
        {
            "kind": kind,
            "method": request.method,
            "path": request.path,
            "path_info": request.path_info,
            "script_name": request.META.get("SCRIPT_NAME"),
            "query": request.GET.get("q"),
            "body": len(request.body),
            "content_type": request.META.get("CONTENT_TYPE"),
            "header": request.headers.get("X-Probe"),
            "thread": threading.current_thread().name,
        }
    )


async def _django_async(request: Any) -> Any:
    await asyncio.sleep(0)
    return _django_report(request, "async")


def _django_sync(request: Any) -> Any:
    return _django_report(request, "sync")


async def _django_sse(request: Any) -> Any:
    events = _released_events(request.GET["release"])
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    return response


def _django_app() -> Any:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="asgi-to-wsgi-tests",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()
    return get_asgi_application()


urlpatterns = [
    django_path("async", _django_async),
    django_path("sync", _django_sync),
    django_path("sse", _django_sse),
]


def _build() -> WSGIApp:
    raw = AsgiToWsgi(_raw_app)
    return _mount(
        {
            "/mounted": raw,
            # Short limits, so tests need not wait the defaults (5 s, 60 s) to
            # see a stubborn app cancelled or a silent one answered.
            "/impatient": AsgiToWsgi(_raw_app, disconnect_grace=0.5, message_timeout=1.0),
            "/asgi2": AsgiToWsgi(_Asgi2App),
            "/starlette": AsgiToWsgi(_starlette_app()),
            "/django": AsgiToWsgi(_django_app()),
            "/startup-fails": AsgiToWsgi(_failing_startup_app),
            "/no-lifespan": AsgiToWsgi(_no_lifespan_app),
        },
        raw,
    )


application = _build()


def _warm_up_before_fork() -> None:
    """Serve one request in the importing process (gunicorn --preload's arbiter).

    The adapter's loop thread and the app's lifespan then exist before the
    workers fork: each worker must still serve, with a loop of its own.
    """
    from wsgiref.util import setup_testing_defaults

    environ: Environ = {"PATH_INFO": "/loop"}
    setup_testing_defaults(environ)
    statuses: list[str] = []
    result = application(environ, lambda status, headers, *_: statuses.append(status))
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    assert statuses == ["200 OK"], (statuses, body)
    _note(os.environ.get("A2W_PRELOAD_MARKER", ""), body.decode())


if os.environ.get("A2W_WARM_UP_BEFORE_FORK"):
    _warm_up_before_fork()
