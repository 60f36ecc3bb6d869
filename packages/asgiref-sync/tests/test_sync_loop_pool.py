"""The event-loop threads behind async_to_sync from plain threads.

How many are kept depends on how many calls are running, not on how many
threads have ever called; idle ones are released; a call never waits for
another call's loop.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import warnings
from typing import Any

import pytest

from asgiref.sync import AsyncSingleThreadContext, _loop_runner, async_to_sync

KEPT_IDLE = max(2, os.cpu_count() or 1)


async def loop_thread_name() -> str:
    return threading.current_thread().name


@pytest.mark.timeout(90)
def test_a_large_idle_thread_pool_keeps_few_loop_threads(
    bridge_helpers: Any, no_idle_loops: None
) -> None:
    threads_before = threading.active_count()
    fds_before = bridge_helpers.open_fd_count()
    workers = 64
    all_called = threading.Barrier(workers + 1, timeout=60)
    release = threading.Event()
    errors: list[BaseException] = []

    def pool_thread() -> None:
        try:
            async_to_sync(loop_thread_name)()
        except BaseException as exc:
            errors.append(exc)
        all_called.wait()
        release.wait(60)  # stays alive and idle, as a server's pool thread does

    pool = [threading.Thread(target=pool_thread, daemon=True) for _ in range(workers)]
    for thread in pool:
        thread.start()
    try:
        all_called.wait()
        time.sleep(2)
        assert not errors
        extra_threads = threading.active_count() - threads_before - workers
        extra_fds = bridge_helpers.open_fd_count() - fds_before
        assert extra_threads <= KEPT_IDLE, [t.name for t in threading.enumerate()]
        # Each kept loop holds its selector and self-pipe (3 descriptors).
        assert extra_fds <= 3 * KEPT_IDLE
    finally:
        release.set()
        for thread in pool:
            thread.join(10)


@pytest.mark.timeout(60)
def test_concurrent_calls_each_get_a_loop_at_once(bridge_helpers: Any, no_idle_loops: None) -> None:
    seen = bridge_helpers.overlapping_calls(8)
    assert len({loop for _, loop in seen}) == 8


@pytest.mark.timeout(60)
def test_nested_call_on_a_new_loop_does_not_wait_for_the_busy_one(no_idle_loops: None) -> None:
    async def inner() -> str:
        return "inner"

    async def outer() -> str:
        # The only idle loop is busy running this coroutine.
        def sync_part() -> str:
            return async_to_sync(inner, force_new_loop=True)()

        return await asyncio.get_running_loop().run_in_executor(None, sync_part)

    assert async_to_sync(outer)() == "inner"


@pytest.mark.timeout(60)
def test_idle_loop_threads_are_released_after_the_idle_timeout(
    bridge_helpers: Any, monkeypatch: pytest.MonkeyPatch, no_idle_loops: None
) -> None:
    monkeypatch.setattr(_loop_runner, "_IDLE_SECONDS", 0.3)
    seen = bridge_helpers.overlapping_calls(4)
    assert len({name for name, _ in seen}) == 4
    # A quiet pool keeps at most the one runner that last served a call on
    # its own (it has no timer); here every call overlapped others.
    assert bridge_helpers.settle(lambda: len(bridge_helpers.loop_threads()) <= 1, 10), [
        thread.name for thread in bridge_helpers.loop_threads()
    ]


@pytest.mark.timeout(60)
def test_later_calls_retire_a_runner_left_idle_at_the_bottom_of_the_pool(
    bridge_helpers: Any, monkeypatch: pytest.MonkeyPatch, no_idle_loops: None
) -> None:
    monkeypatch.setattr(_loop_runner, "_IDLE_SECONDS", 0.3)
    bridge_helpers.overlapping_calls(3)
    time.sleep(0.5)  # longer than the idle timeout
    for _ in range(3):
        async_to_sync(loop_thread_name)()
    # Calls one at a time reuse one runner; every other one has gone.
    assert bridge_helpers.settle(lambda: len(bridge_helpers.loop_threads()) <= 1, 10), [
        thread.name for thread in bridge_helpers.loop_threads()
    ]


@pytest.mark.timeout(60)
def test_one_at_a_time_calls_from_many_threads_keep_one_loop_thread(
    bridge_helpers: Any, no_idle_loops: None
) -> None:
    def caller() -> None:
        async_to_sync(loop_thread_name)()

    for _ in range(20):
        thread = threading.Thread(target=caller)
        thread.start()
        thread.join(30)
    assert len(bridge_helpers.loop_threads()) == 1


@pytest.mark.timeout(60)
def test_an_idle_loop_thread_serves_the_next_call_from_any_thread(no_idle_loops: None) -> None:
    loop_threads: list[threading.Thread] = []

    async def record() -> None:
        loop_threads.append(threading.current_thread())

    def caller() -> None:
        async_to_sync(record)()

    for _ in range(3):
        thread = threading.Thread(target=caller)
        thread.start()
        thread.join(30)
    assert len(loop_threads) == 3
    assert loop_threads[0] is loop_threads[1] is loop_threads[2], (
        "each new calling thread started a loop thread of its own"
    )


@pytest.mark.timeout(60)
def test_single_thread_context_keeps_its_loop_thread_while_open(
    monkeypatch: pytest.MonkeyPatch, no_idle_loops: None
) -> None:
    monkeypatch.setattr(_loop_runner, "_IDLE_SECONDS", 0.1)
    with AsyncSingleThreadContext():
        first = async_to_sync(loop_thread_name)()
        time.sleep(0.4)  # longer than the idle timeout of pooled loops
        second = async_to_sync(loop_thread_name)()
    assert first == second


@pytest.mark.timeout(60)
def test_a_loop_thread_that_dies_fails_the_waiting_call(
    monkeypatch: pytest.MonkeyPatch, no_idle_loops: None
) -> None:
    # Whatever ends a loop thread without resolving its call (here: its
    # serving function returns at once), the caller's wait has a liveness
    # check and ends with an error.
    def broken(self: Any) -> None:
        return None

    monkeypatch.setattr(_loop_runner.LoopRunner, "_serve", broken)
    monkeypatch.setattr(_loop_runner, "_LIVENESS_POLL_SECONDS", 0.05)

    async def never_runs() -> None:
        await asyncio.sleep(0)

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="loop thread"):
        async_to_sync(never_runs)()
    assert time.monotonic() - started < 10
    with warnings.catch_warnings():
        # The call's coroutine was queued on the dead thread's loop, never run.
        warnings.simplefilter("ignore", RuntimeWarning)
        gc.collect()
