"""ApplicationCommunicator: messages in and out, failures, timeouts, no leaks."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

import asgiref.testing as testing_module
from asgiref.testing import ApplicationCommunicator

pytestmark = pytest.mark.timeout(20)


async def echo(scope: Any, receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message.get("type") == "bye":
            return
        await send({"echo": message, "scope": scope})


def echo_asgi2(scope: Any) -> Any:
    async def instance(receive: Any, send: Any) -> None:
        await echo(scope, receive, send)

    return instance


class EchoAsgi2Class:
    def __init__(self, scope: Any) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        await echo(self.scope, receive, send)


class Silent:
    """Never sends; records whether it was cancelled."""

    def __init__(self) -> None:
        self.cancelled = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def fails_on_first_message(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    raise KeyError("the app broke")


@pytest.mark.parametrize("app", [echo, echo_asgi2, EchoAsgi2Class], ids=["asgi3", "asgi2", "class"])
async def test_round_trip_for_asgi2_and_asgi3(app: Any) -> None:
    communicator = ApplicationCommunicator(app, {"type": "test"})
    await communicator.send_input({"type": "hello"})
    assert await communicator.receive_output() == {
        "echo": {"type": "hello"},
        "scope": {"type": "test"},
    }
    await communicator.send_input({"type": "bye"})
    await communicator.wait()
    assert communicator.future.done()


async def test_timeout_says_what_it_waited_for_and_cancels_the_app() -> None:
    app = Silent()
    communicator = ApplicationCommunicator(app, {"type": "websocket"})
    with pytest.raises(TimeoutError) as caught:
        await communicator.receive_output(timeout=0.05)
    text = str(caught.value)
    assert "receive_output" in text
    assert "0.05 s" in text
    assert "Silent" in text
    assert "'websocket'" in text
    assert app.cancelled
    assert communicator.future.cancelled()


async def test_timeout_is_also_an_asyncio_timeout_error() -> None:
    # What Django and Channels test suites catch on Python 3.10.
    communicator = ApplicationCommunicator(Silent(), {"type": "http"})
    with pytest.raises(asyncio.TimeoutError):
        await communicator.receive_output(timeout=0.01)


async def test_failure_before_receive_output_is_raised_with_its_traceback() -> None:
    communicator = ApplicationCommunicator(fails_on_first_message, {"type": "http"})
    await communicator.send_input({"type": "x"})
    await asyncio.wait((communicator.future,), timeout=5)
    with pytest.raises(KeyError, match="the app broke") as caught:
        await communicator.receive_output(timeout=0.01)
    names = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "fails_on_first_message" in names


async def test_failure_while_waiting_is_raised_without_waiting_for_the_timeout() -> None:
    communicator = ApplicationCommunicator(fails_on_first_message, {"type": "http"})
    await communicator.send_input({"type": "x"})
    # A 60 s timeout would trip the 20 s test timeout if it were waited out.
    with pytest.raises(KeyError, match="the app broke"):
        await communicator.receive_output(timeout=60)


async def test_failure_is_raised_again_by_every_call() -> None:
    communicator = ApplicationCommunicator(fails_on_first_message, {"type": "http"})
    await communicator.send_input({"type": "x"})
    await asyncio.wait((communicator.future,), timeout=5)
    with pytest.raises(KeyError):
        await communicator.send_input({"type": "y"})
    with pytest.raises(KeyError):
        await communicator.receive_nothing()
    with pytest.raises(KeyError):
        await communicator.wait()
    with pytest.raises(KeyError):
        communicator.stop()
    communicator.stop(exceptions=False)


async def test_app_that_ended_without_sending_times_out_at_once() -> None:
    communicator = ApplicationCommunicator(echo, {"type": "http"})
    await communicator.send_input({"type": "bye"})
    await communicator.wait()
    with pytest.raises(TimeoutError, match="already ended"):
        await communicator.receive_output(timeout=60)


async def test_messages_sent_before_the_app_returned_are_still_received() -> None:
    async def two_then_return(scope: Any, receive: Any, send: Any) -> None:
        await send({"n": 1})
        await send({"n": 2})

    communicator = ApplicationCommunicator(two_then_return, {})
    await communicator.wait()
    assert await communicator.receive_output() == {"n": 1}
    assert await communicator.receive_output() == {"n": 2}


async def test_cancelling_count_is_restored_after_a_timeout() -> None:
    task = asyncio.current_task()
    assert task is not None
    communicator = ApplicationCommunicator(Silent(), {})
    if sys.version_info >= (3, 11):
        before = task.cancelling()
        with pytest.raises(TimeoutError):
            await communicator.receive_output(timeout=0.01)
        assert task.cancelling() == before
        # The test task itself is not left cancelled.
        await asyncio.sleep(0.01)
    else:
        pytest.skip("Task.cancelling() is 3.11+")


async def test_receive_nothing_does_not_consume() -> None:
    communicator = ApplicationCommunicator(echo, {})
    assert await communicator.receive_nothing() is True
    await communicator.send_input({"type": "ping"})
    for _ in range(100):  # bounded: let the echo arrive
        if not communicator.output_queue.empty():
            break
        await asyncio.sleep(0.01)
    assert await communicator.receive_nothing() is False
    assert (await communicator.receive_output())["echo"] == {"type": "ping"}
    assert await communicator.receive_nothing(timeout=0.02) is True
    communicator.stop()


async def test_wait_timeout_cancels_the_app_and_returns() -> None:
    app = Silent()
    communicator = ApplicationCommunicator(app, {})
    await communicator.wait(timeout=0.02)
    assert app.cancelled
    # As upstream: stop() reports the cancellation, unless told not to.
    with pytest.raises(asyncio.CancelledError, match=r"cancelled by wait\(\) after 0.02 s"):
        communicator.stop()
    communicator.stop(exceptions=False)


async def test_app_swallowing_cancellation_fails_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(testing_module, "_CANCEL_GRACE", 0.1)
    release = asyncio.Event()

    async def stubborn(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()

    communicator = ApplicationCommunicator(stubborn, {})
    with pytest.raises(TimeoutError, match="ignored cancellation"):
        await communicator.receive_output(timeout=0.01)
    release.set()
    await asyncio.wait((communicator.future,), timeout=5)


async def test_app_starts_in_an_empty_context() -> None:
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")
    marker.set("set by the test")

    async def report(scope: Any, receive: Any, send: Any) -> None:
        await send(marker.get())

    communicator = ApplicationCommunicator(report, {})
    assert await communicator.receive_output() == "unset"


def test_built_outside_a_loop_and_used_inside_one() -> None:
    communicator = ApplicationCommunicator(echo, {"type": "lazy"})

    async def use() -> Any:
        await communicator.send_input({"type": "ping"})
        reply = await communicator.receive_output()
        await communicator.send_input({"type": "bye"})
        await communicator.wait()
        return reply

    assert asyncio.run(use())["scope"] == {"type": "lazy"}


@pytest.fixture
def asyncio_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        yield caplog


@pytest.mark.parametrize("scenario", ["timeout", "wait-timeout", "crash", "echo", "nothing"])
def test_no_task_outlives_the_test(scenario: str, asyncio_log: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        if scenario == "timeout":
            with pytest.raises(TimeoutError):
                await ApplicationCommunicator(Silent(), {}).receive_output(0.01)
        elif scenario == "wait-timeout":
            await ApplicationCommunicator(Silent(), {}).wait(0.01)
        elif scenario == "crash":
            communicator = ApplicationCommunicator(fails_on_first_message, {})
            await communicator.send_input({})
            with pytest.raises(KeyError):
                await communicator.receive_output()
        elif scenario == "echo":
            communicator = ApplicationCommunicator(echo, {})
            await communicator.send_input({"type": "ping"})
            await communicator.receive_output()
            await communicator.send_input({"type": "bye"})
            await communicator.wait()
        else:
            communicator = ApplicationCommunicator(echo, {})
            assert await communicator.receive_nothing(0.01)
            # The app is still running by design; wait() is how a test ends it.
            await communicator.wait(0.01)

    gc.collect()  # garbage of earlier tests must not be blamed on this one
    asyncio_log.clear()
    # A bare loop closed right away: unlike asyncio.run, it cancels nothing for us,
    # so any task the communicator left pending would be destroyed pending.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(body())
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    finally:
        loop.close()
    gc.collect()
    assert pending == []
    messages = [record.getMessage() for record in asyncio_log.records]
    assert not [m for m in messages if "destroyed but it is pending" in m]
    assert not [m for m in messages if "never retrieved" in m]


class WebsocketStyleCommunicator(ApplicationCommunicator):
    """Subclassed the way Channels' WebsocketCommunicator is.

    It builds its own scope before calling ``super().__init__``, overrides
    ``send_input`` / ``receive_output`` (calling ``super()``), and adds
    websocket shortcuts on top of them.
    """

    def __init__(self, application: Any, path: str) -> None:
        self.path = path
        self.inputs_sent = 0
        self.outputs_received = 0
        super().__init__(application, {"type": "websocket", "path": path, "headers": []})

    async def send_input(self, message: Any) -> None:
        self.inputs_sent += 1
        await super().send_input(message)

    async def receive_output(self, timeout: float = 1) -> Any:
        self.outputs_received += 1
        return await super().receive_output(timeout)

    async def open(self, timeout: float = 1) -> bool:
        await self.send_input({"type": "websocket.connect"})
        return bool((await self.receive_output(timeout))["type"] == "websocket.accept")

    async def say(self, text: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text})

    async def hear(self, timeout: float = 1) -> str:
        return str((await self.receive_output(timeout))["text"])

    async def close(self, timeout: float = 1) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(timeout=timeout)


async def websocket_upper(scope: Any, receive: Any, send: Any) -> None:
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": event["text"].upper()})
        elif event["type"] == "websocket.disconnect":
            return


async def test_channels_style_subclass() -> None:
    communicator = WebsocketStyleCommunicator(websocket_upper, "/ws/")
    assert await communicator.open()
    await communicator.say("hi")
    assert await communicator.hear() == "HI"
    await communicator.close()
    assert communicator.future.done()
    assert (communicator.inputs_sent, communicator.outputs_received) == (3, 2)
    with pytest.raises(TimeoutError):
        await communicator.hear(timeout=0.01)
