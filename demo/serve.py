"""The demo's server process: one ASGI app under uvicorn's defaults, on 127.0.0.1.

Run by the interpreter being demonstrated (this checkout's environment, or one
holding upstream asgiref and uvicorn), from the repository root::

    python -m demo.serve --port 8001 [--lifespan on] [--app module:attribute]
                         [--append-path DIR ...]
    python -m demo.serve --describe [--append-path DIR ...]

It serves: ``/floor`` is answered by a bare ASGI app (the floor the demo compares
with), every other request and the lifespan scope go to the app
(``demo.webapp:application`` unless ``--app`` names another). Only the host,
the port and ``--lifespan`` differ from ``uvicorn.run``'s defaults.
``--describe`` prints, as one JSON line, the asgiref and uvicorn it would serve
with, and exits.

``--append-path`` adds directories at the end of ``sys.path``: an environment
with only upstream asgiref and uvicorn borrows Flask from the demo's
environment that way, while its own asgiref, found first, is the one served.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_App = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

FLOOR_PATH = "/floor"
FLOOR_BODY = b"floor\n"


async def _floor(scope: _Scope, receive: _Receive, send: _Send) -> None:
    await receive()
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(FLOOR_BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": FLOOR_BODY})


def with_floor(app: _App) -> _App:
    async def route(scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "http" and scope["path"] == FLOOR_PATH:
            await _floor(scope, receive, send)
        else:
            await app(scope, receive, send)

    return route


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--describe", action="store_true")
    parser.add_argument("--lifespan", default="auto", choices=["auto", "on", "off"])
    parser.add_argument("--app", default="demo.webapp:application")
    parser.add_argument("--append-path", action="append", default=[])
    args = parser.parse_args(argv)
    sys.path.extend(args.append_path)

    import uvicorn

    import asgiref

    if args.describe:
        identity = {
            "python": sys.version.split()[0],
            "asgiref": getattr(asgiref, "__version__", "?"),
            "asgiref_file": str(Path(asgiref.__file__ or "?").resolve()),
            "uvicorn": uvicorn.__version__,
        }
        print(json.dumps(identity), flush=True)
        return
    module, _, attribute = args.app.partition(":")
    app = getattr(importlib.import_module(module), attribute)
    uvicorn.run(with_floor(app), host="127.0.0.1", port=args.port, lifespan=args.lifespan)


if __name__ == "__main__":
    main()
