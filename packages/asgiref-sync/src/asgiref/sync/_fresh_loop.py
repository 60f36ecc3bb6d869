"""What a fresh ``asyncio.run`` gives a coroutine, and what it does on exit.

The loop runners of ``async_to_sync`` (asgiref.sync._loop_runner) reuse event
loops; these are the pieces that make a reused loop indistinguishable from a
fresh one: :class:`FreshLoop`, a snapshot of a new loop that tells whether a
loop is still like it, and asyncio.run's exit steps (:func:`exit_steps`,
:func:`finalise`).

The loop's private state is read in asgiref.local._cpython (the one home of
such reads; asyncio's public API has no "is this loop as new" question). A
loop it cannot read never counts as fresh, so the runner replaces it after
each call.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from asgiref.local._cpython import executor_used, snapshot, take_open_generators

__all__ = ["FreshLoop", "exit_steps", "finalise"]

# asyncio.run's bound on the default executor's shutdown (3.12+ take one).
_EXECUTOR_SHUTDOWN_TIMEOUT = 300.0
_SHUTDOWN_TAKES_TIMEOUT = sys.version_info >= (3, 12)


class FreshLoop:
    """What a loop looked like when new, to tell later whether a call could
    tell it from a new one."""

    __slots__ = ("debug", "slow_callback_duration", "snapshot")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.snapshot = snapshot(loop)
        self.debug = loop.get_debug()
        self.slow_callback_duration = loop.slow_callback_duration

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
        ``tasks_checked``: the caller knows no task is pending."""
        fresh = self.snapshot
        return fresh is not None and fresh.matches(loop, tasks_checked)


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
    # loop.shutdown_asyncgens() without its flag (see take_open_generators).
    generators = take_open_generators(loop)
    if not generators:
        return
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
