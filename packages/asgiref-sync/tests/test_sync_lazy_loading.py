"""What ``import asgiref.sync`` leaves for later, and that later works.

Each program runs in a fresh interpreter: in this test process the modules are
long loaded by other tests, so only a new process shows what one import loads
and what the first call of each kind has to load itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monorepo_testing import python_program_output

pytestmark = pytest.mark.timeout(60)

# Loaded on first use: the sync side of async_to_sync by its first call, the
# bridge's own loops by the first one from a plain thread (servers, whose
# sync code always has an outer loop, never make one).
_DEFERRED = ("asgiref.sync._waiting", "asgiref.sync._loop_runner", "asgiref.sync._fresh_loop")


def test_importing_sync_loads_none_of_what_calls_load_later(tmp_path: Path) -> None:
    output = python_program_output(
        f"""
        import sys
        print(sorted(name for name in {_DEFERRED!r} if name in sys.modules))
        """,
        tmp_path,
    )
    assert output == ["[]"]


def test_a_first_call_chain_nested_both_ways_runs_on_the_outer_thread(tmp_path: Path) -> None:
    # The program's very first bridge call is async_to_sync from a plain
    # thread, with sync_to_async and async_to_sync nested inside it: the
    # nested sync_to_async must find the waiting thread's executor (it runs
    # on the outermost sync thread).
    output = python_program_output(
        """
        import sys, threading
        from asgiref.sync import async_to_sync, sync_to_async
        outer = threading.current_thread()

        async def innermost():
            return "deep"

        def middle():
            assert threading.current_thread() is outer, threading.current_thread()
            return async_to_sync(innermost)()

        async def top():
            return await sync_to_async(middle)()

        print(async_to_sync(top)())
        """,
        tmp_path,
    )
    assert output == ["deep"]


def test_sync_to_async_before_any_async_to_sync_uses_the_thread_sensitive_thread(
    tmp_path: Path,
) -> None:
    output = python_program_output(
        """
        import asyncio, threading
        from asgiref.sync import sync_to_async

        async def main():
            first = await sync_to_async(threading.current_thread)()
            second = await sync_to_async(threading.current_thread)()
            return first is second and first is not threading.current_thread()

        print(asyncio.run(main()))
        """,
        tmp_path,
    )
    assert output == ["True"]


def test_current_thread_executor_is_still_readable_from_sync(tmp_path: Path) -> None:
    # Upstream's asgiref.sync imports it at the top, so code reads it from there.
    output = python_program_output(
        """
        from asgiref.sync import CurrentThreadExecutor
        import asgiref.current_thread_executor as home
        print(CurrentThreadExecutor is home.CurrentThreadExecutor)
        try:
            asgiref.sync.NoSuchName
        except AttributeError as exc:
            print(exc)
        """,
        tmp_path,
    )
    assert output == [
        "True",
        "module 'asgiref.sync' has no attribute 'NoSuchName'",
    ]
