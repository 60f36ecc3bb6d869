"""Coroutine functions, the wrappers standing in for them, and tasks, the
same on every supported Python.

``markcoroutinefunction`` and ``iscoroutinefunction`` (public, re-exported by
asgiref.sync) agree with inspect's and asyncio's tests on 3.10-3.15:
``inspect.markcoroutinefunction`` exists only from 3.12, and before that only
``asyncio.iscoroutinefunction`` honoured a marker (``_is_coroutine``), which
3.12 deprecates; marked objects carry both. And the bridge's task creation:
in a given context (``context=`` exists from 3.11), with the first step run
at once where Python allows it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar, cast

from asgiref.local._cpython import has_legacy_mark, run_first_step_now, set_legacy_mark

__all__ = [
    "bound_stand_in",
    "create_task_in_context",
    "iscoroutinefunction",
    "markcoroutinefunction",
    "runs_as_coroutine",
    "stand_in_for",
    "start_task_in_context",
]

_F = TypeVar("_F", bound=Callable[..., Any])

# Typed once, so that narrowing by it gives partial[Any].
_PARTIAL: Final = cast("type[functools.partial[Any]]", functools.partial)

_TASKS_TAKE_CONTEXT: Final = sys.version_info >= (3, 11)


def runs_as_coroutine(func: object) -> bool:
    """Whether calling ``func`` runs a coroutine function: ``func`` itself, or
    the ``__call__`` of a callable object (what runs, not a callability test)."""
    return iscoroutinefunction(func) or iscoroutinefunction(getattr(func, "__call__", func))  # noqa: B004


def markcoroutinefunction(func: _F) -> _F:
    """Make ``iscoroutinefunction`` (ours, inspect's and asyncio's) accept
    ``func``, e.g. an object whose ``__call__`` returns a coroutine."""
    if sys.version_info >= (3, 12):
        inspect.markcoroutinefunction(func)
    set_legacy_mark(getattr(func, "__func__", func))
    return func


def iscoroutinefunction(func: object) -> bool:
    """True for ``async def`` functions, methods and partials of them, and for
    anything passed through :func:`markcoroutinefunction`."""
    if inspect.iscoroutinefunction(func):
        return True
    target: object = func
    while True:
        if inspect.ismethod(target):
            target = target.__func__
        elif isinstance(target, _PARTIAL):
            target = target.func
        else:
            return has_legacy_mark(target)


markcoroutinefunction.__module__ = iscoroutinefunction.__module__ = "asgiref.sync"

_MISSING: Final[Any] = object()


def stand_in_for(wrapper: object, wrapped: Callable[..., Any]) -> None:
    """Make a bridge wrapper look like the callable it wraps (name,
    docstring, ``__wrapped__``, and ``__self__`` of a bound method)."""
    functools.update_wrapper(wrapper, wrapped)  # type: ignore[arg-type]
    bound_to = getattr(wrapped, "__self__", _MISSING)
    if bound_to is not _MISSING:
        setattr(wrapper, "__self__", bound_to)  # noqa: B010


def bound_stand_in(call: Callable[..., Any], parent: object, wrapped: Callable[..., Any]) -> Any:
    """A bridge wrapper's ``call`` bound to ``parent`` (the wrapper used as a
    method), looking like ``wrapped``."""
    return functools.update_wrapper(functools.partial(call, parent), wrapped)


def create_task_in_context(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, Any],
    context: contextvars.Context,
) -> asyncio.Task[Any]:
    """``loop.create_task(coro)``, run in ``context``."""
    if _TASKS_TAKE_CONTEXT:
        return loop.create_task(coro, context=context)  # type: ignore[call-arg,unused-ignore]  # 3.11+
    # 3.10: the task copies the context it is created in, which is the same.
    return context.run(loop.create_task, coro)


def start_task_in_context(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, Any],
    context: contextvars.Context,
) -> asyncio.Task[Any]:
    """A task for ``coro``, created from a callback running on ``loop``,
    whose first step runs right away where Python allows it.

    For an async_to_sync call arriving on a running loop: a coroutine that
    completes without suspending then resolves the waiting thread within the
    callback that started it, one loop iteration earlier. Only for loops that
    create tasks the stock way (no task factory, asyncio's create_task), so
    a loop or factory that instruments tasks still creates every task.
    """
    stock = loop.get_task_factory() is None and (
        type(loop).create_task is asyncio.BaseEventLoop.create_task
    )
    if not stock:
        return create_task_in_context(loop, coro, context)
    if sys.version_info >= (3, 12):
        return asyncio.eager_task_factory(loop, coro, context=context)
    # What the stock create_task does, less its Python-level steps.
    task: asyncio.Task[Any]
    if _TASKS_TAKE_CONTEXT:
        task = asyncio.Task(coro, loop=loop, context=context)  # type: ignore[call-arg,unused-ignore]  # 3.11
    else:
        task = context.run(asyncio.Task[Any], coro, loop=loop)
    run_first_step_now(loop, task)
    return task
