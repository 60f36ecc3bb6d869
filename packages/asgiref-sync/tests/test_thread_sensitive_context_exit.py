"""Leaving a ThreadSensitiveContext: the work it started is over by then.

Django runs each ASGI request inside a ThreadSensitiveContext and closes the
response through a thread-sensitive ``sync_to_async`` call. When the request
task is cancelled during that call (a test ending without awaiting the
application, a client going away), the close must still have finished when
the task ends, or its ``request_finished`` signal fires during whatever runs
next.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import time
from collections.abc import AsyncGenerator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, async_to_sync, sync_to_async


class _SlowJob:
    """A sync function that takes a while, reporting when it starts and ends."""

    def __init__(self, seconds: float = 0.2) -> None:
        self.seconds = seconds
        self.started = threading.Event()
        self.finished = threading.Event()

    def __call__(self) -> None:
        self.started.set()
        time.sleep(self.seconds)
        self.finished.set()

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 10), "the job never started"


async def _request(job: _SlowJob) -> None:
    async with ThreadSensitiveContext():
        await sync_to_async(job)()


async def _cancel_once_started(job: _SlowJob, request: Coroutine[Any, Any, None]) -> None:
    """Cancel ``request``'s task once ``job`` runs; the cancellation must only
    surface after the job has finished."""
    task = asyncio.create_task(request)
    await job.wait_started()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert job.finished.is_set()


@pytest.mark.timeout(30)
async def test_cancelled_task_ends_after_the_contexts_work() -> None:
    job = _SlowJob()
    await _cancel_once_started(job, _request(job))


@pytest.mark.timeout(30)
async def test_exit_also_waits_for_an_executor_other_code_gave_the_context() -> None:
    job = _SlowJob()

    async def request() -> None:
        async with ThreadSensitiveContext() as context:
            SyncToAsync.context_to_thread_executor[context] = ThreadPoolExecutor(max_workers=1)
            await sync_to_async(job)()

    await _cancel_once_started(job, request())


@pytest.mark.timeout(30)
def test_async_to_sync_returns_after_work_of_a_task_it_left_behind() -> None:
    """The Django test case: the leftover request task is cancelled when the
    call ends; the call returns only after that request's work is done."""
    job = _SlowJob()

    async def main() -> None:
        # In a context of its own, as ApplicationCommunicator runs an
        # application: the thread waiting in this call is not its thread.
        contextvars.Context().run(asyncio.get_running_loop().create_task, _request(job))
        await job.wait_started()

    async_to_sync(main)()
    assert job.finished.is_set()


@pytest.mark.timeout(30)
async def test_waiting_exit_keeps_the_loop_running() -> None:
    """The worker needs this loop to finish its job: a blocking wait (as a
    ThreadPoolExecutor shutdown would do) could never end."""
    loop = asyncio.get_running_loop()
    started = threading.Event()
    ticks: list[int] = []

    async def on_the_loop() -> str:
        for tick in range(5):
            ticks.append(tick)
            await asyncio.sleep(0.02)
        return "done"

    def needs_the_loop() -> str:
        started.set()
        return asyncio.run_coroutine_threadsafe(on_the_loop(), loop).result(timeout=20)

    async def request() -> None:
        async with ThreadSensitiveContext():
            await sync_to_async(needs_the_loop)()

    task = asyncio.create_task(request())
    assert await asyncio.to_thread(started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert ticks == [0, 1, 2, 3, 4]


@pytest.mark.timeout(30)
async def test_a_second_cancellation_stops_the_wait_but_not_the_work() -> None:
    job = _SlowJob(seconds=1.0)
    task = asyncio.create_task(_request(job))
    await job.wait_started()
    task.cancel()
    await asyncio.sleep(0.05)  # the task is now waiting in the exit
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not job.finished.is_set()
    assert await asyncio.to_thread(job.finished.wait, 10)


@pytest.mark.timeout(30)
async def test_exit_after_finished_work_does_not_wait_for_the_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every request pays for the exit: with its work done, it must not also
    wait for the worker thread to stop (here, a thread that never stops)."""
    from asgiref.sync._one_thread import OneThreadExecutor

    kept: list[OneThreadExecutor] = []
    monkeypatch.setattr(OneThreadExecutor, "shutdown", lambda self, *a, **k: kept.append(self))

    async def request() -> None:
        async with ThreadSensitiveContext():
            await sync_to_async(lambda: None)()

    await asyncio.wait_for(request(), 10)
    assert len(kept) == 1
    monkeypatch.undo()
    kept[0].shutdown(wait=True)


@pytest.mark.timeout(30)
async def test_exit_of_a_context_without_thread_sensitive_calls() -> None:
    async with ThreadSensitiveContext() as context:
        await sync_to_async(lambda: None, thread_sensitive=False)()
    assert context not in SyncToAsync.context_to_thread_executor


@pytest.mark.timeout(30)
async def test_the_thread_of_a_task_that_outlived_the_context_ends_with_it() -> None:
    """A task created inside the context inherits it and may call through it
    after the exit (upstream allows it: a new thread serves the context).
    No exit shuts that thread down; the end of the context object must."""
    release = asyncio.Event()

    async def outlives() -> threading.Thread:
        await release.wait()
        return await sync_to_async(threading.current_thread)()

    async with ThreadSensitiveContext() as context:
        inside = await sync_to_async(threading.current_thread)()
        task = asyncio.create_task(outlives())
    release.set()
    late = await asyncio.wait_for(task, 10)
    assert late is not inside
    assert late.is_alive()
    del context, task
    # The loop holds the handle that woke this step (it refers to the
    # finished task, whose context holds the ThreadSensitiveContext) until
    # the step ends (3.12+): end it before collecting.
    await asyncio.sleep(0)
    gc.collect()
    late.join(10)
    assert not late.is_alive()


@pytest.mark.timeout(30)
async def test_closing_an_async_generator_leaves_its_context() -> None:
    entered: list[ThreadSensitiveContext] = []

    async def stream() -> AsyncGenerator[int, None]:
        async with ThreadSensitiveContext() as context:
            entered.append(context)
            yield 1

    chunks = stream()
    assert await chunks.__anext__() == 1
    # A generator's steps run in the task's context: it is in the context now.
    assert SyncToAsync.thread_sensitive_context.get(None) is entered[0]
    await chunks.aclose()
    assert SyncToAsync.thread_sensitive_context.get(None) is None
