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
from importlib import import_module as _import_module
from typing import TYPE_CHECKING

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.wsgi._errors import (
    ClientDisconnected,
    RequestBodyDiscarded,
    RequestBodyTooLarge,
    RequestTimeout,
)
from asgiref.wsgi._filewrapper import FileWrapper

if TYPE_CHECKING:
    from asgiref.wsgi._adapter import WsgiToAsgi, WsgiToAsgiInstance
    from asgiref.wsgi._asgi_to_wsgi import AsgiToWsgi

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
    ClientDisconnected,
    FileWrapper,
    RequestBodyDiscarded,
    RequestBodyTooLarge,
    RequestTimeout,
):
    _public.__module__ = __name__
del _public

# Each adapter's modules load when its name is first used: a server's process
# runs one direction only, and the other's modules would be memory paid for
# nothing (issue 23: AsgiToWsgi's peak RSS under gunicorn).
_SIDES = {
    "AsgiToWsgi": "asgiref.wsgi._asgi_to_wsgi",
    "WsgiToAsgi": "asgiref.wsgi._adapter",
    "WsgiToAsgiInstance": "asgiref.wsgi._adapter",
}

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
        side = _SIDES.get(name)
        if side is not None:
            module = _import_module(side)
            # Every public class of the side at once: WsgiToAsgi builds
            # WsgiToAsgiInstance objects whose repr must name this package too.
            # A name already bound (patched by a test, say) is left as it is.
            for public, home in _SIDES.items():
                if home == side:
                    adapter: type = getattr(module, public)
                    adapter.__module__ = __name__
                    globals().setdefault(public, adapter)
            return globals()[name]
        source = _BORROWED.get(name)
        if source is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:
            module = _import_module(source)
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

    def __dir__() -> list[str]:
        # The adapters are listed before their first use, as when bound eagerly.
        return sorted({*globals(), *_SIDES})
