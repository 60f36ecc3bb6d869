"""How async_to_sync starts its task on an outer loop (sync code called from
async code calling back into async code)."""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Coroutine
from typing import Any, cast

import pytest

from asgiref.local._cpython import run_first_step_now, uses_private
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.sync._coroutines import start_task_in_context

pytestmark = pytest.mark.timeout(30)


async def _no_suspension() -> str:
    return "done"


@pytest.mark.skipif(
    sys.version_info < (3, 12) and not uses_private("first_step"),
    reason="first_step forced off",
)
async def test_a_coroutine_that_never_suspends_finishes_inside_the_starting_callback() -> None:
    # 3.12+: eager start; 3.10/3.11: the first step is taken from the ready queue.
    # Started from a plain callback, as the bridge does.
    loop = asyncio.get_running_loop()
    started: asyncio.Future[bool] = loop.create_future()

    def start() -> None:
        task = start_task_in_context(loop, _no_suspension(), contextvars.copy_context())
        started.set_result(task.done() and task.result() == "done")

    loop.call_soon(start)
    assert await started


async def test_a_task_started_from_inside_another_task_runs_later() -> None:
    task = start_task_in_context(
        asyncio.get_running_loop(), _no_suspension(), contextvars.copy_context()
    )
    assert await task == "done"


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


async def _in_a_callback(action: Any) -> None:
    # The bridge takes first steps from a plain callback, never inside a task.
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def run() -> None:
        action()
        done.set_result(None)

    loop.call_soon(run)
    await done


async def test_a_first_step_with_work_queued_after_it_waits_its_turn() -> None:
    # Another thread's call_soon_threadsafe may land between creating the
    # task and taking its step: then nothing is taken and the order stays.
    loop = asyncio.get_running_loop()
    order: list[str] = []
    tasks: list[asyncio.Task[None]] = []

    async def step() -> None:
        order.append("task")

    def create_then_queue_then_take() -> None:
        tasks.append(loop.create_task(step()))
        loop.call_soon(order.append, "later callback")
        run_first_step_now(loop, tasks[0])
        order.append("after the attempt")

    await _in_a_callback(create_then_queue_then_take)
    await tasks[0]
    assert order == ["after the attempt", "task", "later callback"]


@pytest.mark.skipif(
    sys.version_info >= (3, 12) or not uses_private("first_step"),
    reason="run_first_step_now acts before 3.12 only (then tasks start eagerly)",
)
async def test_the_first_step_is_taken_only_for_that_task() -> None:
    loop = asyncio.get_running_loop()
    ran: list[str] = []
    tasks: list[asyncio.Task[None]] = []

    async def mine() -> None:
        ran.append("mine")

    async def other() -> None:
        ran.append("other")

    def take_steps() -> None:
        tasks.extend([loop.create_task(mine()), loop.create_task(other())])
        run_first_step_now(loop, tasks[0])  # the newest handle is other's step
        ran.append("first attempt")
        run_first_step_now(loop, tasks[1])
        ran.append("second attempt")

    await _in_a_callback(take_steps)
    await asyncio.gather(*tasks)
    expected_other_first = ["first attempt", "other", "second attempt", "mine"]
    assert ran == expected_other_first


@pytest.mark.skipif(
    sys.version_info < (3, 12) and not uses_private("first_step"),
    reason="first_step forced off",
)
async def test_a_nested_call_that_suspends_is_listed_for_cancellation_until_it_ends() -> None:
    listed: list[int] = []

    def in_sync() -> None:
        from asgiref.sync import SyncToAsync

        tasks = SyncToAsync.threadlocal.task_context
        assert tasks is not None

        async def inner() -> None:
            listed.append(len(tasks))  # first step: not listed yet
            await asyncio.sleep(0)
            listed.append(len(tasks))  # suspended once: listed

        async_to_sync(inner)()
        listed.append(len(tasks))  # ended: unlisted

    await sync_to_async(in_sync)()
    assert listed == [0, 1, 0]
