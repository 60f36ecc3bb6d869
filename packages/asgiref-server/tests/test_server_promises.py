"""Tries to break each promise of packages/asgiref-server/README.md.

Every test names, in its docstring, the README sentence it attacks (quoted
after "Promise:"). The applications raise at every phase, raise
BaseExceptions, swallow cancellation, never return or stall; resources
(tasks, threads, file descriptors) are counted before and after. No socket
is opened; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable, Hashable
from pathlib import Path
from typing import Any

import pytest
from hostile_apps import Oops, echo, other_tasks, settle, swallowing

from asgiref.server import ApplicationDetails, StatelessServer

pytestmark = pytest.mark.timeout(30)

GRACE = 0.3  # a short shutdown grace, so that abandoning costs little time


class DrivenServer(StatelessServer):
    """handle() waits until the test says stop; records sends and crash reports."""

    application_checker_interval = 0.01
    _shutdown_grace = GRACE

    def __init__(self, application: Any, max_applications: int = 1000) -> None:
        super().__init__(application, max_applications=max_applications)
        self.stop_event = asyncio.Event()
        self.sent: list[tuple[Any, Any]] = []
        self.reports: list[tuple[BaseException, ApplicationDetails]] = []

    async def handle(self) -> None:
        await self.stop_event.wait()

    async def application_send(self, scope: Any, message: Any) -> None:
        self.sent.append((scope, message))

    async def application_exception(
        self, exception: BaseException, application_details: ApplicationDetails
    ) -> None:
        self.reports.append((exception, application_details))


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


# -- drop-in replacement ---------------------------------------------------------

# Parameter names of upstream 3.13.0's public methods (read off its source).
_UPSTREAM_SIGNATURES = {
    "__init__": ["self", "application", "max_applications"],
    "run": ["self"],
    "arun": ["self"],
    "handle": ["self"],
    "application_send": ["self", "scope", "message"],
    "get_or_create_application_instance": ["self", "scope_id", "scope"],
    "delete_oldest_application_instance": ["self"],
    "delete_application_instance": ["self", "scope_id"],
    "application_checker": ["self"],
    "application_exception": ["self", "exception", "application_details"],
}


@pytest.mark.parametrize("method", sorted(_UPSTREAM_SIGNATURES))
def test_drop_in_method_signatures(method: str) -> None:
    """Promise: "It is a drop-in replacement for the class of the same name in asgiref 3.13.0."

    Subclasses override these by name and call them with these keywords.
    """
    function = getattr(StatelessServer, method)
    assert list(inspect.signature(function).parameters) == _UPSTREAM_SIGNATURES[method]
    expected_coroutine = method in {
        "arun",
        "handle",
        "application_send",
        "application_checker",
        "application_exception",
    }
    assert inspect.iscoroutinefunction(function) is expected_coroutine
    assert StatelessServer.application_checker_interval == 0.1
    assert inspect.signature(StatelessServer).parameters["max_applications"].default == 1000


# -- instances -------------------------------------------------------------------


async def test_instance_starts_on_first_use_and_once_per_scope_id() -> None:
    """Promise: "the input queue of that scope's application instance (started on first use)";
    and "`application_send(scope, message)`: receives what an instance sends"."""
    calls: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope)
        await echo(scope, receive, send)

    before = other_tasks()
    server = DrivenServer(app)
    await settle()
    assert calls == []
    assert other_tasks() == before
    first = server.get_or_create_application_instance("a", {"n": 1})
    second = server.get_or_create_application_instance("a", {"n": 2})
    await settle()
    assert first is second
    assert calls == [{"n": 1}]
    assert len(other_tasks() - before) == 1
    first.put_nowait("ping")
    await until(lambda: bool(server.sent))
    assert server.sent == [({"n": 1}, "ping")]
    server.delete_application_instance("a")
    await settle()
    assert other_tasks() == before


@pytest.mark.parametrize("phase", ["call", "constructor", "start", "first message", "send"])
async def test_a_crash_at_any_phase_is_reported_not_raised_into_handle(phase: str) -> None:
    """Promise: "those that crashed ... are passed to `application_exception(...)`"; and "an
    application that fails in its very call is reported like any crash instead of failing
    `handle()`".

    Whatever phase the application fails in (its very call, an ASGI 2
    constructor, before its first await, on a message, inside send()), the
    failure reaches application_exception and never the caller of
    get_or_create_application_instance (handle()).
    """

    class Asgi3Call:
        _asgi_single_callable = True

        def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
            raise ValueError("call")

    class Asgi2:
        def __init__(self, scope: Any) -> None:
            raise ValueError("constructor")

        async def __call__(self, receive: Any, send: Any) -> None:
            raise AssertionError("never reached")

    async def at_start(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("start")

    async def on_message(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise ValueError("first message")

    class FailingSend(DrivenServer):
        async def application_send(self, scope: Any, message: Any) -> None:
            raise ValueError("send")

    apps: dict[str, Any] = {
        "call": Asgi3Call(),
        "constructor": Asgi2,
        "start": at_start,
        "first message": on_message,
        "send": echo,
    }
    server = (FailingSend if phase == "send" else DrivenServer)(apps[phase])
    running = asyncio.ensure_future(server.arun())
    await settle()
    server.get_or_create_application_instance("x", {"phase": phase}).put_nowait("hello")
    await until(lambda: bool(server.reports))
    (exception, details), *more = server.reports
    assert not more
    assert isinstance(exception, ValueError)
    assert str(exception) == phase
    assert details["scope"] == {"phase": phase}
    assert "x" not in server.application_instances
    server.stop_event.set()
    await asyncio.wait_for(running, 5)


async def test_base_exception_of_an_instance_is_reported() -> None:
    """Promise: "those that crashed, with any exception including a `BaseException`, are passed
    to `application_exception(exception, application_details)`"."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise Oops("odd")

    server = DrivenServer(app)
    running = asyncio.ensure_future(server.arun())
    await settle()
    server.get_or_create_application_instance("b", "scope-b").put_nowait("go")
    await until(lambda: bool(server.reports))
    assert isinstance(server.reports[0][0], Oops)
    server.stop_event.set()
    await asyncio.wait_for(running, 5)


async def test_default_report_logs_with_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """Promise: "which logs them with their traceback unless you override it"."""

    class Logging(DrivenServer):
        application_exception = StatelessServer.application_exception

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise Oops("logged")

    server = Logging(app)
    with caplog.at_level(logging.ERROR, logger="asgiref.server"):
        running = asyncio.ensure_future(server.arun())
        server.get_or_create_application_instance("l", "scope-l")
        await until(lambda: "l" not in server.application_instances)
        server.stop_event.set()
        await asyncio.wait_for(running, 5)
    (record,) = [r for r in caplog.records if "logged" in r.getMessage()]
    assert record.exc_info is not None
    assert record.exc_info[1] is not None
    assert record.exc_info[1].__traceback__ is not None


async def test_finished_instances_are_removed_every_interval() -> None:
    """Promise: "Every `application_checker_interval` seconds (0.1 by default) finished
    instances are removed"."""

    async def returns(scope: Any, receive: Any, send: Any) -> None:
        await receive()

    server = DrivenServer(returns)
    server.application_checker_interval = 0.05
    running = asyncio.ensure_future(server.arun())
    server.get_or_create_application_instance("r", "s").put_nowait("done")
    await until(lambda: server.application_instances["r"]["future"].done())
    ended = time.monotonic()
    await until(lambda: "r" not in server.application_instances)
    # One interval, plus generous room for a loaded machine.
    assert time.monotonic() - ended < 0.05 + 1
    assert server.reports == []
    server.stop_event.set()
    await asyncio.wait_for(running, 5)


async def test_positional_arguments_and_cancellation_behind_the_servers_back() -> None:
    """Promise: "an instance cancelled behind the server's back no longer crashes the checker";
    and "applications are called with positional arguments as the ASGI spec says"."""

    async def positional_only(scope: Any, receive: Any, send: Any, /) -> None:
        await send(await receive())

    server = DrivenServer(positional_only)
    running = asyncio.ensure_future(server.arun())
    server.get_or_create_application_instance("p", "scope-p").put_nowait("hi")
    server.get_or_create_application_instance("gone", "scope-gone")
    await settle()
    server.application_instances["gone"]["future"].cancel()
    await until(lambda: bool(server.sent) and "gone" not in server.application_instances)
    assert server.sent == [("scope-p", "hi")]
    assert server.reports == []
    assert not running.done()  # the checker survived
    server.stop_event.set()
    await asyncio.wait_for(running, 5)


async def test_details_hold_the_documented_keys() -> None:
    """Promise: "`application_instances` maps each scope id to its details (`input_queue`,
    `future`, `scope`, `last_used`)"."""
    server = DrivenServer(echo)
    queue = server.get_or_create_application_instance("k", "scope-k")
    details = server.application_instances["k"]
    assert set(details) == {"input_queue", "future", "scope", "last_used"}
    assert details["input_queue"] is queue
    assert details["scope"] == "scope-k"
    assert isinstance(details["future"], asyncio.Task)
    assert abs(details["last_used"] - time.time()) < 60
    server.delete_application_instance("k")
    await settle()


@pytest.mark.parametrize("limit", [0, 1, 3])
async def test_max_applications_bounds_tracked_instances(limit: int) -> None:
    """Promise: "The server tracks at most `max_applications` instances (at least one,
    whatever the value); starting one more evicts and cancels the least recently used"; and
    "at most `max_applications` instances are tracked at once (upstream allowed one more)"."""
    server = DrivenServer(echo, max_applications=limit)
    tasks = []
    for number in range(6):
        server.get_or_create_application_instance(number, number)
        tasks.append(server.application_instances[number]["future"])
        assert len(server.application_instances) == min(number + 1, max(limit, 1))
    await settle()
    kept = max(limit, 1)
    assert [task.cancelled() for task in tasks] == [True] * (6 - kept) + [False] * kept
    for scope_id in list(server.application_instances):
        server.delete_application_instance(scope_id)
    await settle()


async def test_evicted_instance_that_swallows_cancellation_is_waited_for_at_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Promise: "the remaining instances, evicted ones still running included, are cancelled
    and given 5 seconds to finish; the server then logs each one still running as abandoned,
    naming its scope id"."""
    release = asyncio.Event()
    server = DrivenServer(swallowing(release), max_applications=1)
    running = asyncio.ensure_future(server.arun())
    server.get_or_create_application_instance("evicted-1", "s1")
    await settle()
    stubborn = server.application_instances["evicted-1"]["future"]
    server.get_or_create_application_instance("kept", "s2")
    await settle()
    assert list(server.application_instances) == ["kept"]
    assert not stubborn.done()  # cancelled, yet still running
    with caplog.at_level(logging.WARNING, logger="asgiref.server"):
        server.stop_event.set()
        await asyncio.wait_for(running, GRACE + 5)
    messages = [r.getMessage() for r in caplog.records]
    assert f"Application instance 'evicted-1' ignored cancellation for {GRACE} s; abandoned" in (
        messages
    )
    release.set()
    await asyncio.wait((stubborn,), timeout=5)
    assert stubborn.done()


# -- stopping --------------------------------------------------------------------


async def test_arun_leaves_no_task_behind_whatever_the_instances_did() -> None:
    """Promise: "When `handle()` returns or fails, or the server is cancelled, the checker
    stops and `handle()` and the remaining instances ... are cancelled"; and "`arun()` does not
    leave its checker and instances running after it returns"."""

    async def stalls(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.Event().wait()

    async def crashes(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("crash")

    async def returns(scope: Any, receive: Any, send: Any) -> None:
        return None

    async def fails_on_cancel(scope: Any, receive: Any, send: Any) -> None:
        try:
            await receive()
        except asyncio.CancelledError:
            raise Oops("cleanup failed") from None

    apps = {"stalls": stalls, "crashes": crashes, "returns": returns, "fails": fails_on_cancel}

    async def router(scope: Any, receive: Any, send: Any) -> None:
        await apps[scope](scope, receive, send)

    before = other_tasks()
    for ending in ("handle returns", "handle fails", "cancelled"):
        server = DrivenServer(router)
        if ending == "handle fails":
            server.handle = _failing_handle(server)  # type: ignore[method-assign]
        running = asyncio.ensure_future(server.arun())
        for name in apps:
            server.get_or_create_application_instance(name, name)
        await settle()
        if ending == "handle returns":
            server.stop_event.set()
        elif ending == "cancelled":
            running.cancel()
        await asyncio.wait((running,), timeout=5)
        assert running.done(), ending
        await settle()
        assert other_tasks() == before, ending
        assert server.application_instances == {}
        # The failure raised while being cancelled was reported, not lost.
        assert [type(e) for e, _ in server.reports].count(Oops) == 1, ending


def _failing_handle(server: DrivenServer) -> Callable[[], Any]:
    async def handle() -> None:
        await asyncio.sleep(0.01)
        raise OSError("handle failed")

    return handle


@pytest.mark.parametrize("who", ["instance", "handle()"])
async def test_arun_returns_after_the_grace_whatever_the_instances_do(
    who: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Promise: "So `arun()` returns at most 5 s after the stop began, whatever the instances
    do, as long as they do not block the event loop" (and handle() ignoring cancellation too)."""
    release = asyncio.Event()

    class Stubborn(DrivenServer):
        async def handle(self) -> None:
            if who == "handle()":
                await swallowing(release)(None, None, None)
            else:
                await super().handle()

    server = Stubborn(swallowing(release) if who == "instance" else echo)
    running = asyncio.ensure_future(server.arun())
    server.get_or_create_application_instance("stuck", "s")
    await settle()
    with caplog.at_level(logging.WARNING, logger="asgiref.server"):
        started = time.monotonic()
        if who == "instance":
            server.stop_event.set()
        else:
            running.cancel()
        await asyncio.wait((running,), timeout=GRACE + 5)
        took = time.monotonic() - started
    assert running.done()
    # A bound that still tells a grace-long wait from a hang (0.3 s vs 5 s).
    assert took >= GRACE - 0.05
    assert took < GRACE + 1
    expected = (
        f"Application instance 'stuck' ignored cancellation for {GRACE} s; abandoned"
        if who == "instance"
        else f"handle() ignored cancellation for {GRACE} s; abandoned"
    )
    assert expected in [r.getMessage() for r in caplog.records]
    release.set()
    leftovers = other_tasks()
    await asyncio.wait(leftovers, timeout=5) if leftovers else None
    if not running.cancelled():
        running.result()


@pytest.mark.slow
@pytest.mark.timeout(40)
async def test_default_grace_is_five_seconds(caplog: pytest.LogCaptureFixture) -> None:
    """Promise: "are cancelled and given 5 seconds to finish"."""
    release = asyncio.Event()

    class DefaultGrace(DrivenServer):
        _shutdown_grace = StatelessServer._shutdown_grace

    server = DefaultGrace(swallowing(release))
    running = asyncio.ensure_future(server.arun())
    server.get_or_create_application_instance("stuck", "s")
    await settle()
    started = time.monotonic()
    server.stop_event.set()
    await asyncio.wait((running,), timeout=15)
    took = time.monotonic() - started
    release.set()
    await asyncio.wait(other_tasks() or {running}, timeout=5)
    # Not shorter than 5 s; the upper bound only has to tell 5 s from a longer
    # default or a hang, with room for a loaded machine.
    assert 5 - 0.05 <= took < 10


# -- run() -----------------------------------------------------------------------


class ListServer(StatelessServer):
    """Feeds a list of (scope id, message), waits for every answer, stops."""

    application_checker_interval = 0.01
    _shutdown_grace = GRACE

    def __init__(self, application: Any, inputs: list[tuple[Hashable, Any]]) -> None:
        super().__init__(application)
        self.inputs = inputs
        self.outputs: list[Any] = []
        self.extra: Callable[[], Any] | None = None

    async def handle(self) -> None:
        if self.extra is not None:
            await self.extra()
        for scope_id, message in self.inputs:
            self.get_or_create_application_instance(scope_id, scope_id).put_nowait(message)
        for _ in range(500):  # bounded: 500 x 10 ms
            if len(self.outputs) >= len(self.inputs):
                return
            await asyncio.sleep(0.01)

    async def application_send(self, scope: Any, message: Any) -> None:
        self.outputs.append(message)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds through /proc")
def test_run_twice_in_one_thread_leaks_no_thread_or_fd() -> None:
    """Promise: "`run()` blocks and runs the server on a new event loop (it never relies on an
    implicit loop, so it works in any thread and on Python 3.14)"."""

    async def uses_executor(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        loop = asyncio.get_running_loop()
        await send(await loop.run_in_executor(None, str.upper, message))

    gc.collect()
    threads, fds = threading.active_count(), _open_fds()
    for _ in range(2):
        server = ListServer(uses_executor, [("a", "x"), ("b", "y")])
        server.run()
        assert sorted(server.outputs) == ["X", "Y"]
    gc.collect()
    assert threading.active_count() == threads
    assert _open_fds() == fds
    # No loop is left set for this thread.
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


async def test_run_inside_a_running_loop_is_refused() -> None:
    """Promise: "`run()` blocks ... `await arun()` runs it on the current loop" (run() inside
    a loop cannot block it: refused with a hint, nothing started)."""
    started: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        started.append(scope)

    before = other_tasks()
    with pytest.raises(RuntimeError, match="arun"):
        ListServer(app, [("a", "x")]).run()
    await settle()
    assert started == []
    assert other_tasks() == before


def test_run_cancels_leftover_tasks_and_closes_async_generators() -> None:
    """Promise: "`run()` also cancels the other tasks left on its loop (a reader task started
    by `handle()`, say), closes async generators and the default executor"."""
    events: list[str] = []

    async def reader() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            events.append("reader cancelled")

    async def numbers() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            events.append("generator closed")

    generators: list[AsyncIterator[int]] = []
    readers: list[asyncio.Future[None]] = []

    async def start_extras() -> None:
        # Never awaited, as Channels' worker readers: only run() can cancel it.
        readers.append(asyncio.ensure_future(reader()))
        generator = numbers()
        generators.append(generator)  # kept alive: only run() can close it
        assert await generator.__anext__() == 1

    server = ListServer(echo, [("a", "x")])
    server.extra = start_extras
    server.run()
    assert sorted(events) == ["generator closed", "reader cancelled"]


def test_run_returns_despite_a_stuck_executor_thread(caplog: pytest.LogCaptureFixture) -> None:
    """Promise: "and returns at most 1 s later than that, then closes its loop" (with a thread
    of the default executor stuck in a blocking call)."""
    unblock = threading.Event()

    async def blocks_a_thread(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        loop = asyncio.get_running_loop()
        loop.run_in_executor(None, unblock.wait, 10)
        await send("started")

    server = ListServer(blocks_a_thread, [("a", "x")])
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING, logger="asgiref.server"):
            server.run()
        took = time.monotonic() - started
    finally:
        unblock.set()
    assert took < GRACE + 1
    assert any("default executor is still busy" in r.getMessage() for r in caplog.records)


_EXIT_SCRIPT = """
import asyncio, sys
from asgiref.server import StatelessServer

RAISE = {"exit": SystemExit(3), "interrupt": KeyboardInterrupt()}[sys.argv[1]]

async def app(scope, receive, send):
    if scope == "raiser":
        await receive()
        raise RAISE
    try:
        await receive()
    finally:
        print("other instance cleaned up", flush=True)

class Server(StatelessServer):
    _shutdown_grace = 0.3

    async def handle(self):
        self.get_or_create_application_instance("other", "other")
        await asyncio.sleep(0.05)
        self.get_or_create_application_instance("raiser", "raiser").put_nowait("go")
        await asyncio.Event().wait()

    async def application_send(self, scope, message):
        pass

    async def application_exception(self, exception, details):
        print("reported", type(exception).__name__, flush=True)

Server(app).run()
print("run returned", flush=True)
"""


@pytest.mark.parametrize(("what", "code"), [("exit", 3), ("interrupt", 0)])
def test_keyboard_interrupt_or_system_exit_in_an_instance_stops_the_server(
    tmp_path: Path, what: str, code: int
) -> None:
    """Promise: "An instance raising `KeyboardInterrupt` or `SystemExit` stops the whole server,
    as in any asyncio program: it is reported, the server stops as above, and `run()` then
    acts as on Ctrl-C or raises the `SystemExit`"."""
    script = tmp_path / "exits.py"
    script.write_text(textwrap.dedent(_EXIT_SCRIPT), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), what],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert proc.returncode == code, proc.stderr
    lines = proc.stdout.splitlines()
    assert "other instance cleaned up" in lines
    expected = "SystemExit" if what == "exit" else "KeyboardInterrupt"
    assert f"reported {expected}" in lines
    assert ("run returned" in lines) is (what == "interrupt")


# An instance that swallows every cancellation, forever (it does yield to the
# loop). run() must still return: the server gives it the shutdown grace, logs
# it as abandoned, and asyncio's own shutdown must not wait for it either.
_STUBBORN_SCRIPT = """
import asyncio, logging, signal, sys, time
from asgiref.server import StatelessServer

signal.signal(signal.SIGINT, signal.default_int_handler)
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
MODE = sys.argv[1]

async def stubborn(scope, receive, send):
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass

class Server(StatelessServer):
    _shutdown_grace = float(sys.argv[2])

    async def handle(self):
        self.get_or_create_application_instance("stubborn-1", {"type": "stubborn"})
        for _ in range(5):
            await asyncio.sleep(0)
        print("ready", flush=True)
        if MODE == "handle-returns":
            print("stopping at", time.monotonic(), flush=True)
            return
        await asyncio.Event().wait()

    async def application_send(self, scope, message):
        pass

Server(stubborn).run()
print("run returned at", time.monotonic(), flush=True)
"""


def _stamp(output: str, label: str) -> float:
    for line in output.splitlines():
        if line.startswith(label):
            return float(line[len(label) :])
    raise AssertionError(f"no {label!r} line in:\n{output}")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["handle-returns", "ctrl-c"])
def test_run_returns_when_an_instance_swallows_cancellation(tmp_path: Path, mode: str) -> None:
    """Promise: "an instance that ignores cancellation no longer keeps `run()` or Ctrl-C from
    returning"; "`run()` ... returns at most 1 s later than that"; "Ctrl-C stops it cleanly"
    (the plain Ctrl-C case: test_server_run.py::test_ctrl_c_stops_run_cleanly)."""
    grace = 0.5
    script = tmp_path / "stubborn.py"
    script.write_text(textwrap.dedent(_STUBBORN_SCRIPT), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), mode, str(grace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        stopping = 0.0
        if mode == "ctrl-c":
            # Nothing else is printed before the signal, so nothing is left
            # in the pipe's buffer for communicate() to miss.
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            stopping = time.monotonic()
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=grace + 10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run() did not return in {grace + 10} s ({mode})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    if mode == "handle-returns":
        stopping = _stamp(out, "stopping at ")
    # CLOCK_MONOTONIC is system-wide, so the two processes' stamps compare.
    took = _stamp(out, "run returned at ") - stopping
    assert took < grace + 1, f"run() returned {took:.2f} s after the stop began"
    assert proc.returncode == 0, err
    assert "'stubborn-1' ignored cancellation for 0.5 s; abandoned" in err


@pytest.mark.timeout(30)
def test_run_again_after_an_abandoned_instance_does_not_wait_for_it_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Promise: "`run()` (and `arun()` / Ctrl-C) returns within the grace period plus 1 s
    whatever the instances do" - also on the next run() of the same server, whose loop
    is new: the task abandoned by the first run belongs to the old, closed loop."""

    async def stubborn(scope: Any, receive: Any, send: Any) -> None:
        for _ in range(1000):  # bounded: ignores up to 1000 cancellations
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(100)

    class OneInstance(StatelessServer):
        _shutdown_grace = GRACE

        async def handle(self) -> None:
            self.get_or_create_application_instance("stubborn", {"type": "x"})
            await asyncio.sleep(0.05)

        async def application_send(self, scope: Any, message: Any) -> None:
            pass

    server = OneInstance(stubborn)
    server.run()
    caplog.clear()
    started = time.monotonic()
    server.run()
    assert time.monotonic() - started < GRACE + 1
    abandoned = [r for r in caplog.records if "ignored cancellation" in r.getMessage()]
    # Only this run's instance is reported, not the first run's again.
    assert len(abandoned) == 1
