"""Applications served by uvicorn in the benchmark's server processes.

``wsgi`` is the WSGI adapter of whichever asgiref the interpreter imports;
``raw`` is the same response from a bare ASGI app, the floor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.wsgi import WsgiToAsgi

_BODY = b"Hello, world!\n"
_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(_BODY)))]


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", _HEADERS)
    return [_BODY]


wsgi = WsgiToAsgi(hello)


async def raw(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(k.lower().encode(), v.encode()) for k, v in _HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": _BODY})
