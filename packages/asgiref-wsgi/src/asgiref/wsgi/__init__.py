"""Run WSGI applications under ASGI servers, and ASGI applications under WSGI servers.

``WsgiToAsgi(wsgi_app)`` is an ASGI 3 application: requests run concurrently
on a bounded thread pool, request and response bodies stream with bounded
buffers, and the environ follows PEP 3333 exactly.

``AsgiToWsgi(asgi_app)`` is a PEP 3333 application: every request runs on one
event loop per process, with lifespan, streamed bodies and bounded waits.
"""

# Upstream's module imports these two, and programs may reach them here.
import sys as sys
from collections import defaultdict as defaultdict
from typing import TYPE_CHECKING

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.wsgi._adapter import WsgiToAsgi, WsgiToAsgiInstance
from asgiref.wsgi._asgi_to_wsgi import AsgiToWsgi
from asgiref.wsgi._errors import (
    ClientDisconnected,
    RequestBodyDiscarded,
    RequestBodyTooLarge,
    RequestTimeout,
)
from asgiref.wsgi._filewrapper import FileWrapper

__all__ = [
    "AsgiToWsgi",
    "ClientDisconnected",
    "FileWrapper",
    "RequestBodyDiscarded",
    "RequestBodyTooLarge",
    "RequestTimeout",
    "WsgiToAsgi",
    "WsgiToAsgiInstance",
]

# Our classes present themselves where users import them from, as upstream's
# do: in reprs, pickles and generated docs.
for _public in (
    AsgiToWsgi,
    ClientDisconnected,
    FileWrapper,
    RequestBodyDiscarded,
    RequestBodyTooLarge,
    RequestTimeout,
    WsgiToAsgi,
    WsgiToAsgiInstance,
):
    _public.__module__ = __name__
del _public

# More names upstream's module imports, resolved on first use, so that this
# module works without asgiref-sync installed and imports tempfile only when asked.
_BORROWED = {
    "AsyncToSync": "asgiref.sync",
    "sync_to_async": "asgiref.sync",
    "SpooledTemporaryFile": "tempfile",
}

# Hidden from type checkers: a visible __getattr__ would make them accept any
# misspelt name of this module.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        # PEP 562: reached only for names the module does not bind (yet).
        source = _BORROWED.get(name)
        if source is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from importlib import import_module

        try:
            module = import_module(source)
        except ModuleNotFoundError as error:
            if error.name != source:
                raise
            raise AttributeError(
                f"{__name__}.{name} is {source}.{name}, from the asgiref-sync"
                " distribution, which is not installed (pip install asgiref-sync)"
            ) from error
        value = getattr(module, name)
        globals()[name] = value
        return value
