"""Event loops for ``async_to_sync`` calls made from threads without one.

Upstream runs each such call under a fresh ``asyncio.run`` on a new thread.
A thread and a loop per call cost far more than the hop itself, so loops keep
running on a few long-lived threads and are reused, but only where a call
cannot tell the difference (the checks and asyncio.run's exit steps are in
asgiref.sync._fresh_loop):

* What ``asyncio.run`` does on exit is done after every call, on the same
  loop: tasks left behind are cancelled and awaited (their failures go to the
  exception handler), open async generators are closed, and a default
  executor the call used is shut down, which waits for its work.
* Settings a call may change (exception handler, debug mode,
  ``slow_callback_duration``, task factory) are put back.
* Anything else that a fresh loop would not have (a pending timer or
  callback, a registered file descriptor, a shut-down executor or generator
  hook, tasks started during the clean-up, a loop stopped by user code, a
  new event loop policy, a loop type whose internals are unknown) makes the
  runner finalise that loop as ``asyncio.run`` would and start a new one on
  the same thread, before the call returns.
* A ``SystemExit`` or ``KeyboardInterrupt`` that escapes the loop (raised by
  a task or a callback) ends the loop as it ends ``asyncio.run``: the loop is
  finalised, the exception goes to the caller, and the thread carries on
  with a new loop.
* Runners belong to the process, not to calling threads: a call takes an
  idle runner or starts one (it never waits for a busy one: that could
  deadlock) and gives it back afterwards. At most ``max(2, os.cpu_count())``
  idle runners are kept, the most recently used on top; the others close at
  once. Idle ones are released after ``_IDLE_SECONDS`` (see _Pool).
* The caller waits with a liveness check: a loop thread that ends without
  resolving its call fails that call instead of leaving it waiting.
* A forked child forgets the pool (the parent's threads do not exist there),
  and runners remember their PID.
* An ``AsyncSingleThreadContext`` owns a runner of its own (not pooled), so
  every call inside it runs on one thread, one at a time (callers wait their
  turn; a call made inside the running one is pooled: asgiref.sync._contexts).

The trade: the loop *object* is reused, so code that keeps a reference to it
after its call can still schedule callbacks on it (on a closed loop they
would raise).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import os
import threading
import time
from collections.abc import Coroutine, MutableMapping
from concurrent.futures import Future
from contextvars import Context
from typing import Any

from asgiref.current_thread_executor import CurrentThreadExecutor
from asgiref.local._cpython import executor_used, has_pending_task, new_outcome, open_generators
from asgiref.sync._contexts import Turns
from asgiref.sync._coroutines import create_task_in_context
from asgiref.sync._fresh_loop import FreshLoop, exit_steps, finalise
from asgiref.sync._one_thread import bridge_thread
from asgiref.sync._outcome import resolve

__all__ = ["LoopRunner", "acquire_runner", "close_idle_runners", "release_runner"]

# Read when used, so tests can shorten them.
_IDLE_SECONDS = 5.0
_LIVENESS_POLL_SECONDS = 0.25

_MAX_IDLE = max(2, os.cpu_count() or 1)

# What a runner's current call is doing (LoopRunner._state).
_IDLE = 0  # no call
_RUNNING = 1  # launched; the coroutine has not finished
_CLEANING = 2  # finished; asyncio.run's exit steps are running
_REPLACING = 3  # cleaned, but the loop is not like a fresh one: it is being replaced
_FINALISING = 4  # stopped or broken out of: finalised as asyncio.run's exit would

_thread_numbers = itertools.count(1)

# This process's ID (kept current by the fork hook at the end of this
# module): os.getpid() is a system call, and runners compare it on every call.
_pid = os.getpid()


class LoopRunner:
    """An event loop running on a daemon thread of its own, one call at a time."""

    def __init__(self, *, pooled: bool) -> None:
        self.pid = _pid
        self.pooled = pooled
        self.closing = False
        # Guards ``closing`` against a loop replacement in progress.
        self._lock = threading.Lock()
        self.turns = Turns()  # a context's runner's calls take turns
        self._state = _IDLE
        self._done: Future[None] | None = None
        self._watched: Future[None] | None = None
        self._cleanup: asyncio.Task[None] | None = None
        # Set under the pool's lock while the runner waits in the pool.
        self.pooled_since: float | None = None
        # Armed by _finish when this runner may become surplus.
        self._idle_timer: asyncio.TimerHandle | None = None
        self.loop = self._new_loop()
        self._thread = bridge_thread(
            self._serve, f"asgiref-async_to_sync-loop-{next(_thread_numbers)}"
        )
        self._thread.start()

    # -- ownership --------------------------------------------------------

    def retired(self) -> bool:
        """Closing, ended, or inherited by a forked child: never usable again."""
        # ``closing`` is set whenever the thread ends (see _serve and
        # _check_alive), which spares the hot path a Thread.is_alive() call.
        return self.closing or self.pid != _pid

    def close(self, *, wait: bool = True) -> None:
        """Stop the loop thread (any thread; idempotent), cancelling a running
        call; a context's runner, if ``wait``, first lets its calls finish."""
        if self.pid != _pid:
            # A forked child must not signal its parent's loop through the
            # inherited self-pipe.
            return
        if wait and not self.pooled:
            self.turns.wait_until_unused(self.retired, then=self._stop)
        else:
            self._stop()

    def _stop(self) -> None:
        with self._lock:
            self.closing = True
            loop = self.loop
        with contextlib.suppress(RuntimeError):  # closed: the thread is ending anyway
            loop.call_soon_threadsafe(loop.stop)

    # -- the calling side -------------------------------------------------

    def launch(self, coro: Coroutine[Any, Any, Any], context: Context) -> Future[None]:
        """Run ``coro`` as the call's main task, in ``context``. The returned
        future is done once the call is over and cleaned up: with None, or
        with what escaped the loop."""
        done: Future[None] = new_outcome()
        if not self.pooled:
            self.turns.mark(context)
        self._done = done
        self._state = _RUNNING
        try:
            self.loop.call_soon_threadsafe(self._start, coro, context, done)
        except RuntimeError as exc:  # closed: only if the thread has ended
            coro.close()
            resolve(done, error=exc)
        return done

    def serve_until_done(self, executor: CurrentThreadExecutor, done: Future[None]) -> None:
        """Serve ``executor``'s work on this thread until ``done``, checking
        now and then that the loop thread still lives."""
        self._watched = done
        try:
            executor.begin(done)
            executor.serve(done, _LIVENESS_POLL_SECONDS, self._check_alive)
        finally:
            # Not kept: it may hold an exception, and with it frames.
            self._watched = None

    def _check_alive(self) -> None:
        done = self._watched
        if not self._thread.is_alive() and done is not None:
            self.closing = True  # however it ended, it takes no more calls
            with contextlib.suppress(Exception):  # nothing runs it any more
                self.loop.close()
            resolve(
                done,
                error=RuntimeError(
                    "The event loop thread running this async_to_sync call ended "
                    "before the coroutine completed."
                ),
            )

    # -- the loop side: one call --------------------------------------------

    def _start(self, coro: Coroutine[Any, Any, Any], context: Context, done: Future[None]) -> None:
        if done is not self._done or self._state != _RUNNING:
            coro.close()  # the call was given up (the runner is closing)
            return
        timer = self._idle_timer
        if timer is not None:
            self._idle_timer = None
            timer.cancel()
        try:
            task = create_task_in_context(self.loop, coro, context)
        except BaseException as exc:
            coro.close()
            self._state = _IDLE
            self._done = None
            resolve(done, error=exc)
            return
        task.add_done_callback(self._main_done)

    def _main_done(self, _main: asyncio.Task[Any]) -> None:
        if self._state != _RUNNING:
            return  # being finalised after a stop or an escape
        if self._fresh.matches(self.loop):
            self._finish()  # the common case: nothing left, nothing changed
            return
        loop = self.loop
        if has_pending_task(loop) or open_generators(loop) or executor_used(loop):
            self._state = _CLEANING
            # Created directly, not through a task factory the call may have set.
            leftovers = asyncio.all_tasks(loop)
            self._cleanup = asyncio.Task(self._clean_up(leftovers), loop=loop)
        else:
            self._conclude(tasks_checked=True)

    async def _clean_up(self, leftovers: set[asyncio.Task[Any]]) -> None:
        loop = self.loop
        try:
            await exit_steps(loop, leftovers, reusing=True)
        finally:
            if self._state == _CLEANING:
                # After this task has finished, so it is not a leftover.
                loop.call_soon(self._conclude)

    def _conclude(self, tasks_checked: bool = False) -> None:
        """The call is over and cleaned up: put the settings back and resolve
        it, or replace the loop first if it is not like a fresh one."""
        if self._state not in (_RUNNING, _CLEANING):
            return
        self._cleanup = None
        loop = self.loop
        self._fresh.restore_settings(loop)
        if self._fresh.matches(loop, tasks_checked):
            self._finish()
        else:
            self._state = _REPLACING
            loop.stop()

    def _finish(self) -> None:
        done = self._go_idle()
        if done is not None:
            resolve(done)

    def _go_idle(self) -> Future[None] | None:
        """End the current call's state on a usable loop; the call's future
        (for the caller to resolve)."""
        done, self._done = self._done, None
        self._state = _IDLE
        if self.pooled and self._idle_timer is None and _pool.overlapping():
            # Other calls run or ran beside this one: it may become surplus,
            # so it closes itself after _IDLE_SECONDS in the pool. Not when
            # calls come one at a time: a pending timer costs every blocking
            # wait of the loop a timeout (about 7% of a call here). So of a
            # quiet pool, only a runner that last served a call on its own
            # can stay: at most one idle thread (see _Pool).
            self._idle_timer = self.loop.call_later(_IDLE_SECONDS, self._check_idle)
        return done

    # -- the loop side: the thread --------------------------------------------

    def _serve(self) -> None:
        try:
            while True:
                loop = self.loop
                asyncio.set_event_loop(loop)  # as asyncio.run does, for code that asks
                escaped: BaseException | None = None
                try:
                    loop.run_forever()
                except BaseException as exc:  # a task's or callback's SystemExit, say
                    escaped = exc
                state = self._state
                self._state = _FINALISING
                # Also after a clean-up (_REPLACING): it runs what a fresh
                # loop would not have had, as asyncio.run's exit steps would.
                escaped = finalise(loop, escaped)
                if escaped is None and state in (_RUNNING, _CLEANING):
                    # User code stopped the loop: asyncio.run's own error.
                    escaped = RuntimeError("Event loop stopped before the coroutine completed.")
                asyncio.set_event_loop(None)
                with self._lock:
                    carry_on = not self.closing
                    if carry_on:
                        try:
                            self.loop = self._new_loop()
                        except BaseException as exc:  # e.g. out of file descriptors
                            self.closing, carry_on = True, False
                            if escaped is None:
                                escaped = exc
                if carry_on:
                    done = self._go_idle()
                else:
                    done, self._done = self._done, None
                if done is not None:
                    resolve(done, error=escaped)
                if not carry_on:
                    return
        finally:
            with self._lock:
                self.closing = True
            done = self._done
            if done is not None:
                resolve(done, error=RuntimeError("The event loop thread of async_to_sync ended."))

    def _new_loop(self) -> asyncio.AbstractEventLoop:
        # In a fresh context: the loop keeps the context it was made in (its
        # self-pipe reader's handle holds a copy) for as long as it lives,
        # and the first loop is made in the thread of whichever call needed it.
        loop = contextvars.Context().run(asyncio.new_event_loop)
        self._fresh = FreshLoop(loop)
        self._idle_timer = None
        return loop

    def _check_idle(self) -> None:
        """Close this runner if it has waited in the pool for _IDLE_SECONDS,
        else look again when it would have (see _go_idle)."""
        self._idle_timer = None
        now = time.monotonic()
        with _pool.lock:
            since = self.pooled_since
            expired = since is not None and now - since >= _IDLE_SECONDS
            if expired:
                _pool.idle.remove(self)
                self.pooled_since = None
        if expired:
            self.close()
            return
        # Not in the pool yet (the caller is about to give it back), or not
        # for long enough.
        wait = _IDLE_SECONDS if since is None else _IDLE_SECONDS - (now - since)
        self._idle_timer = self.loop.call_later(max(wait, 0.01), self._check_idle)


# -- the pool ------------------------------------------------------------------


class _Pool:
    """Idle runners, the most recently used last, and how many are lent out.

    At the end of each call a runner looks here: if other runners are lent
    out or idle, it arms a timer and closes itself after _IDLE_SECONDS in
    the pool. Only a runner that was the one lent out, with none idle, goes
    without (so calls made one at a time pay no timer); two such runners are
    never idle at once, and a give-back retires one that has waited that
    long at the bottom of the pool. A pool left alone keeps at most one.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[LoopRunner] = []
        self.lent = 0

    def overlapping(self) -> bool:
        """Whether other runners are idle here or serving calls (asked by a
        runner that is still lent out).

        Read without the lock (this is asked after every call): changes under
        the lock come in an order that never makes a reader see fewer runners
        than there were, only more (a give-back pushes, then counts down; a
        borrow counts up, then pops).
        """
        return bool(self.idle) or self.lent > 1


_pool = _Pool()


def _borrow() -> LoopRunner:
    with _pool.lock:
        _pool.lent += 1
        while _pool.idle:
            runner = _pool.idle.pop()
            runner.pooled_since = None
            if not runner.retired():
                return runner
    try:
        return LoopRunner(pooled=True)
    except BaseException:  # e.g. out of threads or file descriptors
        with _pool.lock:
            _pool.lent -= 1
        raise


def _give_back(runner: LoopRunner, reusable: bool) -> None:
    expired: LoopRunner | None = None
    now = time.monotonic()
    with _pool.lock:
        idle = _pool.idle
        # The longest idle runner, at the bottom, may carry no timer of its
        # own (see LoopRunner._go_idle): calls that keep coming retire it.
        if idle and now - (idle[0].pooled_since or now) >= _IDLE_SECONDS:
            expired = idle.pop(0)
            expired.pooled_since = None
        keep = reusable and not runner.retired() and len(idle) < _MAX_IDLE
        if keep:
            runner.pooled_since = now
            idle.append(runner)
        _pool.lent -= 1  # after the push (see _Pool.overlapping)
    if expired is not None:
        expired.close()
    if not keep:
        runner.close()


def close_idle_runners() -> None:
    """Close every idle runner now (their threads end shortly after)."""
    with _pool.lock:
        idle, _pool.idle = _pool.idle, []
        for runner in idle:
            runner.pooled_since = None
    for runner in idle:
        runner.close()


def acquire_runner(
    single_context: object, runners: MutableMapping[Any, LoopRunner]
) -> tuple[LoopRunner, bool]:
    """The runner for one ``async_to_sync`` call, and whether it is pooled:
    inside an ``AsyncSingleThreadContext`` (``single_context``, else None) its
    own, kept in ``runners`` (made anew once retired), on this call's turn."""
    while single_context is not None:
        runner = runners.get(single_context)
        if runner is None or runner.retired():
            runner = runners[single_context] = LoopRunner(pooled=False)
        if runner.turns.take(runner.retired):
            return runner, False
        if not runner.retired():
            break  # made inside the holder's call: pooled
    return _borrow(), True


def release_runner(runner: LoopRunner, pooled: bool, completed: bool) -> None:
    """Hand a runner back after its call. An interrupted call (``completed``
    false: the caller stopped waiting, e.g. KeyboardInterrupt) retires it,
    which cancels whatever is still running there."""
    if pooled:
        _give_back(runner, reusable=completed)
    else:
        if not completed:
            runner.close(wait=False)  # waiting would wait for this very call
        runner.turns.give_back()


def _forget_pool() -> None:
    global _pid, _pool
    _pid = os.getpid()
    _pool = _Pool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
