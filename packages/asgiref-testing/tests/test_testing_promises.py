"""Tries to break each promise of packages/asgiref-testing/README.md.

Every test names, in its docstring, the README sentence it attacks (quoted
after "Promise:"). The applications raise at every phase, raise
BaseExceptions, swallow cancellation, never return or stall; the tasks left
on the loop are counted before and after.
"""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys
import textwrap
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
from hostile_apps import Oops, echo, other_tasks, settle, swallowing

import asgiref.testing as testing_module
from asgiref.testing import (
    ApplicationCommunicator,
    ApplicationLifespan,
    LifespanError,
    LifespanShutdownError,
    LifespanStartupError,
    LifespanUnsupportedError,
)

pytestmark = pytest.mark.timeout(30)


async def silent(scope: Any, receive: Any, send: Any) -> None:
    while True:
        await receive()


# -- the communicator ------------------------------------------------------------


async def test_asgi2_and_asgi3_run_as_one_task_each() -> None:
    """Promise: "`ApplicationCommunicator(application, scope)` runs one instance of an ASGI 2
    or ASGI 3 application as a task and lets the test talk to it"."""

    class Asgi2:
        def __init__(self, scope: Any) -> None:
            self.scope = scope

        async def __call__(self, receive: Any, send: Any) -> None:
            await echo(self.scope, receive, send)

    before = other_tasks()
    for app in (echo, Asgi2):
        communicator = ApplicationCommunicator(app, {"type": "test"})
        await communicator.send_input("ping")
        assert await communicator.receive_output() == "ping"
        assert await communicator.receive_nothing(timeout=0.01) is True
        assert len(other_tasks() - before) == 1
        await communicator.wait(timeout=0.01)
        assert other_tasks() == before


async def test_subclass_overriding_send_input_and_receive_output_sees_failures() -> None:
    """Promise: "It is the base of Channels' `WebsocketCommunicator` and `HttpCommunicator`,
    which override `send_input` / `receive_output`"."""

    class Wrapped(ApplicationCommunicator):
        async def send_input(self, message: Any) -> None:
            await super().send_input({"wrapped": message})

        async def receive_output(self, timeout: float = 1) -> Any:
            return (await super().receive_output(timeout))["wrapped"]

    async def fails_on_second(scope: Any, receive: Any, send: Any) -> None:
        await send(await receive())
        await receive()
        raise ValueError("second message")

    communicator = Wrapped(fails_on_second, {})
    await communicator.send_input("one")
    assert await communicator.receive_output() == "one"
    await communicator.send_input("two")
    with pytest.raises(ValueError, match="second message"):
        await communicator.receive_output(timeout=5)


async def test_lifespan_startup_state_shutdown() -> None:
    """Promise: "`ApplicationLifespan(application)` runs the ASGI lifespan protocol: startup,
    the shared `state` dict, shutdown"."""
    events: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            events.append(message["type"])
            if message["type"] == "lifespan.startup":
                scope["state"]["ready"] = True
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return

    before = other_tasks()
    async with ApplicationLifespan(app) as lifespan:
        assert lifespan.state == {"ready": True}
    assert events == ["lifespan.startup", "lifespan.shutdown"]
    assert other_tasks() == before


async def test_application_starts_lazily_in_an_empty_context() -> None:
    """Promise: "The application starts in an empty `contextvars` context, as under a server,
    and only when first used inside a running loop (you may build the communicator outside
    one)"."""
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="empty")
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(marker.get())
        marker.set("set by the app")
        await send(await receive())

    marker.set("set by the test")
    before = other_tasks()
    communicator = ApplicationCommunicator(app, {})
    await settle()
    assert other_tasks() == before
    assert seen == []
    await communicator.send_input("x")
    assert await communicator.receive_output() == "x"
    assert seen == ["empty"]
    assert marker.get() == "set by the test"  # and nothing leaks back
    await communicator.wait(0.01)


@pytest.mark.parametrize("phase", ["constructor", "start", "first message", "cancellation"])
@pytest.mark.parametrize("kind", [ValueError, Oops])
async def test_a_crash_at_any_phase_is_raised_with_its_traceback(
    phase: str, kind: type[BaseException]
) -> None:
    """Promise: "If the application has crashed, the next call raises *its* exception, with its
    traceback, instead of a bare timeout" (Exception or BaseException, at any phase)."""

    class Asgi2:
        def __init__(self, scope: Any) -> None:
            raise kind(phase)

        async def __call__(self, receive: Any, send: Any) -> None:
            raise AssertionError("never reached")

    async def asgi3(scope: Any, receive: Any, send: Any) -> None:
        if phase == "start":
            raise kind(phase)
        try:
            await receive()
        except asyncio.CancelledError:
            raise kind(phase) from None
        raise kind(phase)

    communicator = ApplicationCommunicator(Asgi2 if phase == "constructor" else asgi3, {})
    if phase == "cancellation":
        communicator.future  # noqa: B018 - starts it
        await settle()
        communicator.stop()
    else:
        await communicator.send_input("go")
    await asyncio.wait((communicator.future,), timeout=5)
    with pytest.raises(kind, match=phase) as caught:
        await communicator.send_input("again")
    names = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "__init__" in names if phase == "constructor" else "asgi3" in names


@pytest.mark.parametrize("kind", [ValueError, Oops])
async def test_a_crash_during_receive_output_comes_at_once(kind: type[BaseException]) -> None:
    """Promise: "A crash while `receive_output` is waiting is raised at once, without waiting
    out the timeout"."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0.02)
        raise kind("late crash")

    communicator = ApplicationCommunicator(app, {})
    started = time.monotonic()
    with pytest.raises(kind, match="late crash"):
        await communicator.receive_output(timeout=20)
    # Far below the 20 s timeout even on a loaded machine.
    assert time.monotonic() - started < 5


_KEYBOARD_INTERRUPT_SCRIPT = """
import asyncio
from asgiref.testing import ApplicationCommunicator

async def app(scope, receive, send):
    await receive()
    raise KeyboardInterrupt

async def main():
    communicator = ApplicationCommunicator(app, {})
    await communicator.send_input("go")
    await communicator.receive_output(timeout=5)
    print("communicator saw it")

try:
    asyncio.run(main())
except KeyboardInterrupt:
    print("left the event loop")
"""


def test_keyboard_interrupt_leaves_the_loop_at_once(tmp_path: Path) -> None:
    """Promise: "(`KeyboardInterrupt` and `SystemExit` are the exception: asyncio raises them out
    of the event loop the moment the application raises them.)"."""
    script = tmp_path / "interrupt.py"
    script.write_text(textwrap.dedent(_KEYBOARD_INTERRUPT_SCRIPT), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=20, check=False
    )
    assert proc.stdout.splitlines() == ["left the event loop"], proc.stderr


async def test_timeout_message_and_no_task_left() -> None:
    """Promise: "When nothing comes, `receive_output` raises `TimeoutError` saying what it
    waited for, for how long, and that the application was cancelled (the application is
    cancelled and awaited, so no task is left pending ...)"."""
    before = other_tasks()
    communicator = ApplicationCommunicator(silent, {"type": "websocket"})
    with pytest.raises(TimeoutError) as caught:
        await communicator.receive_output(timeout=0.03)
    assert str(caught.value) == (
        "receive_output() waited 0.03 s for a message from application 'silent' (scope type "
        "'websocket') and got none; the application was still running and has been cancelled"
    )
    assert communicator.future.cancelled()
    assert other_tasks() == before


async def test_failure_while_being_cancelled_is_raised_instead_of_the_timeout() -> None:
    """Promise: "if it fails while being cancelled, that failure is raised instead"."""

    async def cleanup_fails(scope: Any, receive: Any, send: Any) -> None:
        try:
            await receive()
        except asyncio.CancelledError:
            raise OSError("cleanup failed") from None

    communicator = ApplicationCommunicator(cleanup_fails, {})
    with pytest.raises(OSError, match="cleanup failed"):
        await communicator.receive_output(timeout=0.01)


async def test_timeout_is_an_asyncio_timeout_error_too() -> None:
    """Promise: "On Python 3.10 that error is also an `asyncio.TimeoutError`"; and "Python 3.10
    is supported" (this suite runs on 3.10 too)."""
    communicator = ApplicationCommunicator(silent, {})
    with pytest.raises(asyncio.TimeoutError):
        await communicator.receive_output(timeout=0.01)
    with pytest.raises(TimeoutError):
        await ApplicationCommunicator(silent, {}).receive_output(timeout=0.01)


async def test_calling_task_is_never_cancelled() -> None:
    """Promise: "The calling task is never cancelled, so its `Task.cancelling()` count is
    unchanged" (also when the test itself cancels the call from outside)."""
    task = asyncio.current_task()
    assert task is not None
    before = 0
    if sys.version_info >= (3, 11):
        before = task.cancelling()
    communicator = ApplicationCommunicator(echo, {})
    with pytest.raises(TimeoutError):
        await ApplicationCommunicator(silent, {}).receive_output(timeout=0.01)
    # An outer timeout cancels the call: the application is not cancelled
    # with it, and the communicator keeps working.
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(communicator.receive_output(timeout=10), 0.02)
    assert not communicator.future.done()
    await communicator.send_input("still there")
    assert await communicator.receive_output() == "still there"
    if sys.version_info >= (3, 11):
        assert task.cancelling() == before
    await asyncio.sleep(0.01)  # would raise CancelledError if the task were left cancelled
    await communicator.wait(0.01)


async def test_returned_application_fails_at_once() -> None:
    """Promise: "An application that has already returned makes `receive_output` fail at once
    instead of after the timeout"; and "a crash or a returned application is reported at once
    rather than after the timeout" (the crash: the test just above)."""

    async def returns(scope: Any, receive: Any, send: Any) -> None:
        return None

    communicator = ApplicationCommunicator(returns, {})
    await communicator.wait()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="already ended"):
        await communicator.receive_output(timeout=20)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("call", ["receive_output", "wait"])
async def test_swallowed_cancellation_fails_the_call(
    call: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise: "An application that swallows cancellation makes the call (`receive_output` or
    `wait`) fail with `TimeoutError` 5 s after cancelling it rather than hang the test"; and
    "an application that swallows cancellation fails the test instead of hanging it"."""
    assert testing_module._CANCEL_GRACE == 5
    monkeypatch.setattr(testing_module, "_CANCEL_GRACE", 0.1)
    release = asyncio.Event()
    communicator = ApplicationCommunicator(swallowing(release), {})
    started = time.monotonic()
    waiting = (communicator.wait if call == "wait" else communicator.receive_output)(0.01)
    with pytest.raises(TimeoutError, match=r"ignored cancellation for 0\.1 s"):
        await waiting
    took = time.monotonic() - started
    assert took >= 0.1 - 0.02
    assert took < 0.1 + 2
    release.set()
    await asyncio.wait((communicator.future,), timeout=5)


async def test_disconnect_after_a_receive_timeout_raises_cancelled_error() -> None:
    """Promise: "Once the application has been cancelled (...), `send_input`, `receive_output`,
    `receive_nothing` and `stop()` raise `asyncio.CancelledError`, as asgiref 3.13.0's do
    (Channels' tests rely on it: `disconnect()` after a timed-out `receive_from()`); its
    message says what cancelled the application. `wait()` returns normally and
    `stop(exceptions=False)` never raises."; and "the timeout and `CancelledError` messages
    are not empty".

    The whole table (every state, every method) is in test_testing_communicator_states.py.
    """

    class Websocket(ApplicationCommunicator):
        async def receive_from(self, timeout: float = 1) -> Any:
            return await self.receive_output(timeout)

        async def disconnect(self, code: int = 1000, timeout: float = 1) -> None:
            await self.send_input({"type": "websocket.disconnect", "code": code})
            await self.wait(timeout)

    communicator = Websocket(silent, {"type": "websocket"})
    with pytest.raises(TimeoutError):
        await communicator.receive_from(timeout=0.01)
    with pytest.raises(asyncio.CancelledError, match=r"cancelled by receive_output\(\)"):
        await communicator.disconnect()
    await communicator.wait()
    communicator.stop(exceptions=False)


async def test_receive_nothing_raises_a_crash_that_happened_while_it_watched() -> None:
    """Promise: "`receive_nothing` also raises a crash that happened while it watched"."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0.01)
        raise Oops("while watched")

    communicator = ApplicationCommunicator(app, {})
    with pytest.raises(Oops, match="while watched"):
        await communicator.receive_nothing(timeout=0.2)


# -- the lifespan helper ---------------------------------------------------------


@pytest.mark.parametrize("kind", [ValueError, Oops, None])
async def test_lifespan_unsupported(kind: type[BaseException] | None) -> None:
    """Promise: "The lifespan helper raises `LifespanUnsupportedError` (with the application's
    own exception as the cause) for an application that raises (any exception, `BaseException`
    included) or returns on a lifespan scope during startup"."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if kind is not None:
            raise kind("no lifespan here")

    before = other_tasks()
    with pytest.raises(LifespanUnsupportedError) as caught:
        await ApplicationLifespan(app).startup()
    if kind is None:
        assert "returned" in str(caught.value)
    else:
        assert type(caught.value.__cause__) is kind
    assert other_tasks() == before


class Lifespan:
    """A lifespan application misbehaving as told at startup or at shutdown."""

    def __init__(self, startup: str = "complete", shutdown: str = "complete") -> None:
        self.startup = startup
        self.shutdown = shutdown

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            phase = message["type"].split(".")[1]
            action = getattr(self, phase)
            if action == "complete":
                await send({"type": f"lifespan.{phase}.complete"})
                if phase == "startup":
                    continue
            elif action == "failed":
                await send({"type": f"lifespan.{phase}.failed", "message": f"{phase} broke"})
            elif action == "odd":
                await send({"type": "lifespan.whatever"})
            elif action == "crash":
                raise Oops(f"{phase} crashed")
            elif action == "crash-after":
                await send({"type": f"lifespan.{phase}.complete"})
                await asyncio.sleep(0)
                raise ValueError("crashed after startup")
            elif action == "return-after":
                await send({"type": f"lifespan.{phase}.complete"})
            elif action == "mute":
                await asyncio.Event().wait()
            elif action == "stubborn":
                release = asyncio.Event()
                asyncio.get_running_loop().call_later(0.5, release.set)
                await swallowing(release)(scope, receive, send)
            return


async def test_lifespan_failed_answers() -> None:
    """Promise: "`LifespanStartupError` for a `lifespan.startup.failed` answer,
    `LifespanShutdownError` for a `lifespan.shutdown.failed` answer ... (`.message` holds the
    application's reason, the cause its exception)"."""
    with pytest.raises(LifespanStartupError) as startup:
        await ApplicationLifespan(Lifespan(startup="failed")).startup()
    assert startup.value.message == "startup broke"
    lifespan = ApplicationLifespan(Lifespan(shutdown="failed"))
    await lifespan.startup()
    with pytest.raises(LifespanShutdownError) as shutdown:
        await lifespan.shutdown()
    assert shutdown.value.message == "shutdown broke"


@pytest.mark.parametrize("action", ["crash", "crash-after", "return-after"])
async def test_lifespan_crash_or_return_at_or_before_shutdown(action: str) -> None:
    """Promise: "`LifespanShutdownError` for a `lifespan.shutdown.failed` answer, or an
    application that crashes or returns at or before shutdown without answering"."""
    app = Lifespan(shutdown=action) if action == "crash" else Lifespan(startup=action)
    lifespan = ApplicationLifespan(app)
    before = other_tasks()
    await lifespan.startup()
    await settle()
    with pytest.raises(LifespanShutdownError) as caught:
        await lifespan.shutdown()
    if action == "crash":
        assert isinstance(caught.value.__cause__, Oops)
    elif action == "crash-after":
        assert isinstance(caught.value.__cause__, ValueError)
    else:
        assert "returned" in str(caught.value)
    assert other_tasks() == before


@pytest.mark.parametrize("phase", ["startup", "shutdown"])
async def test_lifespan_out_of_protocol_reply(phase: str) -> None:
    """Promise: "`LifespanError` for an out-of-protocol reply"."""
    lifespan = ApplicationLifespan(Lifespan(**{phase: "odd"}))
    if phase == "shutdown":
        await lifespan.startup()
    with pytest.raises(LifespanError, match=r"lifespan\.whatever"):
        await (lifespan.startup() if phase == "startup" else lifespan.shutdown())


@pytest.mark.parametrize("phase", ["startup", "shutdown"])
@pytest.mark.parametrize("action", ["mute", "stubborn"])
async def test_lifespan_timeout_names_phase_and_delay(
    phase: str, action: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promise: "and `TimeoutError` naming the phase and delay if the application does not
    answer in `startup_timeout` / `shutdown_timeout` seconds (5 by default), also when it then
    ignores its cancellation"."""
    monkeypatch.setattr(testing_module, "_CANCEL_GRACE", 0.05)
    defaults = ApplicationLifespan(Lifespan())
    assert (defaults.startup_timeout, defaults.shutdown_timeout) == (5, 5)
    lifespan = ApplicationLifespan(
        Lifespan(**{phase: action}), startup_timeout=0.03, shutdown_timeout=0.04
    )
    delay = 0.03 if phase == "startup" else 0.04
    if phase == "shutdown":
        await lifespan.startup()
    with pytest.raises(TimeoutError, match=rf"lifespan {phase}: .* within {delay} s"):
        await (lifespan.startup() if phase == "startup" else lifespan.shutdown())
    task = lifespan._communicator.future if lifespan._communicator else None
    if task is not None:
        await asyncio.wait((task,), timeout=5)
