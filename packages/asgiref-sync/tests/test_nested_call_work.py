"""The work a nested ``async_to_sync`` call (sync code inside ``sync_to_async``
calling async code on the outer loop) does per call: no import statement,
and no more of asgiref.sync's own Python-level functions than it needs.

Both threads take turns on every such call, so whatever either runs is on
the critical path (the ``a2s_nested_in_s2a`` benchmark row). These tests
count work, never time it.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from asgiref.local._cpython import uses_private
from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async

pytestmark = pytest.mark.timeout(30)

_CALLS = 20

# asgiref.sync's own functions a nested call runs, both threads together: on
# the waiting thread AsyncToSync.__call__, run_on_outer_loop, its _prepare,
# OuterLoopWatch.__init__ and flow_back; on the loop thread start_main_task,
# start_task_in_context, main_wrap, report and resolve; untrack only when
# the task was listed, i.e. it had not finished when its start returned
# (always, where its first step cannot run at once: before 3.12 with the
# first_step touch forced off).
_STARTS_AT_ONCE = sys.version_info >= (3, 12) or uses_private("first_step")
_SYNC_FUNCTIONS_PER_CALL = 10 if _STARTS_AT_ONCE else 11


async def _no_suspension() -> str:
    return "done"


async def _one_suspension() -> str:
    await asyncio.sleep(0)
    return "done"


def _in_sync_package(frame: FrameType) -> bool:
    return f"asgiref{_SEP}sync{_SEP}" in frame.f_code.co_filename


_SEP = "\\" if sys.platform == "win32" else "/"


async def _count_sync_functions(calls: int) -> collections.Counter[str]:
    """Python-level calls into asgiref.sync, per function, over ``calls``
    nested calls (after one that loads everything)."""
    counts: collections.Counter[str] = collections.Counter()
    counting = False

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if counting and event == "call" and _in_sync_package(frame):
            counts[frame.f_code.co_name] += 1

    wrapped = async_to_sync(_no_suspension)

    def worker() -> None:
        nonlocal counting
        assert wrapped() == "done"
        threading.setprofile(profile)
        sys.setprofile(profile)
        counting = True
        try:
            for _ in range(calls):
                assert wrapped() == "done"
        finally:
            counting = False
            sys.setprofile(None)
            threading.setprofile(None)

    # The loop thread (this one) is profiled from here on; only calls made
    # while ``counting`` count.
    sys.setprofile(profile)
    try:
        await sync_to_async(worker)()
    finally:
        sys.setprofile(None)
    return counts


async def test_a_nested_call_runs_no_more_of_asgiref_sync_than_it_needs() -> None:
    counts = await _count_sync_functions(_CALLS)
    per_call = sum(counts.values()) / _CALLS
    assert per_call <= _SYNC_FUNCTIONS_PER_CALL, sorted(counts.items())
    # Nothing was listed (the coroutine finished as it started): nothing to unlist.
    assert counts["untrack"] == (0 if _STARTS_AT_ONCE else _CALLS), sorted(counts.items())


async def test_a_nested_call_runs_no_import_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    wrapped = async_to_sync(_no_suspension)
    imported: list[str] = []
    real_import: Callable[..., Any] = builtins.__import__

    def counting_import(name: str, *args: Any, **kwargs: Any) -> Any:
        # Ours only: the test runner's own imports may run meanwhile.
        if name.startswith("asgiref"):
            imported.append(name)
        return real_import(name, *args, **kwargs)

    def worker() -> list[str]:
        assert wrapped() == "done"  # the first call may load the sync side
        # Patched on the worker thread only while it calls: builtins are
        # process-wide, and the loop thread is blocked meanwhile except for
        # running the nested calls themselves.
        monkeypatch.setattr(builtins, "__import__", counting_import)
        try:
            for _ in range(3):
                assert wrapped() == "done"
        finally:
            monkeypatch.setattr(builtins, "__import__", real_import)
        return imported

    assert await sync_to_async(worker)() == []


async def test_a_suspending_nested_call_is_still_unlisted_when_it_ends() -> None:
    # The task of a call that suspends is listed, so that cancelling the
    # sync_to_async call cancels it; skipping the unlisting for calls that
    # never suspended must not leave this one behind.
    wrapped = async_to_sync(_one_suspension)

    def worker() -> list[Any]:
        listed = SyncToAsync.threadlocal.task_context
        assert listed is not None
        for _ in range(3):
            assert wrapped() == "done"
        return list(listed)

    assert await sync_to_async(worker)() == []
