"""What a fresh ``asyncio.run`` gives a coroutine, and what it does on exit.

The loop runners of ``async_to_sync`` (asgiref.sync._loop_runner) reuse event
loops; these are the pieces that make a reused loop indistinguishable from a
fresh one: :class:`FreshLoop`, a snapshot of a new loop that tells whether a
loop is still like it, and asyncio.run's exit steps (:func:`exit_steps`,
:func:`finalise`).

Reading a loop's private state is the trade: the check runs after every
call, and asyncio's public API has no "is this loop as new" question. Only
asyncio's own loops are read (see :func:`_is_inspectable`); any other loop
never counts as fresh, so the runner replaces it after each call.
"""

from __future__ import annotations

import asyncio
import asyncio.events as _events
import selectors
import sys
from typing import Any

__all__ = [
    "FreshLoop",
    "executor_used",
    "exit_steps",
    "finalise",
    "has_pending_task",
    "open_generators",
]

# asyncio.run's bound on the default executor's shutdown (3.12+ take one).
_EXECUTOR_SHUTDOWN_TIMEOUT = 300.0
_SHUTDOWN_TAKES_TIMEOUT = sys.version_info >= (3, 12)


class FreshLoop:
    """What a loop looked like when new, to tell later whether a call could
    tell it from a new one."""

    __slots__ = ("debug", "fds", "inspectable", "policy", "slow_callback_duration")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Taken after creating the loop, which creates the default policy.
        self.policy = _current_policy()
        self.debug = loop.get_debug()
        self.slow_callback_duration = loop.slow_callback_duration
        self.inspectable = _is_inspectable(loop)
        state: Any = loop  # asyncio's own loop when inspectable
        self.fds = len(state._selector._fd_to_key) if self.inspectable else 0

    def restore_settings(self, loop: asyncio.AbstractEventLoop) -> None:
        """Put back the settings a call may change."""
        loop.set_exception_handler(None)
        loop.set_task_factory(None)
        if loop.get_debug() is not self.debug:
            loop.set_debug(self.debug)
        loop.slow_callback_duration = self.slow_callback_duration

    def matches(self, loop: asyncio.AbstractEventLoop, tasks_checked: bool = False) -> bool:
        """Whether a call could tell ``loop`` from a fresh one: nothing left
        to run or to wait for, no setting changed, nothing shut down.
        ``tasks_checked``: the caller knows no task is pending.

        One expression over asyncio's private state, cheapest checks first:
        this runs after every call.
        """
        if not self.inspectable:
            return False
        state: Any = loop
        ready = state._ready
        scheduled = state._scheduled
        return (
            not state._stopping
            and state._default_executor is None
            and not state._executor_shutdown_called
            and not state._asyncgens_shutdown_called
            and state._exception_handler is None
            and state._task_factory is None
            and state._debug is self.debug
            and state.slow_callback_duration == self.slow_callback_duration
            and (not ready or all(handle.cancelled() for handle in ready))
            and (not scheduled or all(handle.cancelled() for handle in scheduled))
            and len(state._selector._fd_to_key) == self.fds
            and (not state._asyncgens.data or not open_generators(loop))
            and getattr(_events, "_event_loop_policy", None) is self.policy
            and (tasks_checked or not has_pending_task(loop))
        )


async def exit_steps(
    loop: asyncio.AbstractEventLoop, tasks: set[asyncio.Task[Any]], *, reusing: bool
) -> None:
    """What asyncio.run does after its main coroutine: cancel ``tasks`` and
    report their failures, close async generators, shut the default
    executor down. ``reusing``: keep the loop usable (no shutdown flags)."""
    if tasks:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                loop.call_exception_handler(
                    {
                        "message": "unhandled exception during asyncio.run() shutdown",
                        "exception": task.exception(),
                        "task": task,
                    }
                )
    if not reusing:
        await loop.shutdown_asyncgens()
    else:
        await _close_generators(loop)
    if not reusing or executor_used(loop):
        if _SHUTDOWN_TAKES_TIMEOUT:
            await loop.shutdown_default_executor(_EXECUTOR_SHUTDOWN_TIMEOUT)  # type: ignore[call-arg,unused-ignore]  # 3.12+
        else:
            await loop.shutdown_default_executor()


async def _close_generators(loop: asyncio.AbstractEventLoop) -> None:
    # loop.shutdown_asyncgens() without its flag, which would make the loop
    # warn about every async generator started on it afterwards.
    registry: Any = getattr(loop, "_asyncgens", None)
    if not registry:
        return
    generators = list(registry)
    registry.clear()
    outcomes = await asyncio.gather(*[gen.aclose() for gen in generators], return_exceptions=True)
    for outcome, gen in zip(outcomes, generators, strict=True):
        if isinstance(outcome, Exception):
            loop.call_exception_handler(
                {
                    "message": "an error occurred during closing of asynchronous "
                    f"generator {gen!r}",
                    "exception": outcome,
                    "asyncgen": gen,
                }
            )


def finalise(
    loop: asyncio.AbstractEventLoop, escaped: BaseException | None
) -> BaseException | None:
    """Close a stopped loop as asyncio.run does when its main coroutine has
    ended or failed; returns what the call must raise: the last exception
    to escape the loop, as asyncio.run would."""
    steps = None
    try:
        try:
            if not loop.is_closed():
                steps = exit_steps(loop, asyncio.all_tasks(loop), reusing=False)
                loop.run_until_complete(steps)
        finally:
            loop.close()
    except BaseException as exc:
        if steps is not None:
            # Another escape can come before its first step (a callback
            # queued ahead of it); as with asyncio.run, the rest is skipped.
            steps.close()
        return exc
    return escaped


def _task_registries() -> tuple[Any, Any] | None:
    """asyncio's registries of live tasks where ``all_tasks`` is Python code
    (3.10 to 3.13): a weak set (its ``data``: weak references) and, from
    3.12, the set of tasks running their eager first step. None elsewhere."""
    if sys.version_info >= (3, 14):
        return None  # all_tasks is C code there, as cheap as reading these
    weak: Any = getattr(asyncio.tasks, "_scheduled_tasks", None)
    if weak is None:
        weak = getattr(asyncio.tasks, "_all_tasks", None)
    eager: Any = getattr(asyncio.tasks, "_eager_tasks", frozenset[Any]())
    data: Any = getattr(weak, "data", None)
    registries: tuple[Any, Any] = (data, eager)
    return registries if type(data) is set and type(eager) in (set, frozenset) else None


_TASK_REGISTRIES = _task_registries()


def has_pending_task(loop: asyncio.AbstractEventLoop) -> bool:
    """``bool(asyncio.all_tasks(loop))`` (outside any task of the loop).

    Trade: it reads asyncio's private task registries where all_tasks is
    Python code; all_tasks builds a set through a WeakSet iterator, which
    took about as long as the rest of the loop's per-call work (every
    ``async_to_sync`` call from a plain thread asks this once).
    """
    if _TASK_REGISTRIES is None:
        return bool(asyncio.all_tasks(loop))
    weak_refs, eager = _TASK_REGISTRIES
    # list() of a set is one C-level step under the GIL: no other thread
    # changes the set meanwhile.
    for ref in list(weak_refs):
        task = ref()
        if task is not None and task.get_loop() is loop and not task.done():
            return True
    if eager:  # tasks running their eager first step (3.12+): rarely any
        for task in list(eager):
            if task.get_loop() is loop and not task.done():
                return True
    return False


def open_generators(loop: asyncio.AbstractEventLoop) -> bool:
    # The loop's weak set of async generators it has seen (a private
    # attribute of asyncio's loops; other loops are replaced after each call
    # and finalised by loop.shutdown_asyncgens()), read through its weak
    # references. Finished or closed generators (no frame) need nothing.
    refs = getattr(getattr(loop, "_asyncgens", None), "data", None)
    if not refs:
        return False
    return any((gen := ref()) is not None and gen.ag_frame is not None for ref in list(refs))


def executor_used(loop: asyncio.AbstractEventLoop) -> bool:
    return (
        getattr(loop, "_default_executor", None) is not None
        or getattr(loop, "_executor_shutdown_called", False) is True
    )


_LOOP_STATE = (
    "_stopping",
    "_debug",
    "_exception_handler",
    "_task_factory",
    "_ready",
    "_scheduled",
    "_selector",
    "_asyncgens",
    "_asyncgens_shutdown_called",
    "_default_executor",
    "_executor_shutdown_called",
)


def _is_inspectable(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the loop's private state is asyncio's own, so that the runner
    can tell it is like a fresh one (other loops are replaced after each call)."""
    return (
        isinstance(loop, asyncio.BaseEventLoop)
        and all(hasattr(loop, name) for name in _LOOP_STATE)
        and isinstance(getattr(loop, "_selector", None), selectors.BaseSelector)
        and isinstance(getattr(getattr(loop, "_selector", None), "_fd_to_key", None), dict)
    )


def _current_policy() -> object:
    # Read directly: asyncio.get_event_loop_policy() warns on 3.14+ (and
    # FreshLoop.matches reads it inline).
    return getattr(_events, "_event_loop_policy", None)
