"""async_to_sync when its main task is cancelled before it ever runs.

A loop reference kept past its call (the loop object is reused, see the
README) can cancel the next call's task before its first step, so the
bridge's wrapper never runs and never reports an outcome. The caller must get
what upstream's ``asyncio.run`` raises then (``CancelledError``), not block.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from asgiref.local._cpython import uses_private
from asgiref.sync import async_to_sync

pytestmark = pytest.mark.timeout(60)


@pytest.mark.skipif(not uses_private("loop_state"), reason="loop_state forced off")
@pytest.mark.timeout(20)
def test_main_task_cancelled_before_its_first_step_raises_instead_of_hanging() -> None:
    kept: list[asyncio.AbstractEventLoop] = []

    async def keep_loop() -> None:
        kept.append(asyncio.get_running_loop())

    async_to_sync(keep_loop)()
    loop = kept[0]
    until = time.monotonic() + 1.0

    def cancel_bridge_tasks() -> None:
        # Every loop iteration for a second: the next call's task is
        # cancelled between its creation and its first step.
        for task in asyncio.all_tasks(loop):
            if "main_wrap" in repr(task):
                task.cancel()
        if time.monotonic() < until:
            loop.call_soon(cancel_bridge_tasks)

    loop.call_soon_threadsafe(cancel_bridge_tasks)
    time.sleep(0.05)
    ran: list[bool] = []

    async def work() -> str:
        ran.append(True)
        return "ran"

    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(async_to_sync(work)())
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(10)
    assert not caller.is_alive(), "async_to_sync never returned"
    assert not ran
    assert len(outcome) == 1
    assert isinstance(outcome[0], asyncio.CancelledError)

    async def after() -> str:
        return "next"

    assert async_to_sync(after)() == "next"
