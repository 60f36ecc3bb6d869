"""Tell ASGI 2 ("double callable") applications from ASGI 3 ones, and adapt them.

An ASGI 3 application is one awaitable callable, ``app(scope, receive, send)``.
An ASGI 2 application is called with the scope alone and returns an instance
that is then awaited as ``instance(receive, send)``. Servers call
:func:`guarantee_single_callable` once and then only deal with ASGI 3.
"""

from __future__ import annotations

import inspect
from typing import Any

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]

# One rule for "is this a coroutine function" (it honours markcoroutinefunction
# on every Python): the bridge's.
from asgiref.sync import iscoroutinefunction

__all__ = ["double_to_single_callable", "guarantee_single_callable", "is_double_callable"]


def is_double_callable(application: Any) -> bool:
    """Whether ``application`` follows the ASGI 2 calling convention.

    Explicit ``_asgi_single_callable`` / ``_asgi_double_callable`` attributes win;
    otherwise a class counts as double callable (instantiating it with the scope
    is the first call), and anything whose call is a coroutine function counts
    as single callable.
    """
    for hint, verdict in (("_asgi_single_callable", False), ("_asgi_double_callable", True)):
        if getattr(application, hint, False):
            return verdict
    if inspect.isclass(application):
        # Instantiating the class with the scope is the first of the two calls.
        return True
    # Not callable(): what matters is whether the call itself is a coroutine function.
    dunder_call = getattr(application, "__call__", None)  # noqa: B004
    return not (iscoroutinefunction(dunder_call) or iscoroutinefunction(application))


def double_to_single_callable(application: Any) -> Any:
    """Wrap an ASGI 2 application so it can be called the ASGI 3 way."""

    async def single_callable(scope: Any, receive: Any, send: Any) -> Any:
        return await application(scope)(receive, send)

    return single_callable


def guarantee_single_callable(application: Any) -> Any:
    """Return ``application`` as an ASGI 3 callable, wrapping it if it is ASGI 2."""
    if is_double_callable(application):
        return double_to_single_callable(application)
    return application
