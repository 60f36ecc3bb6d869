"""Threads the bridge starts begin in a fresh, empty context, whatever
``sys.flags.thread_inherit_context`` says (3.14+; on by default in
free-threaded builds): a long-lived worker must not keep the context of the
caller that happened to start it, or the values in it, alive."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(60)

_PROGRAM = textwrap.dedent(
    """
    import asyncio, contextvars, gc, sys, threading, weakref
    from asgiref.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

    var = contextvars.ContextVar("held")

    class Held:
        pass

    def seen_by_thread():
        # What the thread itself runs in, outside any call's context.
        return var.get(None)

    async def first_sync_to_async():
        held = Held()
        var.set(held)
        # Starts the process-wide thread-sensitive worker from this task.
        await sync_to_async(lambda: None)()
        async with ThreadSensitiveContext():
            await sync_to_async(lambda: None)()  # a context's own worker
        return weakref.ref(held)

    async def noop():
        return None

    def first_async_to_sync():
        held = Held()
        var.set(held)
        async_to_sync(noop)()  # starts a loop thread from this thread
        return weakref.ref(held)

    refs = [asyncio.run(first_sync_to_async())]
    refs.append(contextvars.copy_context().run(first_async_to_sync))
    gc.collect()
    print(sys.flags.thread_inherit_context if hasattr(sys.flags, "thread_inherit_context") else 0)
    print([ref() is None for ref in refs])
    threads = [t.name for t in threading.enumerate() if t.name.startswith("asgiref")]
    print(sorted(name.rsplit("-", 1)[0] for name in threads))
    """
)


def _run(*flags: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, *flags, "-c", _PROGRAM],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.skipif(sys.version_info < (3, 14), reason="thread_inherit_context is 3.14+")
def test_workers_keep_no_callers_context_alive_when_threads_inherit_it() -> None:
    flag, freed, threads = _run("-X", "thread_inherit_context=1")
    assert flag == "1"
    assert freed == "[True, True]"
    # The workers are still alive: what was freed was not freed by their end.
    assert "asgiref-async_to_sync-loop" in threads
    assert ["asgiref-thread-sensitive", "process_0"][0] in threads


def test_workers_keep_no_callers_context_alive_by_default() -> None:
    _flag, freed, _threads = _run()
    assert freed == "[True, True]"
