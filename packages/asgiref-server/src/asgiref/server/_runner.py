"""Run a server's main coroutine on a new event loop, with a shutdown that has a deadline.

``asyncio.run`` ends by cancelling every task left on the loop and waiting for
all of them without limit, so one task that swallows cancellation keeps it
from ever returning. :func:`run_until_stopped` does the same cleanup (tasks,
async generators, default executor) but gives up on whatever is still running
at the deadline, logs it, and closes the loop anyway.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any

__all__ = ["abandon", "run_until_stopped"]

logger = logging.getLogger("asgiref.server")

# The least each cleanup step gets once the deadline has passed: enough for
# cooperative tasks to finish (a few loop turns), short enough that the steps
# together stay well under a second.
_STEP_FLOOR = 0.1

# Tasks whose owner already gave up on them (and said so in the log).
_abandoned: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()


def abandon(task: asyncio.Future[Any]) -> None:
    """Mark ``task`` as given up on: the cleanup neither waits for it nor logs it again."""
    _abandoned.add(task)


def run_until_stopped(
    main: Coroutine[Any, Any, None], deadline: Callable[[], float | None], grace: float
) -> None:
    """Run ``main`` on a new loop, then clean up until ``deadline()`` at the latest.

    ``deadline()`` returns when (``time.monotonic()``) the stop that ``main``
    performed must be over, or None if it set none; then the cleanup gets
    ``grace`` seconds. Ctrl-C in the main thread cancels ``main`` so that it
    stops cleanly, then ``KeyboardInterrupt`` is raised; a second Ctrl-C cuts
    the cleanup short.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        main.close()
        raise RuntimeError("run() cannot be called from a running event loop; await arun()")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # Our own default executor (asyncio would make the same lazily): its
    # shutdown can then be waited for with a limit, on every Python version.
    executor = ThreadPoolExecutor(thread_name_prefix="asyncio")
    loop.set_default_executor(executor)
    task = loop.create_task(main)
    interrupts = _InterruptCounter(loop, task)
    try:
        with interrupts:
            try:
                loop.run_until_complete(task)
            except asyncio.CancelledError:
                if not interrupts.count:
                    raise
    finally:
        # Here early when a BaseException left the loop: KeyboardInterrupt or
        # SystemExit raised by a task (main still gets its clean stop), or a
        # second Ctrl-C (then nothing is waited for beyond a few loop turns).
        budget = 0.0 if interrupts.count > 1 else grace
        try:
            if not task.done():
                task.cancel()
                _wait_some(loop, (task,), time.monotonic() + budget)
            until = deadline() if budget else None
            until = time.monotonic() + budget if until is None else until
            _clean_up(loop, until)
            _shut_down(executor, until)
        finally:
            asyncio.set_event_loop(None)
            loop.close()
    if interrupts.count:
        raise KeyboardInterrupt


class _InterruptCounter:
    """While active (main thread, default SIGINT handler only): Ctrl-C cancels ``task``.

    The first Ctrl-C lets the server stop cleanly; the next ones raise
    ``KeyboardInterrupt`` as usual.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
        self._loop = loop
        self._task = task
        self.count = 0
        self._installed = False

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return  # somebody else decides what Ctrl-C means
        signal.signal(signal.SIGINT, self._on_interrupt)
        self._installed = True

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1 or self._task.done():
            raise KeyboardInterrupt
        # From a signal handler, only the thread-safe call is safe (it also
        # wakes the loop if it is waiting in select()).
        self._loop.call_soon_threadsafe(self._task.cancel)


def _clean_up(loop: asyncio.AbstractEventLoop, until: float) -> None:
    """Cancel the tasks left on ``loop`` and close its async generators, until ``until``."""
    leftovers = [
        task for task in asyncio.all_tasks(loop) if not task.done() and task not in _abandoned
    ]
    for task in leftovers:
        task.cancel()
    _wait_some(loop, leftovers, until)
    for task in leftovers:
        if not task.done():
            logger.warning("Task %r ignored cancellation at shutdown; abandoned", task.get_name())
        elif not task.cancelled() and task.exception() is not None:
            # Nobody awaits these any more: report, as asyncio.run would.
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during StatelessServer.run() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )
    closing = loop.create_task(loop.shutdown_asyncgens())
    _wait_some(loop, (closing,), until)
    if not closing.done():
        closing.cancel()
        _wait_some(loop, (closing,), 0)
        logger.warning("Closing the async generators took too long; abandoned")


def _shut_down(executor: ThreadPoolExecutor, until: float) -> None:
    # loop.shutdown_default_executor() cannot be bounded before Python 3.12
    # (cancelling it still joins its thread), so the join is done here.
    closer = threading.Thread(
        target=executor.shutdown, name="asgiref.server executor shutdown", daemon=True
    )
    closer.start()
    closer.join(max(until - time.monotonic(), _STEP_FLOOR))
    if closer.is_alive():
        logger.warning(
            "A thread of the default executor is still busy at shutdown; abandoned (it "
            "keeps running, and the interpreter waits for it at exit)"
        )


def _wait_some(
    loop: asyncio.AbstractEventLoop, tasks: Iterable[asyncio.Future[Any]], until: float
) -> None:
    """Run the loop until ``tasks`` are done or ``until`` (at least ``_STEP_FLOOR`` s) passes."""
    pending = [task for task in tasks if not task.done()]
    if pending:
        timeout = max(until - time.monotonic(), _STEP_FLOOR)
        loop.run_until_complete(asyncio.wait(pending, timeout=timeout))
