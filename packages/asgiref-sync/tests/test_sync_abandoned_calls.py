"""Bridge coroutines that are abandoned and finalised elsewhere.

A task destroyed while pending (its loop was dropped) has its coroutine closed
by whichever thread happens to run the garbage collector, inside whatever
context that thread is using at that moment. The bridge's clean-up must not
touch that unrelated context (a regression: values of the abandoned call used
to be copied into it, hiding the victim's ``Local`` values).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

import pytest

from asgiref.local import Local
from asgiref.sync import async_to_sync, sync_to_async

owner: contextvars.ContextVar[str] = contextvars.ContextVar("owner", default="nobody")


def _close_in_fresh_context(coro: Coroutine[Any, Any, Any], local: Local) -> dict[str, Any]:
    """Close ``coro`` (what the garbage collector does) from a thread that has
    its own context, values and ``Local`` entry; report what it sees after."""
    seen: dict[str, Any] = {}

    def victim() -> None:
        owner.set("victim")
        local.value = "victim"
        coro.close()
        seen["owner"] = owner.get()
        seen["local"] = getattr(local, "value", "<hidden>")

        async def read_in_async_code() -> Any:
            return getattr(local, "value", "<hidden>")

        seen["local_async"] = async_to_sync(read_in_async_code)()

    thread = threading.Thread(target=victim)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    return seen


@pytest.mark.timeout(30)
@pytest.mark.parametrize("thread_sensitive", [False, True])
def test_sync_to_async_closed_by_another_thread_leaves_its_context_alone(
    thread_sensitive: bool,
) -> None:
    local = Local()
    release = threading.Event()
    started = threading.Event()

    def blocking() -> None:
        started.set()
        release.wait(10)

    loop = asyncio.new_event_loop()
    try:
        holder: list[Coroutine[Any, Any, Any]] = []
        tasks: list[asyncio.Task[Any]] = []

        async def start() -> None:
            owner.set("abandoned call")
            local.value = "abandoned call"
            coro = sync_to_async(blocking, thread_sensitive=thread_sensitive)()
            holder.append(coro)
            tasks.append(loop.create_task(coro))
            await asyncio.to_thread(started.wait, 10)

        loop.run_until_complete(start())
        # The call's task is now suspended in the bridge; its loop is never
        # run again, as with a loop that was dropped.
        seen = _close_in_fresh_context(holder[0], local)
    finally:
        release.set()
        loop.close()
    assert seen == {"owner": "victim", "local": "victim", "local_async": "victim"}


@pytest.mark.timeout(30)
def test_async_to_sync_main_wrap_closed_by_another_thread_leaves_its_context_alone() -> None:
    local = Local()
    parked = threading.Event()
    loop = asyncio.new_event_loop()
    holder: list[Coroutine[Any, Any, Any]] = []
    tasks: list[asyncio.Task[Any]] = []
    call_result: Future[None] = Future()
    captured = [contextvars.copy_context()]
    original = captured[0]

    async def never_finishes() -> None:
        parked.set()
        await asyncio.Event().wait()

    async def start() -> None:
        owner.set("abandoned call")
        local.value = "abandoned call"
        wrapper = async_to_sync(never_finishes)
        coro = wrapper.main_wrap(call_result, (None, None, None), None, captured, never_finishes())
        holder.append(coro)
        tasks.append(loop.create_task(coro))
        await asyncio.to_thread(parked.wait, 10)

    try:
        loop.run_until_complete(start())
        seen = _close_in_fresh_context(holder[0], local)
    finally:
        loop.close()
    assert seen == {"owner": "victim", "local": "victim", "local_async": "victim"}
    # The waiting thread is told, and is not handed the victim's context.
    assert captured[0] is original
    with pytest.raises(RuntimeError, match="dropped it"):
        call_result.result(timeout=0)


@pytest.mark.timeout(30)
async def test_async_to_sync_task_cancelled_before_its_first_step() -> None:
    """The outer loop cancels the call's task before it ever runs (a loop
    shutting down): the waiting worker gets the cancellation, no hang."""
    ran: list[bool] = []
    outcome: list[BaseException] = []

    async def never_runs() -> None:
        ran.append(True)

    def worker() -> None:
        try:
            async_to_sync(never_runs)()
        except BaseException as exc:  # reported below
            outcome.append(exc)

    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()

    def cancel_bridge_tasks(
        loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
        if getattr(coro, "__qualname__", "").endswith("main_wrap"):
            task.cancel()
        return task

    loop.set_task_factory(cancel_bridge_tasks)
    try:
        await sync_to_async(worker, thread_sensitive=False)()
    finally:
        loop.set_task_factory(previous)
    assert ran == []
    assert len(outcome) == 1
    assert isinstance(outcome[0], asyncio.CancelledError)
