"""Every use asgiref-sync makes of a private name of CPython or asyncio.

Each use ("touch") is gated by the Python versions it is known for, has a
fallback to public API, and the figure that justifies it beside it (kept only
where it saves at least 5% on a bridge crossing). Setting the environment
variable ``ASGIREF_SYNC_PUBLIC_API`` to ``all`` (or to a comma-separated list
of touch names) before the first import forces the fallbacks; the tests run
the bridge that way on every Python of the matrix.

The figures: median over interleaved rounds of (time with the fallback /
time with the touch), spread in brackets, on the shared 2-core development
machine, 2026-12-07, from ``python packages/asgiref-sync/tools/
private_touch_gains.py 15 <touch>:<case>`` (21 rounds where noted).

This package is that one home: no other module of asgiref-sync names a
private of CPython or asyncio (``tests/test_private_touches.py`` checks it).
This ``__init__`` holds the switch, every touch's gate and fallback, and the
touches on event loops, tasks and coroutine marks; ``_future`` holds the
``future_fields`` touch, CallOutcome (a class big enough for a module of its
own), and imports nothing back from here. Everything the other modules use
is imported from this package, never from ``_future`` directly.

It sits under ``asgiref.local`` because that is the bottom of the package's
import order (local <- current_thread_executor <- sync): every other module
can import it without loading anything above itself.
"""

from __future__ import annotations

import asyncio
import collections
import os
import selectors
import sys
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, Final

from asgiref.local._cpython._future import CallOutcome, release_signal

__all__ = [
    "TOUCHES",
    "CallOutcome",
    "LoopSnapshot",
    "current_policy",
    "default_executor",
    "executor_used",
    "get_running_loop",
    "has_legacy_mark",
    "has_pending_task",
    "new_outcome",
    "open_generators",
    "release_signal",
    "run_first_step_now",
    "set_legacy_mark",
    "snapshot",
    "take_open_generators",
    "uses_private",
]

# The touch names the switch knows.
TOUCHES: Final = frozenset(
    {
        "legacy_mark",
        "running_loop",
        "first_step",
        "task_registry",
        "loop_state",
        "future_fields",
        "default_executor",
    }
)

_FORCED: Final = frozenset(
    TOUCHES
    if (requested := os.environ.get("ASGIREF_SYNC_PUBLIC_API", "")).strip() == "all"
    else {name.strip() for name in requested.split(",") if name.strip()}
)


def uses_private(touch: str) -> bool:
    """Whether ``touch`` is in use in this process (not forced to its fallback)."""
    return touch not in _FORCED


# -- legacy_mark: asyncio's own coroutine-function marker ---------------------
#
# A correctness touch, not a speed one: asyncio.iscoroutinefunction honours
# the marker object ``asyncio.coroutines._is_coroutine`` (the only marker
# before 3.12), so marking objects with it is how markcoroutinefunction makes
# asyncio accept them on every version. Fallback (or if a Python drops it): a
# marker of our own, which only asgiref's iscoroutinefunction (and, on 3.12+,
# inspect's, through its own marker) recognise.

_LEGACY_COROUTINE_MARK: Final[object] = (
    getattr(asyncio.coroutines, "_is_coroutine", None) if uses_private("legacy_mark") else None
) or object()


def set_legacy_mark(target: object) -> None:
    """Mark ``target`` (a function, or an object with a ``__dict__``) as a
    coroutine function the pre-3.12 way; objects that take no attributes
    are left alone."""
    # try/except rather than contextlib.suppress: this runs for every
    # sync_to_async wrapper made, and the context manager costs more than the mark.
    try:
        setattr(target, "_is_coroutine", _LEGACY_COROUTINE_MARK)  # noqa: B010
    except AttributeError:
        return  # an object that takes no attributes stays unmarked


def has_legacy_mark(target: object) -> bool:
    """Whether ``target`` carries the pre-3.12 coroutine-function mark."""
    return getattr(target, "_is_coroutine", None) is _LEGACY_COROUTINE_MARK


# -- running_loop: asyncio's C-level "running loop of this thread, or None" ----
#
# All versions (3.10-3.15 define it in asyncio.events' __all__). Every
# thread-critical ``Local`` access asks it (Django's database connections are
# one per request), and so does each async_to_sync call; the public
# get_running_loop() raises when there is none, an exception per access.
# Gain: thread-critical Local set+get in sync code (local_critical) 2.49x
# (1.51-3.96) on 3.11, 2.29x (1.29-4.32) on 3.10; on crossings it is within
# noise (a2s_plain 1.01x on 3.11, 1.00x on 3.10).


def _running_loop_public() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_private_running_loop: Any = vars(asyncio.events).get("_get_running_loop")
get_running_loop: Final[Callable[[], asyncio.AbstractEventLoop | None]] = (
    _private_running_loop
    if _private_running_loop is not None
    and sys.version_info < (3, 16)
    and uses_private("running_loop")
    else _running_loop_public
)
"""The event loop running in this thread, or None."""


# -- first_step: run a new task's first step at once (3.10/3.11) ------------
#
# 3.12+ start tasks eagerly through public API (asyncio.eager_task_factory);
# before that, the step the new task scheduled is taken back off the loop's
# private ready queue (``_ready``) and run now, as ``Handle._run`` would.
# Fallback: the step runs on the next loop iteration.
# Gain: async_to_sync nested in sync_to_async (a2s_nested) 1.19x (0.75-1.54)
# on 3.11, 1.21x (0.81-2.39) on 3.10.

_FIRST_STEP: Final = sys.version_info < (3, 12) and uses_private("first_step")


def run_first_step_now(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
    """Run the step that creating ``task`` just scheduled on ``loop`` now,
    rather than on the loop's next iteration, where that is known to be safe
    (only asyncio's own loops and handles; not from inside another task;
    only when that step is the newest thing queued). Else do nothing."""
    if not _FIRST_STEP:
        return
    queue: collections.deque[asyncio.Handle] | None = getattr(loop, "_ready", None)
    if not isinstance(queue, collections.deque) or not queue:
        return
    if asyncio.current_task(loop) is not None:
        # A step cannot run inside another task's step.
        return
    handle = queue[-1]
    if type(handle) is not asyncio.Handle:
        return
    task_step = getattr(handle, "_callback", None)
    if getattr(task_step, "__self__", None) is not task:
        return
    # pop() and the check above are not one atomic step: another thread may
    # have appended in between, so put back whatever was not ours.
    popped = queue.pop()
    if popped is not handle:
        queue.append(popped)
        return
    # Handle._run less its exception reporting, which a task's step never
    # needs (it keeps its exceptions itself).
    state: Any = handle
    state._context.run(task_step, *state._args)


# -- task_registry: "does this loop have a pending task?" (3.10-3.13) ----------
#
# There, asyncio.all_tasks is Python code that builds a set through a WeakSet
# iterator; reading the registries behind it directly is cheaper. Asked once
# per async_to_sync call from a plain thread. 3.14+ (C all_tasks) and the
# fallback use asyncio.all_tasks.
# Gain: async_to_sync from a plain thread (a2s_plain, 21 rounds) 1.14x
# (0.70-2.46) on 3.10, 1.09x (0.44-2.19) on 3.11, 1.07x (0.68-1.56) on 3.13.


def _task_registries() -> tuple[Any, Any] | None:
    if sys.version_info >= (3, 14) or not uses_private("task_registry"):
        return None
    weak: Any = getattr(asyncio.tasks, "_scheduled_tasks", None)
    if weak is None:
        weak = getattr(asyncio.tasks, "_all_tasks", None)
    eager: Any = getattr(asyncio.tasks, "_eager_tasks", frozenset[Any]())
    data: Any = getattr(weak, "data", None)
    registries: tuple[Any, Any] = (data, eager)
    return registries if type(data) is set and type(eager) in (set, frozenset) else None


_TASK_REGISTRIES: Final = _task_registries()


def has_pending_task(loop: asyncio.AbstractEventLoop) -> bool:
    """``bool(asyncio.all_tasks(loop))``, asked from outside any task of ``loop``."""
    if _TASK_REGISTRIES is None:
        return bool(asyncio.all_tasks(loop))
    weak_refs, eager = _TASK_REGISTRIES
    # list() of a set is one C-level step under the GIL.
    for ref in list(weak_refs):
        task = ref()
        if task is not None and task.get_loop() is loop and not task.done():
            return True
    if eager:  # tasks running their eager first step (3.12+): rarely any
        for task in list(eager):
            if task.get_loop() is loop and not task.done():
                return True
    return False


# -- loop_state: is a reused event loop still like a fresh one? ----------------
#
# All versions, asyncio's own loops only (BaseEventLoop with a selector). The
# loop runners of async_to_sync reuse a loop only while a call could not tell
# it from a new one, and asyncio's public API has no such question. Fallback
# (other loops, or forced): no snapshot, so the runner replaces its loop
# after every call, and asyncio.run's public exit steps finalise it.
# Gain: async_to_sync from a plain thread (a2s_plain) 2.79x (2.07-5.57) on
# 3.11, 2.66x (1.40-5.15) on 3.10.

_LOOP_STATE: Final = (
    "_stopping",
    "_debug",
    "_exception_handler",
    "_task_factory",
    "_ready",
    "_scheduled",
    "_selector",
    "_asyncgens",
    "_asyncgens_shutdown_called",
    "_default_executor",
    "_executor_shutdown_called",
)

_LOOP_STATE_KNOWN: Final = sys.version_info < (3, 16) and uses_private("loop_state")


def _inspectable(loop: asyncio.AbstractEventLoop) -> bool:
    return (
        _LOOP_STATE_KNOWN
        and isinstance(loop, asyncio.BaseEventLoop)
        and all(hasattr(loop, name) for name in _LOOP_STATE)
        and isinstance(getattr(loop, "_selector", None), selectors.BaseSelector)
        and isinstance(getattr(getattr(loop, "_selector", None), "_fd_to_key", None), dict)
    )


def current_policy() -> object:
    """The event loop policy in force, None before one is made; read directly
    (asyncio.get_event_loop_policy() creates one, and warns on 3.14+)."""
    return getattr(asyncio.events, "_event_loop_policy", None)


class LoopSnapshot:
    """What an inspectable loop looked like when new."""

    __slots__ = ("debug", "fds", "policy", "slow_callback_duration")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Taken after creating the loop, which creates the default policy.
        self.policy = current_policy()
        self.debug = loop.get_debug()
        self.slow_callback_duration = loop.slow_callback_duration
        state: Any = loop
        self.fds = len(state._selector._fd_to_key)

    def matches(self, loop: asyncio.AbstractEventLoop, tasks_checked: bool) -> bool:
        """Whether a call could tell ``loop`` from this snapshot of it: nothing
        left to run or to wait for, no setting changed, nothing shut down.
        ``tasks_checked``: the caller knows no task is pending.

        One expression, cheapest checks first: this runs after every call.
        """
        state: Any = loop
        ready = state._ready
        scheduled = state._scheduled
        return (
            not state._stopping
            and state._default_executor is None
            and not state._executor_shutdown_called
            and not state._asyncgens_shutdown_called
            and state._exception_handler is None
            and state._task_factory is None
            and state._debug is self.debug
            and state.slow_callback_duration == self.slow_callback_duration
            and (not ready or all(handle.cancelled() for handle in ready))
            and (not scheduled or all(handle.cancelled() for handle in scheduled))
            and len(state._selector._fd_to_key) == self.fds
            and (not state._asyncgens.data or not open_generators(loop))
            and getattr(asyncio.events, "_event_loop_policy", None) is self.policy
            and (tasks_checked or not has_pending_task(loop))
        )


def snapshot(loop: asyncio.AbstractEventLoop) -> LoopSnapshot | None:
    """A snapshot of a new ``loop``, or None where its state cannot be read."""
    return LoopSnapshot(loop) if _inspectable(loop) else None


def open_generators(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether async generators started on ``loop`` are still open (False
    where the loop's own registry cannot be read)."""
    if not _LOOP_STATE_KNOWN:
        return False
    refs = getattr(getattr(loop, "_asyncgens", None), "data", None)
    if not refs:
        return False
    # Finished or closed generators (no frame) need nothing.
    return any((gen := ref()) is not None and gen.ag_frame is not None for ref in list(refs))


def take_open_generators(loop: asyncio.AbstractEventLoop) -> list[Any]:
    """Empty ``loop``'s registry of async generators and return them: what
    ``loop.shutdown_asyncgens()`` closes, without setting its flag (which
    would make the loop warn about every generator started on it later).
    Fallback: none (the loop is replaced and shut down publicly instead)."""
    registry: Any = getattr(loop, "_asyncgens", None) if _LOOP_STATE_KNOWN else None
    if not registry:
        return []
    generators = list(registry)
    registry.clear()
    return generators


def executor_used(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` made (or shut down) its default executor."""
    if not _LOOP_STATE_KNOWN:
        return False
    return (
        getattr(loop, "_default_executor", None) is not None
        or getattr(loop, "_executor_shutdown_called", False) is True
    )


# -- default_executor: the executor run_in_executor(None, ...) submits to ------
#
# All versions (3.10-3.15's BaseEventLoop.run_in_executor read the same two
# fields). sync_to_async(thread_sensitive=False) without an executor submits
# to it directly (asgiref.sync._outcome.submit): the asyncio future that
# run_in_executor wraps around the executor's future costs another future,
# two callbacks and a loop step per call. Fallback (forced, other loops, a
# run_in_executor of a loop class's own or patched onto the loop object, no
# default executor made yet, or shut down): None, and the caller calls
# run_in_executor, which makes the executor or raises its own error.
# Gain: s2a_gather_1000_insensitive 1.70x -> 1.09x the floor (median of 15
# paired rounds, 3.11); a reused non-thread-sensitive wrapper 1.30x -> 0.84x.

_EXECUTOR_FIELDS_KNOWN: Final = sys.version_info < (3, 16) and uses_private("default_executor")
_STOCK_RUN_IN_EXECUTOR: Final = asyncio.BaseEventLoop.run_in_executor


def default_executor(loop: asyncio.AbstractEventLoop) -> Executor | None:
    """The executor ``loop.run_in_executor(None, ...)`` would submit to now,
    or None where only calling it can tell."""
    if (
        not _EXECUTOR_FIELDS_KNOWN
        or getattr(loop.run_in_executor, "__func__", None) is not _STOCK_RUN_IN_EXECUTOR
        or getattr(loop, "_executor_shutdown_called", True) is not False
    ):
        return None
    executor: Executor | None = getattr(loop, "_default_executor", None)
    return executor


# -- future_fields: CallOutcome, a Future with cheap transitions ---------------
#
# CallOutcome (in _future, which says how) drives concurrent.futures.Future's
# private fields. All versions (they have not changed since 3.8; gated to the
# versions tested). Fallback: plain ``Future`` objects, woken through
# done-callbacks.
# Gain: a2s_plain 1.17x (0.83-1.63) on 3.11, 1.26x (0.52-2.19) on 3.10;
# a2s_nested 1.17x (0.45-1.94) on 3.11, 1.14x (0.81-3.31) on 3.10;
# s2a_reused (21 rounds) 1.19x (0.77-2.62) on 3.13, 1.12x (0.69-1.30) on
# 3.10, 1.08x (0.52-1.65) on 3.11.

_FAST_OUTCOMES: Final = sys.version_info < (3, 16) and uses_private("future_fields")

new_outcome: Final[Callable[[], Future[Any]]] = CallOutcome if _FAST_OUTCOMES else Future
"""A new pending outcome future: a CallOutcome, or a plain Future (fallback)."""
