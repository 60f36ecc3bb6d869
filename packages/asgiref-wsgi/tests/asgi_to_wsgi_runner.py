"""Serves a WSGI app with waitress or wsgiref, for the AsgiToWsgi server tests.

``python asgi_to_wsgi_runner.py waitress|wsgiref PORT module:attribute``; binds
127.0.0.1 only. SIGTERM ends it as an ordinary interpreter exit (so atexit
handlers run), which Python's default SIGTERM handling would not do.
"""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import threading
from typing import Any, NoReturn


def _exit_cleanly(signum: int, frame: Any) -> NoReturn:
    raise SystemExit(0)


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _serve_wsgiref(app: Any, port: int) -> None:
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with make_server("127.0.0.1", port, app, handler_class=QuietHandler) as server:
        # serve_forever in a thread: the main thread stays free for the signal.
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            thread.join()
        finally:
            server.shutdown()


def _serve_waitress(app: Any, port: int) -> None:
    import waitress  # type: ignore[import-not-found, import-untyped, unused-ignore]

    # A body as large as the upload test's must be accepted (the default limit
    # is exactly 1 GiB); waitress spools it to disk either way.
    waitress.serve(app, host="127.0.0.1", port=port, threads=8, max_request_body_size=4 << 30)


def main(kind: str, port: str, target: str) -> None:
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # What the adapter logs must reach the server's log, as under gunicorn.
    logging.basicConfig(level=logging.INFO)
    app = _load(target)
    if kind == "wsgiref":
        _serve_wsgiref(app, int(port))
    elif kind == "waitress":
        _serve_waitress(app, int(port))
    else:
        raise SystemExit(f"unknown server {kind!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
