"""The Flask application of the WSGI-under-uvicorn rows, behind each adapter.

``wsgitoasgi`` is the ``WsgiToAsgi`` of whichever asgiref the interpreter
imports (ours or upstream's); ``a2wsgi`` is ``a2wsgi.WSGIMiddleware``, with
its defaults. Routes: ``/hello``; ``/stream``, 1 MiB as sixteen 64 KiB chunks
of unknown total length (so the server sends it chunked); ``/upload``, the
request body read in 64 KiB pieces and answered with its length.
"""

from __future__ import annotations

from collections.abc import Iterator

from a2wsgi import WSGIMiddleware  # type: ignore[import-not-found,unused-ignore]
from flask import Flask, Response, request

from asgiref.wsgi import WsgiToAsgi

_CHUNK = b"x" * 65536
_STREAM_CHUNKS = 16  # 1 MiB

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return "Hello, world!\n"


@app.get("/stream")
def stream() -> Response:
    def chunks() -> Iterator[bytes]:
        for _ in range(_STREAM_CHUNKS):
            yield _CHUNK

    return Response(chunks(), mimetype="application/octet-stream")


@app.post("/upload")
def upload() -> str:
    total = 0
    while piece := request.stream.read(65536):
        total += len(piece)
    return str(total)


wsgitoasgi = WsgiToAsgi(app)
a2wsgi = WSGIMiddleware(app)
