"""ASGI applications that misbehave on purpose, and loop helpers to catch them.

Shared by the promise tests of asgiref-server and asgiref-testing (importable
by name: ``tests/`` is on pytest's ``pythonpath``), which attack the same
kinds of misbehaviour: a ``BaseException`` that is not an ``Exception``, an
application that swallows cancellation, tasks left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any


class Oops(BaseException):
    """Not an Exception: what a careless application may still raise."""


async def echo(scope: Any, receive: Any, send: Any) -> None:
    """Sends back every message it receives, forever."""
    while True:
        await send(await receive())


def swallowing(release: asyncio.Event) -> Callable[..., Any]:
    """An application that ignores every cancellation until ``release`` is set."""

    async def stubborn(scope: Any, receive: Any, send: Any) -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    return stubborn


def other_tasks() -> set[asyncio.Task[Any]]:
    """The unfinished tasks of the running loop, except the calling one."""
    current = asyncio.current_task()
    return {task for task in asyncio.all_tasks() if task is not current and not task.done()}


async def settle(turns: int = 5) -> None:
    """A few loop turns: enough for a new task to start or a cancel() to land."""
    for _ in range(turns):
        await asyncio.sleep(0)
