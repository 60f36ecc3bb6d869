"""Tell an ASGI 2 application from an ASGI 3 one and call both the ASGI 3 way.

asgiref-wsgi does not depend on asgiref-sync, so the rule lives here: markers
set by the application win, a class is ASGI 2 (building it with the scope is
its first call), a ``functools.partial`` is what it wraps, and otherwise an
awaitable call means ASGI 3.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

SingleCallable = Callable[[Any, Any, Any], Awaitable[None]]

# Before 3.12, ``markcoroutinefunction`` helpers (asgiref's among them) mark a
# function with asyncio's private sentinel instead of inspect's flag.
_OLD_STYLE_MARK: object = getattr(asyncio.coroutines, "_is_coroutine", None)


def _awaitable_call(target: object) -> bool:
    if inspect.iscoroutinefunction(target):
        return True
    marker = getattr(inspect.unwrap(target), "_is_coroutine", None) if callable(target) else None
    return _OLD_STYLE_MARK is not None and marker is _OLD_STYLE_MARK


def _is_asgi2(application: object) -> bool:
    if getattr(application, "_asgi_single_callable", False):
        return False
    if getattr(application, "_asgi_double_callable", False) or inspect.isclass(application):
        return True
    if isinstance(application, functools.partial):
        # Arguments bound ahead do not change what calling the target does.
        return _is_asgi2(application.func)
    bound_call = getattr(type(application), "__call__", None)  # noqa: B004
    return not (_awaitable_call(application) or _awaitable_call(bound_call))


def as_single_callable(application: Any) -> SingleCallable:
    """``application`` itself when it is ASGI 3, else an ASGI 3 wrapper of it."""
    if not callable(application):
        raise TypeError(f"the ASGI application must be callable, not {application!r}")
    if not _is_asgi2(application):
        return application  # type: ignore[no-any-return]
    factory: Callable[[Any], Any] = application

    async def instance_per_scope(scope: Any, receive: Any, send: Any) -> None:
        await factory(scope)(receive, send)

    return instance_per_scope
