"""What the bridge needs from asyncio where Python versions differ (3.10-3.14).

Recognising coroutine functions, and marking objects as such:
``inspect.markcoroutinefunction`` only exists from 3.12, and before that only
``asyncio.iscoroutinefunction`` honoured a marker (its ``_is_coroutine``
attribute); 3.12 deprecates the asyncio function. Marked objects carry both
markers so either test recognises them on every version.

Creating a task in a given context (``context=`` exists from 3.11), and
starting one eagerly (``eager_start=`` from 3.12).
"""

from __future__ import annotations

import asyncio.coroutines
import collections
import contextlib
import functools
import inspect
import sys
from collections.abc import Callable, Coroutine
from contextvars import Context
from typing import Any, Final, TypeVar, cast

# Typed once, so that narrowing by it gives partial[Any] rather than an
# unknown type argument.
_PARTIAL: Final[type[functools.partial[Any]]] = functools.partial

__all__ = [
    "create_task_in_context",
    "iscoroutinefunction",
    "markcoroutinefunction",
    "start_task_in_context",
]

_TASKS_TAKE_CONTEXT = sys.version_info >= (3, 11)
_TASKS_START_EAGERLY = sys.version_info >= (3, 12)

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


def create_task_in_context(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], context: Context
) -> asyncio.Task[Any]:
    if _TASKS_TAKE_CONTEXT:
        return loop.create_task(coro, context=context)  # type: ignore[call-arg,unused-ignore]  # 3.11+
    # 3.10: the task copies the context it is created in, which is the same.
    return context.run(loop.create_task, coro)


def start_task_in_context(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], context: Context
) -> asyncio.Task[Any]:
    """A task for ``coro``, created from a callback running on ``loop``,
    whose first step runs right away where Python allows it.

    For an async_to_sync call arriving on a running loop: a coroutine that
    completes without suspending then resolves the waiting thread within the
    callback that started it, one loop iteration earlier. Trade: only with
    asyncio's own task creation (no task factory, the stock create_task), so
    a loop or factory that instruments tasks still creates every task
    itself, and the call then waits one iteration longer.
    """
    stock = loop.get_task_factory() is None and (
        type(loop).create_task is asyncio.BaseEventLoop.create_task
    )
    if not stock:
        return create_task_in_context(loop, coro, context)
    # What the stock create_task does, without its Python-level steps.
    if _TASKS_START_EAGERLY:
        return asyncio.Task(coro, loop=loop, context=context, eager_start=True)  # type: ignore[call-arg,unused-ignore]  # 3.12+
    task: asyncio.Task[Any]
    if _TASKS_TAKE_CONTEXT:
        task = asyncio.Task(coro, loop=loop, context=context)  # type: ignore[call-arg,unused-ignore]  # 3.11
    else:
        task = context.run(asyncio.Task[Any], coro, loop=loop)
    _run_first_step_now(loop, task)
    return task


def _run_first_step_now(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
    """Before 3.12 (no eager start): run the step that creating ``task`` just
    scheduled now instead of on the next loop iteration, as 3.12's eager
    start does.

    Trade: this reads asyncio's private ready queue of its own loops
    (``_ready``, a deque of Handles; 3.10 and 3.11 no longer change). It
    acts only when the newest handle there is that task's step; if anything
    else was queued after it (another thread's call_soon_threadsafe), the
    step is left where it is and runs on the next iteration as usual.
    """
    ready: object = getattr(loop, "_ready", None)
    if not isinstance(ready, collections.deque) or not ready:
        return
    queue = cast("collections.deque[asyncio.Handle]", ready)
    if asyncio.current_task(loop) is not None:
        # Called from inside a task: a step cannot run within another one
        # (3.12's eager start runs it later in that case too).
        return
    handle = queue[-1]
    if type(handle) is not asyncio.Handle:
        return
    if getattr(getattr(handle, "_callback", None), "__self__", None) is not task:
        return
    # pop() and the check above are not one atomic step: another thread may
    # have appended in between, so put back whatever was not ours.
    popped = queue.pop()
    if popped is not handle:
        queue.append(popped)
        return
    handle._run()  # pyright: ignore[reportPrivateUsage]
