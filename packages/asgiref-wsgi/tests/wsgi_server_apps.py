"""WSGI apps served through WsgiToAsgi by real ASGI servers in the tests.

Imported by uvicorn/hypercorn in a subprocess (``wsgi_server_apps:application``);
not a test module itself.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from flask import Flask, Response, jsonify, request, send_file, stream_with_context
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from asgiref.wsgi import WsgiToAsgi

Environ = dict[str, Any]
MIB = 1 << 20


def _query(environ: Environ, name: str, default: str) -> str:
    values: list[str] = parse_qs(environ.get("QUERY_STRING", "")).get(name, [default])
    return values[0]


def _text(start_response: Any, text: str, status: str = "200 OK") -> list[bytes]:
    data = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


class _ProbeBody:
    """A long response that leaves a marker file when the server closes it."""

    def __init__(self, marker: Path) -> None:
        self._marker = marker

    def __iter__(self) -> Iterator[bytes]:
        chunk = b"p" * 65536
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            yield chunk

    def close(self) -> None:
        # Appended, so that a second close() shows up as a second line.
        with self._marker.open("a") as sink:
            sink.write("closed\n")


class _FailingClose:
    """A whole response whose close() then raises (a cleanup bug in the app)."""

    def __init__(self, chunks: list[bytes], marker: Path | None) -> None:
        self._chunks = chunks
        self._marker = marker

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    def close(self) -> None:
        if self._marker is not None:
            with self._marker.open("a") as sink:
                sink.write("close\n")
        raise RuntimeError("deliberate failure in close()")


def _close_raises(environ: Environ, start_response: Any) -> Iterable[bytes]:
    """``?length=1`` declares a Content-Length, ``?stop=1`` declares less than is produced."""
    chunks = [b"first,", b"second,", b"third"]
    headers = [("Content-Type", "text/plain")]
    if _query(environ, "length", ""):
        headers.append(("Content-Length", str(sum(map(len, chunks)))))
    if _query(environ, "stop", ""):
        headers.append(("Content-Length", "6"))
    marker = _query(environ, "marker", "")
    start_response("200 OK", headers)
    return _FailingClose(chunks, Path(marker) if marker else None)


class _RaisingBody:
    def __init__(self, phase: str, marker: str) -> None:
        self._phase = phase
        self._marker = marker

    def __iter__(self) -> Iterator[bytes]:
        if self._phase == "first-chunk":
            raise RuntimeError("deliberate failure before the first chunk")
        yield b"partial"
        raise RuntimeError("deliberate failure after the first chunk")

    def close(self) -> None:
        if self._marker:
            with Path(self._marker).open("a") as sink:
                sink.write("closed\n")


def _raise_at(environ: Environ, start_response: Any) -> Iterable[bytes]:
    """An app failing at the phase named by ``?phase=``: call, first-chunk or later-chunk."""
    phase = _query(environ, "phase", "call")
    if phase == "call":
        raise RuntimeError("deliberate failure in the application call")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _RaisingBody(phase, _query(environ, "marker", ""))


class _ThreadProbe:
    """Records the thread of each PEP 3333 step, written out by close()."""

    def __init__(self, marker: Path, threads: list[int]) -> None:
        self._marker = marker
        self._threads = threads

    def __iter__(self) -> Iterator[bytes]:
        self._threads.append(threading.get_ident())
        yield b"probed"

    def close(self) -> None:
        self._threads.append(threading.get_ident())
        self._marker.write_text(" ".join(map(str, self._threads)))


def _thread_probe(environ: Environ, start_response: Any) -> Iterable[bytes]:
    threads = [threading.get_ident()]

    def recording_start_response(*args: Any) -> Any:
        threads.append(threading.get_ident())
        return start_response(*args)

    recording_start_response("200 OK", [("Content-Type", "text/plain")])
    return _ThreadProbe(Path(_query(environ, "marker", "")), threads)


def _exc_info_app(environ: Environ, start_response: Any) -> Iterable[bytes]:
    """Starts a 200, fails before any body, and replaces it with a 503 (exc_info)."""
    write = start_response("200 OK", [("X-First", "yes")])
    try:
        raise LookupError("the view failed")
    except LookupError:
        write = start_response("503 Service Unavailable", [("X-Second", "yes")], sys.exc_info())
    write(b"replaced ")
    return [b"by exc_info"]


def _echo_lines(environ: Environ, start_response: Any) -> Iterator[bytes]:
    """Streams each line of the body back as soon as it was read."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    yield from environ["wsgi.input"]


def plain_app(environ: Environ, start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/hello":
        return _text(start_response, "hello")
    if path == "/upload":
        stream = environ["wsgi.input"]
        total = 0
        while chunk := stream.read(MIB):
            total += len(chunk)
        return _text(start_response, str(total))
    if path == "/stream":
        size = int(_query(environ, "size", "0"))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _stream(size, int(_query(environ, "chunk", str(65536))))
    if path == "/sleep":
        time.sleep(float(_query(environ, "seconds", "0.5")))
        return _text(start_response, "slept")
    if path == "/close-probe":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _ProbeBody(Path(_query(environ, "marker", "")))
    if path == "/read-probe":
        marker = Path(_query(environ, "marker", ""))
        try:
            environ["wsgi.input"].read()
        except OSError as error:
            marker.write_text(type(error).__name__)
            raise
        return _text(start_response, "read all")
    if path == "/close-raises":
        return _close_raises(environ, start_response)
    if path == "/raise":
        return _raise_at(environ, start_response)
    if path == "/thread-probe":
        return _thread_probe(environ, start_response)
    if path == "/exc-info":
        return _exc_info_app(environ, start_response)
    if path == "/echo-lines":
        return _echo_lines(environ, start_response)
    if path == "/latin1":
        disposition = 'attachment; filename="caf\u00e9.txt"'
        start_response("200 OK", [("Content-Disposition", disposition), ("Content-Length", "2")])
        return [b"ok"]
    if path.startswith("/environ"):
        keys = sorted(k for k, v in environ.items() if isinstance(v, str))
        return _text(start_response, json.dumps({k: environ[k] for k in keys}))
    return _text(start_response, "not found", "404 Not Found")


def _stream(size: int, chunk_size: int) -> Iterator[bytes]:
    chunk = b"s" * chunk_size
    full, rest = divmod(size, chunk_size)
    for _ in range(full):
        yield chunk
    if rest:
        yield chunk[:rest]


flask_app = Flask(__name__)


@flask_app.get("/hello")
def flask_hello() -> str:
    return "Hello from Flask"


@flask_app.post("/echo")
def flask_echo() -> Response:
    data = request.get_data()
    return Response(data, mimetype="application/octet-stream")


@flask_app.post("/form")
def flask_form() -> Response:
    upload = request.files["file"]
    return jsonify(name=request.form["name"], size=len(upload.read()))


@flask_app.get("/info")
def flask_info() -> Response:
    return jsonify(script_root=request.script_root, path=request.path, args=request.args.to_dict())


@flask_app.get("/file")
def flask_file() -> Response:
    return send_file(Path(__file__), mimetype="text/plain")


@flask_app.get("/stream")
def flask_stream() -> Response:
    def generate() -> Iterator[str]:
        for number in range(5):
            yield f"line {number}\n"

    return Response(stream_with_context(generate()), mimetype="text/plain")


@flask_app.get("/error")
def flask_error() -> str:
    raise RuntimeError("deliberate failure inside a Flask view")


application = WsgiToAsgi(DispatcherMiddleware(plain_app, {"/flask": flask_app}))

# For the timeout and size-limit tests: gives up on a silent client after two
# seconds and takes bodies of at most 4 MiB.
short_timeout_application = WsgiToAsgi(plain_app, client_timeout=2.0, max_body_size=4 * MIB)
