"""Recognising coroutine functions, and marking objects as such, on 3.10-3.14.

``inspect.markcoroutinefunction`` only exists from 3.12, and before that only
``asyncio.iscoroutinefunction`` honoured a marker (its ``_is_coroutine``
attribute); 3.12 deprecates the asyncio function. Marked objects carry both
markers so either test recognises them on every version.
"""

from __future__ import annotations

import asyncio.coroutines
import contextlib
import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any, Final, TypeVar

# Typed once, so that narrowing by it gives partial[Any] rather than an
# unknown type argument.
_PARTIAL: Final[type[functools.partial[Any]]] = functools.partial

__all__ = ["iscoroutinefunction", "markcoroutinefunction"]

_F = TypeVar("_F", bound=Callable[..., Any])

# The legacy asyncio marker; may disappear in a future Python.
_LEGACY_MARK: object = getattr(asyncio.coroutines, "_is_coroutine", None)


def markcoroutinefunction(func: _F) -> _F:
    """Make ``iscoroutinefunction`` (ours, inspect's and asyncio's) accept
    ``func``, e.g. an object whose ``__call__`` returns a coroutine."""
    if sys.version_info >= (3, 12):
        inspect.markcoroutinefunction(func)
    if _LEGACY_MARK is not None:
        target: Any = getattr(func, "__func__", func)
        with contextlib.suppress(AttributeError):  # objects without a __dict__
            target._is_coroutine = _LEGACY_MARK
    return func


def iscoroutinefunction(func: object) -> bool:
    """True for ``async def`` functions, methods and partials of them, and for
    anything passed through :func:`markcoroutinefunction`."""
    if inspect.iscoroutinefunction(func):
        return True
    if _LEGACY_MARK is None:
        return False
    target: object = func
    while True:
        if inspect.ismethod(target):
            target = target.__func__
        elif isinstance(target, _PARTIAL):
            target = target.func
        else:
            return getattr(target, "_is_coroutine", None) is _LEGACY_MARK
