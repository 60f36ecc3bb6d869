"""Complete, exact types for ASGI scopes, messages and applications.

Type checkers read the definitions from ``asgiref.typing._definitions``. At
runtime, importing this module costs next to nothing (it does not even import
``typing``): the first access to one of its names loads the real TypedDicts,
which then stay bound here. Runtime validators live in
``asgiref.typing.validate``, loaded only when imported.
"""

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]

# A local constant, recognised by mypy and pyright alike, so that importing
# this module does not import ``typing`` on its own.
TYPE_CHECKING = False

__all__ = [
    "ASGI2Application",
    "ASGI2Instance",
    "ASGI2Protocol",
    "ASGI3Application",
    "ASGIApplication",
    "ASGIReceiveCallable",
    "ASGIReceiveEvent",
    "ASGISendCallable",
    "ASGISendEvent",
    "ASGIVersions",
    "ExtensionName",
    "HTTPDisconnectEvent",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseDebugEvent",
    "HTTPResponseEarlyHintEvent",
    "HTTPResponsePathsendEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent",
    "HTTPResponseZeroCopySendEvent",
    "HTTPScope",
    "HTTPServerPushEvent",
    "Headers",
    "LifespanScope",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "Scope",
    "ScopeExtensions",
    "StrictWebSocketReceiveEvent",
    "StrictWebSocketSendEvent",
    "SupportsFileno",
    "TLSExtension",
    "WWWScope",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketDisconnectEvent",
    "WebSocketReceiveBytesEvent",
    "WebSocketReceiveEvent",
    "WebSocketReceiveTextEvent",
    "WebSocketResponseBodyEvent",
    "WebSocketResponseStartEvent",
    "WebSocketScope",
    "WebSocketSendBytesEvent",
    "WebSocketSendEvent",
    "WebSocketSendTextEvent",
]

# Names upstream's module imports from typing and collections.abc; programs may
# look them up here. The same objects as there (on Python 3.10, the
# typing_extensions TypedDict and NotRequired the definitions use), first
# bound on use like the rest, and not exported by a star import.
_BORROWED = (
    "Any",
    "Awaitable",
    "Callable",
    "Iterable",
    "Literal",
    "NotRequired",
    "Protocol",
    "TypedDict",
    "Union",
)

if TYPE_CHECKING:
    from asgiref.typing._definitions import (
        ASGI2Application,
        ASGI2Instance,
        ASGI2Protocol,
        ASGI3Application,
        ASGIApplication,
        ASGIReceiveCallable,
        ASGIReceiveEvent,
        ASGISendCallable,
        ASGISendEvent,
        ASGIVersions,
        ExtensionName,
        Headers,
        HTTPDisconnectEvent,
        HTTPRequestEvent,
        HTTPResponseBodyEvent,
        HTTPResponseDebugEvent,
        HTTPResponseEarlyHintEvent,
        HTTPResponsePathsendEvent,
        HTTPResponseStartEvent,
        HTTPResponseTrailersEvent,
        HTTPResponseZeroCopySendEvent,
        HTTPScope,
        HTTPServerPushEvent,
        LifespanScope,
        LifespanShutdownCompleteEvent,
        LifespanShutdownEvent,
        LifespanShutdownFailedEvent,
        LifespanStartupCompleteEvent,
        LifespanStartupEvent,
        LifespanStartupFailedEvent,
        Scope,
        ScopeExtensions,
        StrictWebSocketReceiveEvent,
        StrictWebSocketSendEvent,
        SupportsFileno,
        TLSExtension,
        WebSocketAcceptEvent,
        WebSocketCloseEvent,
        WebSocketConnectEvent,
        WebSocketDisconnectEvent,
        WebSocketReceiveBytesEvent,
        WebSocketReceiveEvent,
        WebSocketReceiveTextEvent,
        WebSocketResponseBodyEvent,
        WebSocketResponseStartEvent,
        WebSocketScope,
        WebSocketSendBytesEvent,
        WebSocketSendEvent,
        WebSocketSendTextEvent,
        WWWScope,
    )
else:

    def __getattr__(name: str) -> object:
        # PEP 562: reached only for names not bound yet, i.e. on first use.
        if name in _BORROWED:
            return _borrow(name)
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from asgiref.typing import _definitions

        namespace = globals()
        for public in __all__:
            namespace[public] = getattr(_definitions, public)
        return namespace[name]

    def _borrow(name: str) -> object:
        import typing

        from asgiref.typing import _definitions

        # The definitions import all of them but Union.
        value = (
            getattr(_definitions, name) if hasattr(_definitions, name) else getattr(typing, name)
        )
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__, *_BORROWED})
