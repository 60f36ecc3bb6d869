"""The ASGI application of the ASGI-under-gunicorn rows, behind each adapter.

``asgitowsgi`` is ``asgiref.wsgi.AsgiToWsgi`` (ours only: upstream has none);
``a2wsgi`` is ``a2wsgi.ASGIMiddleware``. Routes: ``/hello``, and ``/stream``,
1 MiB sent as sixteen 64 KiB ``http.response.body`` messages. Each name
imports only its own adapter when the server asks for it, as a deployment
does: the other library's modules would otherwise be in both sides' peak RSS.
``asgitowsgi`` fails while ``AsgiToWsgi`` does not exist; ``e2e.py`` checks
first and skips the rows with a line saying so.
"""

from __future__ import annotations

from typing import Any

_HELLO = b"Hello, world!\n"
_CHUNK = b"x" * 65536
_STREAM_CHUNKS = 16


async def _lifespan(receive: Any, send: Any) -> None:
    # Nothing to set up or tear down: acknowledge startup, then shutdown.
    for reply in ("lifespan.startup.complete", "lifespan.shutdown.complete"):
        await receive()
        await send({"type": reply})


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["path"] == "/stream":
        headers = [(b"content-type", b"application/octet-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for _ in range(_STREAM_CHUNKS):
            await send({"type": "http.response.body", "body": _CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(_HELLO))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _HELLO})


def __getattr__(name: str) -> Any:
    # PEP 562: gunicorn looks the application up with getattr.
    if name == "asgitowsgi":
        from asgiref.wsgi import AsgiToWsgi  # type: ignore[attr-defined,unused-ignore]

        adapter: Any = AsgiToWsgi(app)
    elif name == "a2wsgi":
        from a2wsgi import ASGIMiddleware  # type: ignore[import-not-found,unused-ignore]

        adapter = ASGIMiddleware(app)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = adapter
    return adapter
