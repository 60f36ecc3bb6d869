"""The one event loop per process that runs every AsgiToWsgi application.

It runs in a daemon thread started on first use. A fork makes the child forget
the parent's loop (its thread does not exist there) so the child starts its own
on first use; at interpreter exit the registered shutdown hooks run, remaining
tasks are cancelled and the loop stops, each step bounded in time. A task's
SystemExit or KeyboardInterrupt does not end the loop.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

logger = logging.getLogger("asgiref.wsgi")

_T = TypeVar("_T")
ExitHook = Callable[[], Coroutine[Any, Any, None]]

_START_TIMEOUT = 10.0
# What a forked child inherited from its parent's loop (see LoopThread._forget).
_inherited: list[tuple[asyncio.AbstractEventLoop, set[asyncio.Task[Any]]]] = []
_STOP_TIMEOUT = 5.0
# CPython 3.12.0 to 3.12.2 refuse to start a thread once interpreter exit has
# begun (gh-113964, fixed in 3.12.3), and that is when lifespan shutdown runs.
_EXIT_REFUSES_THREADS = (3, 12) <= sys.version_info[:3] < (3, 12, 3)


class LoopThread:
    """A lazily started event loop in its own thread; one per process."""

    def __init__(self) -> None:
        self._forget()
        os.register_at_fork(after_in_child=self._forget)
        _register_exit(self.stop)

    def _forget(self) -> None:
        # In a forked child a lock may have been held by a thread that does not
        # exist there: everything is made anew, nothing of the parent's reused.
        # The parent's loop and its pending tasks are kept, never run: collected,
        # each task would log "Task was destroyed but it is pending!".
        parents_loop = getattr(self, "_loop", None)
        if parents_loop is not None:
            _inherited.append((parents_loop, asyncio.all_tasks(parents_loop)))
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._exit_hooks: dict[int, ExitHook] = {}
        self.generation = getattr(self, "generation", 0) + 1

    @property
    def lock(self) -> threading.Lock:
        """A lock that is valid in this process (remade after a fork)."""
        self._check_pid()
        return self._lock

    def _check_pid(self) -> None:
        # at-fork hooks do not run when a process is cloned by other means.
        if self._pid != os.getpid():
            self._forget()

    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop of this process, started now if needed."""
        self._check_pid()
        loop = self._loop
        if loop is not None:
            return loop
        with self._lock:
            if self._loop is None:
                self._loop = self._start()
            return self._loop

    def _start(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        running = threading.Event()
        loop.call_soon(running.set)
        if _EXIT_REFUSES_THREADS:
            # An idle worker started now still serves run_in_executor(None, ...)
            # and asyncio.to_thread() in a shutdown handler at exit.
            loop.call_soon(loop.run_in_executor, None, _idle)
        thread = threading.Thread(
            target=_run_until_stopped,
            args=(loop,),
            name="asgiref.wsgi AsgiToWsgi loop",
            daemon=True,
        )
        thread.start()
        if not running.wait(_START_TIMEOUT):
            raise RuntimeError("the AsgiToWsgi event loop thread did not start")
        self._thread = thread
        return loop

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> Future[_T]:
        """Schedule ``coroutine`` on the loop; the caller waits on the future, bounded."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop())

    def on_exit(self, key: int, hook: ExitHook | None) -> None:
        """Register (or with ``None`` drop) a coroutine to run before the loop stops."""
        self._check_pid()
        if hook is None:
            self._exit_hooks.pop(key, None)
        else:
            self._exit_hooks[key] = hook

    def stop(self) -> None:
        """Run the exit hooks, cancel what is left and stop the loop (bounded)."""
        if self._pid != os.getpid():
            return  # the parent's loop; nothing of it runs here
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        hooks = list(self._exit_hooks.values())
        self._exit_hooks.clear()
        for hook in hooks:
            try:
                # Each hook bounds its own waits; this only guards against a stuck loop.
                self.run(hook()).result(timeout=_STOP_TIMEOUT * 12)
            except Exception:
                logger.exception("AsgiToWsgi: an exit hook failed")
        try:
            self.run(_cancel_others()).result(timeout=_STOP_TIMEOUT * 2)
        except Exception:
            logger.warning("AsgiToWsgi: tasks still running at exit were left behind")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_STOP_TIMEOUT)
        self._loop = self._thread = None
        if not thread.is_alive():
            loop.close()


def _run_until_stopped(loop: asyncio.AbstractEventLoop) -> None:
    # asyncio lets KeyboardInterrupt and SystemExit raised in a task escape
    # run_forever. The task has already stored the exception (its request
    # answers with it), so the one loop of the process carries on serving.
    while True:
        try:
            loop.run_forever()
        except (KeyboardInterrupt, SystemExit) as error:
            logger.error("AsgiToWsgi: a task raised %s; the loop goes on", type(error).__name__)
        else:
            return


async def _cancel_others() -> None:
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=_STOP_TIMEOUT)
    # It starts a thread, refused at exit on some CPython versions (see
    # _EXIT_REFUSES_THREADS); concurrent.futures joins the workers then anyway.
    with contextlib.suppress(RuntimeError):
        await asyncio.wait_for(
            asyncio.get_running_loop().shutdown_default_executor(), _STOP_TIMEOUT
        )


def _idle() -> None:
    """Nothing: run once in the default executor so that it has a thread."""


def _register_exit(stop: Callable[[], None]) -> None:
    # Lifespan shutdown handlers use executors (run_in_executor, to_thread,
    # sync_to_async): they must run before concurrent.futures shuts its
    # executors down, which it does in threading's exit hooks, newest first.
    importlib.import_module("concurrent.futures.thread")  # registers its hook before ours

    register: Callable[[Callable[[], None]], None] | None = getattr(
        threading, "_register_atexit", None
    )
    try:
        if register is not None:
            register(stop)
            return
    except RuntimeError:  # the interpreter is already exiting
        pass
    atexit.register(stop)


_shared: LoopThread | None = None
_shared_lock = threading.Lock()


def shared_loop_thread() -> LoopThread:
    """The process-wide LoopThread, created on first use."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = LoopThread()
    return _shared
