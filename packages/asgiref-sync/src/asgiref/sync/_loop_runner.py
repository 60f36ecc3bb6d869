"""Long-lived event-loop threads for ``async_to_sync`` calls from plain threads.

Creating a thread and an event loop for every call costs far more than the
thread hop itself, so each calling thread keeps one loop thread and reuses it.
What that trades, and how each difference from a fresh loop is undone:

* Tasks a call leaves behind would outlive it on a shared loop: every task the
  loop creates is tracked, and leftovers are cancelled and awaited before the
  call counts as finished, as closing a private loop would do.
* Unfinished async generators would be finalised late: they are closed at the
  end of each call as well.
* The loop thread must not outlive its user: the runner lives in the calling
  thread's ``threading.local``; when that thread ends, the runner is released
  and its loop stops. The thread is a daemon so it never delays exit.
* A forked child cannot use its parent's loop thread: runners remember their
  PID and a child builds its own.
* A nested call (e.g. ``force_new_loop``) finds the runner busy and gets a
  one-shot runner, torn down after that call, exactly like a fresh loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import weakref
from collections.abc import Coroutine, MutableMapping
from concurrent.futures import Future
from contextvars import Context
from typing import Any

from asgiref.current_thread_executor import CallOutcome
from asgiref.sync import _create_task_in_context  # pyright: ignore[reportPrivateUsage]

__all__ = ["LoopRunner", "acquire_runner", "runner_for_this_thread"]


class LoopRunner:
    """One event loop running forever on its own daemon thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._in_use = threading.Lock()
        self.closing = False
        self._current_done: Future[None] | None = None
        # The factory closes over the task set only, not the runner, so the
        # loop never keeps its runner alive.
        self.loop.set_task_factory(_tracking_factory(self._tasks))
        threading.Thread(
            target=self._serve_forever, name="asgiref-async_to_sync-loop", daemon=True
        ).start()

    # -- ownership --------------------------------------------------------

    def retired(self) -> bool:
        """Closing, or inherited by a forked child: never usable again."""
        return self.closing or self.pid != os.getpid()

    def try_acquire(self) -> bool:
        return not self.retired() and self._in_use.acquire(False)

    def release(self) -> None:
        self._in_use.release()

    def close(self) -> None:
        """Stop the loop thread (from any thread; idempotent)."""
        if self.retired():
            # A forked child must not signal its parent's loop through the
            # inherited self-pipe.
            return
        self.closing = True
        with contextlib.suppress(RuntimeError):  # already closed
            self.loop.call_soon_threadsafe(self.loop.stop)

    # -- running calls ------------------------------------------------------

    def launch(self, coro: Coroutine[Any, Any, Any], context: Context) -> Future[None]:
        """Run ``coro`` as a task in ``context``; the returned future is done
        once the task and everything it left behind have finished."""
        done: Future[None] = CallOutcome()
        self._current_done = done
        try:
            self.loop.call_soon_threadsafe(self._start, coro, context, done)
        except RuntimeError as exc:
            coro.close()
            done.set_exception(exc)
        return done

    def _start(self, coro: Coroutine[Any, Any, Any], context: Context, done: Future[None]) -> None:
        try:
            task = _create_task_in_context(self.loop, coro, context)
        except BaseException as exc:
            coro.close()
            done.set_exception(exc)
            return
        task.add_done_callback(lambda finished: self._after(finished, done))

    def _after(self, main: asyncio.Task[Any], done: Future[None]) -> None:
        leftovers = [task for task in self._tasks if not task.done()]
        if not leftovers and not _open_generators(self.loop):
            done.set_result(None)
            return
        cleanup = self.loop.create_task(self._sweep(leftovers))
        cleanup.add_done_callback(lambda _: _settle(done))

    async def _sweep(self, leftovers: list[asyncio.Task[Any]]) -> None:
        for task in leftovers:
            task.cancel()
        outcomes = await asyncio.gather(*leftovers, return_exceptions=True)
        for task, outcome in zip(leftovers, outcomes, strict=True):
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, asyncio.CancelledError
            ):
                self.loop.call_exception_handler(
                    {
                        "message": "unhandled exception in a task left behind by async_to_sync",
                        "exception": outcome,
                        "task": task,
                    }
                )
        generators = _open_generators(self.loop)
        if generators:
            await asyncio.gather(*[gen.aclose() for gen in generators], return_exceptions=True)

    def _serve_forever(self) -> None:
        loop = self.loop
        try:
            while True:
                loop.run_forever()
                if self.closing:
                    break
                # Someone stopped our loop from inside a call: fail that call
                # rather than leave its caller waiting forever.
                done = self._current_done
                if done is not None and not done.done():
                    self.closing = True
                    done.set_exception(
                        RuntimeError("Event loop stopped before the coroutine completed.")
                    )
                    break
        finally:
            try:
                leftovers = [task for task in self._tasks if not task.done()]
                if leftovers:
                    loop.run_until_complete(self._sweep(leftovers))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()


def _open_generators(loop: asyncio.AbstractEventLoop) -> list[Any]:
    # The loop's weak set of async generators it has seen (a private
    # attribute of asyncio's loops; other loops simply skip this step).
    # Finished or closed generators (no frame) need nothing.
    seen = getattr(loop, "_asyncgens", None)
    if not seen:
        return []
    return [gen for gen in list(seen) if gen.ag_frame is not None]


def _settle(done: Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def _tracking_factory(tasks: set[asyncio.Task[Any]]) -> Any:
    def make_task(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        if not task.done():
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return task

    return make_task


class _Holder:
    """Owns a runner on behalf of one thread; when the thread ends and its
    thread-local storage is dropped, the runner is closed."""

    __slots__ = ("__weakref__", "runner")

    def __init__(self) -> None:
        self.runner = LoopRunner()
        weakref.finalize(self, self.runner.close).atexit = False


_per_thread = threading.local()


def runner_for_this_thread() -> tuple[LoopRunner, bool]:
    """A runner that is free for one call, and whether it is a one-shot runner
    that the caller must close afterwards."""
    holder: _Holder | None = getattr(_per_thread, "holder", None)
    if holder is None or holder.runner.retired():
        holder = _Holder()
        _per_thread.holder = holder
    return _acquired_or_spare(holder.runner)


def acquire_runner(
    single_context: object, runners: MutableMapping[Any, LoopRunner]
) -> tuple[LoopRunner, bool]:
    """The runner for one ``async_to_sync`` call and whether it is one-shot.

    Inside an ``AsyncSingleThreadContext`` (``single_context``, else None)
    that context's runner, kept in ``runners`` and created on first use;
    a one-shot runner while it is busy (a nested call). Otherwise this
    thread's runner.
    """
    if single_context is None:
        return runner_for_this_thread()
    runner = runners.get(single_context)
    if runner is None or runner.retired():
        # First use, or retired by an interrupted call: the context gets a
        # new thread of its own rather than one-shot loops from then on.
        runner = runners[single_context] = LoopRunner()
    return _acquired_or_spare(runner)


def _acquired_or_spare(runner: LoopRunner) -> tuple[LoopRunner, bool]:
    # Busy (a nested call): a one-shot runner, which the caller closes.
    if runner.try_acquire():
        return runner, False
    spare = LoopRunner()
    spare.try_acquire()
    return spare, True
