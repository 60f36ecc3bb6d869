"""WSGI apps served through WsgiToAsgi by real ASGI servers in the tests.

Imported by uvicorn/hypercorn in a subprocess (``wsgi_server_apps:application``);
not a test module itself.
"""

from __future__ import annotations

import json
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
        self._marker.write_text("closed")


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
