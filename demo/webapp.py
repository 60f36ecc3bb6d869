"""The Flask application the demo serves, with the endpoints its checks drive.

Besides a greeting it reports how an upload reached it (while it was still
arriving, or only once complete) and can hold a streamed response open until
the client says it has the first piece, so the checks observe streaming
instead of assuming it. ``application`` is what a server is given.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator

import flask

from asgiref.wsgi import WsgiToAsgi

GREETING = "Hello from Flask, served through asgiref.wsgi.WsgiToAsgi\n"
STREAM_CHUNK = b"x" * 65536
STREAM_CHUNKS = 64
SLOW_SECONDS = 0.5
# How long a held response waits for the client's go-ahead before it goes on
# anyway: long enough for a loaded machine, short enough that an adapter that
# buffers the response only delays the report.
HOLD_SECONDS = 3.0

_lock = threading.Lock()
_upload_progress: dict[str, int] = {}
_held_streams: dict[str, tuple[threading.Event, list[str]]] = {}


def _held_stream(token: str) -> tuple[threading.Event, list[str]]:
    with _lock:
        return _held_streams.setdefault(token, (threading.Event(), ["starting"]))


def build_flask_app() -> flask.Flask:
    app = flask.Flask("asgiref-demo")

    @app.get("/")
    def hello() -> str:
        return GREETING

    @app.post("/upload")
    def upload() -> dict[str, object]:
        # Read the body in pieces as it arrives, as a streaming upload handler does.
        token = flask.request.args.get("token", "")
        digest = hashlib.sha256()
        received = 0
        stream = flask.request.stream
        while chunk := stream.read(65536):
            received += len(chunk)
            digest.update(chunk)
            with _lock:
                _upload_progress[token] = received
        return {"received": received, "sha256": digest.hexdigest()}

    @app.get("/upload-progress")
    def upload_progress() -> dict[str, int]:
        with _lock:
            return {"received": _upload_progress.get(flask.request.args.get("token", ""), 0)}

    @app.get("/stream")
    def stream() -> flask.Response:
        release, state = _held_stream(flask.request.args.get("token", ""))

        def generate() -> Iterator[bytes]:
            # "holding" from the first piece on: the client may release the
            # stream before this generator is resumed to wait.
            state[0] = "holding"
            yield STREAM_CHUNK
            released = release.wait(HOLD_SECONDS)
            state[0] = "released" if released else "gave up waiting"
            for _ in range(STREAM_CHUNKS - 1):
                yield STREAM_CHUNK

        return flask.Response(generate(), mimetype="application/octet-stream")

    @app.post("/release")
    def release() -> dict[str, str]:
        event, state = _held_stream(flask.request.args.get("token", ""))
        seen = state[0]
        event.set()
        return {"stream_was": seen}

    @app.get("/slow")
    def slow() -> dict[str, str]:
        time.sleep(SLOW_SECONDS)
        return {"thread": threading.current_thread().name}

    return app


application = WsgiToAsgi(build_flask_app())
