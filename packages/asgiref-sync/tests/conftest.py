"""Helpers shared by asgiref-sync's tests of the bridge's own event loops.

Calls run in threads of their own with a deadline, so a bridge that hangs
fails the test instead of blocking the run; resource counts let a test check
that nothing was left behind.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

# How long a call that should finish quickly may take before it counts as hung.
HANG_SECONDS = 20.0


@dataclass(frozen=True)
class Outcome:
    """What a call ended with: its value, or the exception that escaped it."""

    value: Any = None
    raised: BaseException | None = None

    def kind(self) -> tuple[str, Any]:
        """Comparable summary: ("raised", type) or ("value", value)."""
        if self.raised is not None:
            return ("raised", type(self.raised))
        return ("value", self.value)


def outcome_in_thread(call: Callable[[], Any], timeout: float = HANG_SECONDS) -> Outcome:
    """Run ``call`` in a new thread; fail the test if it does not end in time."""
    box: list[Outcome] = []

    def target() -> None:
        try:
            box.append(Outcome(value=call()))
        except BaseException as exc:  # every kind is an outcome here
            box.append(Outcome(raised=exc))

    thread = threading.Thread(target=target, name="test-caller", daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the call did not return within {timeout} s (it hangs)"
    return box[0]


def open_fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes (bounded)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("asgiref-async_to_sync-loop")]


def overlapping_calls(callers: int) -> list[tuple[str, int]]:
    """Make ``callers`` async_to_sync calls from as many new threads, all
    running at once (each waits, on its loop, until every one has started: a
    call that waited for another's loop would never get there). The name of
    each call's loop thread and the id of its loop."""
    from asgiref.sync import async_to_sync

    inside = threading.Barrier(callers, timeout=30)
    seen: list[tuple[str, int]] = []

    async def meet() -> None:
        loop = asyncio.get_running_loop()
        seen.append((threading.current_thread().name, id(loop)))
        await loop.run_in_executor(None, inside.wait)

    threads = [threading.Thread(target=async_to_sync(meet)) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_SECONDS * 2)
    assert not any(thread.is_alive() for thread in threads), "overlapping calls hung"
    assert len(seen) == callers
    return seen


def close_idle_loops() -> None:
    """Close the idle loop threads of async_to_sync and wait until they end."""
    from asgiref.sync import _loop_runner

    close_idle = getattr(_loop_runner, "close_idle_runners", None)
    if close_idle is not None:
        close_idle()
    settle(lambda: not loop_threads(), 10)


@dataclass(frozen=True)
class Helpers:
    """What the fixture ``bridge_helpers`` offers (test modules cannot import
    a conftest reliably)."""

    outcome_in_thread: Callable[..., Outcome] = outcome_in_thread
    open_fd_count: Callable[[], int] = open_fd_count
    settle: Callable[[Callable[[], bool], float], bool] = settle
    loop_threads: Callable[[], list[threading.Thread]] = loop_threads
    close_idle_loops: Callable[[], None] = close_idle_loops
    overlapping_calls: Callable[[int], list[tuple[str, int]]] = overlapping_calls


@pytest.fixture
def bridge_helpers() -> Helpers:
    return Helpers()


@pytest.fixture
def no_idle_loops() -> Any:
    """Start and end the test with no idle loop thread of async_to_sync."""
    close_idle_loops()
    yield
    close_idle_loops()
