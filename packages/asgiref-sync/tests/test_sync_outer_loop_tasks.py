"""How async_to_sync starts its task on an outer loop (sync code called from
async code calling back into async code)."""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Coroutine
from typing import Any, cast

import pytest

from asgiref.sync import async_to_sync, sync_to_async
from asgiref.sync._asyncio_versions import start_task_in_context

pytestmark = pytest.mark.timeout(30)


async def _no_suspension() -> str:
    return "done"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager task start is 3.12+")
async def test_a_coroutine_that_never_suspends_finishes_inside_the_starting_callback() -> None:
    loop = asyncio.get_running_loop()
    task = start_task_in_context(loop, _no_suspension(), contextvars.copy_context())
    assert task.done()
    assert task.result() == "done"


async def test_a_task_factory_of_the_outer_loop_still_creates_the_task() -> None:
    loop = asyncio.get_running_loop()
    created: list[asyncio.Task[Any]] = []

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        created.append(task)
        return task

    async def inner() -> asyncio.Task[Any] | None:
        await asyncio.sleep(0)
        return asyncio.current_task()

    loop.set_task_factory(cast(Any, factory))
    try:
        seen = await sync_to_async(lambda: async_to_sync(inner)())()
    finally:
        loop.set_task_factory(None)
    assert seen is not None
    assert any(task is seen for task in created)


async def test_the_nested_coroutine_runs_as_a_task_with_the_callers_context() -> None:
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker")
    marker.set("caller")

    async def inner() -> tuple[bool, str]:
        task = asyncio.current_task()
        seen = marker.get()
        await asyncio.sleep(0)
        marker.set("changed by the async side")
        return task is not None and not task.done(), seen

    def in_sync() -> tuple[bool, str]:
        return async_to_sync(inner)()

    assert await sync_to_async(in_sync)() == (True, "caller")
    assert marker.get() == "changed by the async side"
