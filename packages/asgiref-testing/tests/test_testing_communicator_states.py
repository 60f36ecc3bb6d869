"""ApplicationCommunicator: the exception each call raises in each state, as upstream's.

Channels' test suites (and the projects built on them) assert exception types:
after a ``receive_from()`` timeout, ``WebsocketCommunicator.disconnect()`` must
raise ``asyncio.CancelledError``. So every cell of the table below, a state of
the communicator crossed with a method called in it, must end the same way as
with asgiref 3.13.0.

The ``_UPSTREAM`` column was produced by running this file as a script in a
virtual environment holding only asgiref 3.13.0 (and pytest)::

    uv venv /tmp/upvenv && uv pip install --python /tmp/upvenv asgiref==3.13.0 pytest
    /tmp/upvenv/bin/python packages/asgiref-testing/tests/test_testing_communicator_states.py

which prints the table observed with the installed asgiref. A cell reads
``<outcome> -> <application state after the call>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from asgiref.testing import ApplicationCommunicator

pytestmark = pytest.mark.timeout(30)

# Short delays: every cell is one small scenario, and there are 84 of them.
_SHORT = 0.02


async def _idle(scope: Any, receive: Any, send: Any) -> None:
    # Reads forever, never answers.
    while True:
        await receive()


async def _returns(scope: Any, receive: Any, send: Any) -> None:
    return None


async def _raises(scope: Any, receive: Any, send: Any) -> None:
    raise ValueError("the application failed")


async def _sends_then_idles(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "test.output"})
    await _idle(scope, receive, send)


async def _sends_then_returns(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "test.output"})


async def _sends_then_raises(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "test.output"})
    await _raises(scope, receive, send)


async def _settle() -> None:
    # A few loop turns: enough for a task to start or to process a cancel().
    for _ in range(5):
        await asyncio.sleep(0)


async def _ended(communicator: ApplicationCommunicator) -> None:
    await asyncio.wait((communicator.future,), timeout=5)
    await _settle()


async def _new(communicator: ApplicationCommunicator) -> None:
    pass


async def _running(communicator: ApplicationCommunicator) -> None:
    communicator.future  # noqa: B018 - starts the application
    await _settle()


async def _cancelled_by_receive_output(communicator: ApplicationCommunicator) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await communicator.receive_output(timeout=_SHORT)
    await _settle()


async def _cancelled_by_wait(communicator: ApplicationCommunicator) -> None:
    await communicator.wait(timeout=_SHORT)
    await _settle()


async def _cancelled_by_stop(communicator: ApplicationCommunicator) -> None:
    await _running(communicator)
    communicator.stop()
    await _settle()


async def _stop_requested(communicator: ApplicationCommunicator) -> None:
    # stop() only requests the cancellation: the call comes before the
    # application has processed it.
    await _running(communicator)
    communicator.stop()


_Setup = Callable[[ApplicationCommunicator], Awaitable[None]]

# state name -> (application, how the test brings the communicator there)
STATES: dict[str, tuple[Any, _Setup]] = {
    "new": (_idle, _new),
    "running": (_idle, _running),
    "finished": (_returns, _ended),
    "failed": (_raises, _ended),
    "cancelled by receive_output timeout": (_idle, _cancelled_by_receive_output),
    "cancelled by wait timeout": (_idle, _cancelled_by_wait),
    "cancelled by stop": (_idle, _cancelled_by_stop),
    "stop requested": (_idle, _stop_requested),
    # The same with one message sent by the application and not yet received:
    # the failure or the cancellation still comes first.
    "sent, running": (_sends_then_idles, _running),
    "sent, finished": (_sends_then_returns, _ended),
    "sent, failed": (_sends_then_raises, _ended),
    "sent, cancelled by stop": (_sends_then_idles, _cancelled_by_stop),
}


# method name -> call (a coroutine function or a plain one)
METHODS: dict[str, Callable[[ApplicationCommunicator], Any]] = {
    "send_input": lambda c: c.send_input({"type": "test.message"}),
    "receive_output": lambda c: c.receive_output(timeout=_SHORT),
    "receive_nothing": lambda c: c.receive_nothing(timeout=_SHORT, interval=0.005),
    "wait": lambda c: c.wait(timeout=_SHORT),
    "stop": lambda c: c.stop(),
    "stop(exceptions=False)": lambda c: c.stop(exceptions=False),
    "__del__": lambda c: c.__del__(),
}


async def _call(communicator: ApplicationCommunicator, method: str) -> Any:
    result = METHODS[method](communicator)
    return await result if asyncio.iscoroutine(result) else result


def _application_state(communicator: ApplicationCommunicator) -> str:
    task = communicator._future  # looking without starting it
    if task is None:
        return "not started"
    if not task.done():
        return "running"
    if task.cancelled():
        return "cancelled"
    return "finished" if task.exception() is None else "failed"


async def observe(state: str, method: str) -> str:
    """Bring a fresh communicator to ``state``, call ``method``, describe what happened."""
    application, setup = STATES[state]
    communicator = ApplicationCommunicator(application, {"type": "test"})
    await setup(communicator)
    try:
        outcome = f"returns {await _call(communicator, method)!r}"
    except (Exception, asyncio.CancelledError) as caught:
        name = type(caught).__name__
        # One class from 3.11 on; on 3.10 the error is a subclass of both.
        if isinstance(caught, TimeoutError) and isinstance(caught, asyncio.TimeoutError):
            name = "TimeoutError"
        outcome = f"raises {name}"
    await _settle()
    cell = f"{outcome} -> {_application_state(communicator)}"
    if communicator._future is not None and not communicator._future.done():
        communicator._future.cancel()
        await asyncio.wait((communicator._future,), timeout=5)
    return cell


# Observed with asgiref 3.13.0 on Python 3.11 (see the module docstring).
_UPSTREAM: dict[tuple[str, str], str] = {
    ("new", "send_input"): "returns None -> running",
    ("new", "receive_output"): "raises TimeoutError -> cancelled",
    ("new", "receive_nothing"): "returns True -> running",
    ("new", "wait"): "returns None -> cancelled",
    ("new", "stop"): "returns None -> not started",
    ("new", "stop(exceptions=False)"): "returns None -> not started",
    ("new", "__del__"): "returns None -> not started",
    ("running", "send_input"): "returns None -> running",
    ("running", "receive_output"): "raises TimeoutError -> cancelled",
    ("running", "receive_nothing"): "returns True -> running",
    ("running", "wait"): "returns None -> cancelled",
    ("running", "stop"): "returns None -> cancelled",
    ("running", "stop(exceptions=False)"): "returns None -> cancelled",
    ("running", "__del__"): "returns None -> cancelled",
    ("finished", "send_input"): "returns None -> finished",
    ("finished", "receive_output"): "raises TimeoutError -> finished",
    ("finished", "receive_nothing"): "returns True -> finished",
    ("finished", "wait"): "returns None -> finished",
    ("finished", "stop"): "returns None -> finished",
    ("finished", "stop(exceptions=False)"): "returns None -> finished",
    ("finished", "__del__"): "returns None -> finished",
    ("failed", "send_input"): "raises ValueError -> failed",
    ("failed", "receive_output"): "raises ValueError -> failed",
    ("failed", "receive_nothing"): "raises ValueError -> failed",
    ("failed", "wait"): "raises ValueError -> failed",
    ("failed", "stop"): "raises ValueError -> failed",
    ("failed", "stop(exceptions=False)"): "returns None -> failed",
    ("failed", "__del__"): "returns None -> failed",
    ("cancelled by receive_output timeout", "send_input"): "raises CancelledError -> cancelled",
    ("cancelled by receive_output timeout", "receive_output"): "raises CancelledError -> cancelled",
    (
        "cancelled by receive_output timeout",
        "receive_nothing",
    ): "raises CancelledError -> cancelled",
    ("cancelled by receive_output timeout", "wait"): "returns None -> cancelled",
    ("cancelled by receive_output timeout", "stop"): "raises CancelledError -> cancelled",
    ("cancelled by receive_output timeout", "stop(exceptions=False)"): "returns None -> cancelled",
    ("cancelled by receive_output timeout", "__del__"): "returns None -> cancelled",
    ("cancelled by wait timeout", "send_input"): "raises CancelledError -> cancelled",
    ("cancelled by wait timeout", "receive_output"): "raises CancelledError -> cancelled",
    ("cancelled by wait timeout", "receive_nothing"): "raises CancelledError -> cancelled",
    ("cancelled by wait timeout", "wait"): "returns None -> cancelled",
    ("cancelled by wait timeout", "stop"): "raises CancelledError -> cancelled",
    ("cancelled by wait timeout", "stop(exceptions=False)"): "returns None -> cancelled",
    ("cancelled by wait timeout", "__del__"): "returns None -> cancelled",
    ("cancelled by stop", "send_input"): "raises CancelledError -> cancelled",
    ("cancelled by stop", "receive_output"): "raises CancelledError -> cancelled",
    ("cancelled by stop", "receive_nothing"): "raises CancelledError -> cancelled",
    ("cancelled by stop", "wait"): "returns None -> cancelled",
    ("cancelled by stop", "stop"): "raises CancelledError -> cancelled",
    ("cancelled by stop", "stop(exceptions=False)"): "returns None -> cancelled",
    ("cancelled by stop", "__del__"): "returns None -> cancelled",
    ("stop requested", "send_input"): "returns None -> cancelled",
    ("stop requested", "receive_output"): "raises CancelledError -> cancelled",
    ("stop requested", "receive_nothing"): "returns True -> cancelled",
    ("stop requested", "wait"): "returns None -> cancelled",
    ("stop requested", "stop"): "returns None -> cancelled",
    ("stop requested", "stop(exceptions=False)"): "returns None -> cancelled",
    ("stop requested", "__del__"): "returns None -> cancelled",
    ("sent, running", "send_input"): "returns None -> running",
    ("sent, running", "receive_output"): "returns {'type': 'test.output'} -> running",
    ("sent, running", "receive_nothing"): "returns False -> running",
    ("sent, running", "wait"): "returns None -> cancelled",
    ("sent, running", "stop"): "returns None -> cancelled",
    ("sent, running", "stop(exceptions=False)"): "returns None -> cancelled",
    ("sent, running", "__del__"): "returns None -> cancelled",
    ("sent, finished", "send_input"): "returns None -> finished",
    ("sent, finished", "receive_output"): "returns {'type': 'test.output'} -> finished",
    ("sent, finished", "receive_nothing"): "returns False -> finished",
    ("sent, finished", "wait"): "returns None -> finished",
    ("sent, finished", "stop"): "returns None -> finished",
    ("sent, finished", "stop(exceptions=False)"): "returns None -> finished",
    ("sent, finished", "__del__"): "returns None -> finished",
    ("sent, failed", "send_input"): "raises ValueError -> failed",
    ("sent, failed", "receive_output"): "raises ValueError -> failed",
    ("sent, failed", "receive_nothing"): "raises ValueError -> failed",
    ("sent, failed", "wait"): "raises ValueError -> failed",
    ("sent, failed", "stop"): "raises ValueError -> failed",
    ("sent, failed", "stop(exceptions=False)"): "returns None -> failed",
    ("sent, failed", "__del__"): "returns None -> failed",
    ("sent, cancelled by stop", "send_input"): "raises CancelledError -> cancelled",
    ("sent, cancelled by stop", "receive_output"): "raises CancelledError -> cancelled",
    ("sent, cancelled by stop", "receive_nothing"): "raises CancelledError -> cancelled",
    ("sent, cancelled by stop", "wait"): "returns None -> cancelled",
    ("sent, cancelled by stop", "stop"): "raises CancelledError -> cancelled",
    ("sent, cancelled by stop", "stop(exceptions=False)"): "returns None -> cancelled",
    ("sent, cancelled by stop", "__del__"): "returns None -> cancelled",
}


def _table_ids() -> list[tuple[str, str]]:
    return [(state, method) for state in STATES for method in METHODS]


@pytest.mark.parametrize(("state", "method"), _table_ids())
async def test_same_exception_types_as_upstream(state: str, method: str) -> None:
    """A state x method cell ends as it does with asgiref 3.13.0."""
    assert await observe(state, method) == _UPSTREAM[state, method]


async def _cancelled_from_outside(communicator: ApplicationCommunicator) -> None:
    await _running(communicator)
    communicator.future.cancel()
    await _settle()


@pytest.mark.parametrize(
    ("setup", "cause"),
    [
        (_cancelled_by_receive_output, f"by receive_output() after {_SHORT} s without a message"),
        (_cancelled_by_wait, f"by wait() after {_SHORT} s"),
        (_cancelled_by_stop, "by stop()"),
        (_cancelled_from_outside, "(not by this communicator)"),
    ],
    ids=["receive_output", "wait", "stop", "outside"],
)
@pytest.mark.parametrize("method", ["send_input", "receive_output", "receive_nothing", "stop"])
async def test_cancelled_error_says_what_cancelled_the_application(
    setup: _Setup, cause: str, method: str
) -> None:
    """Same type as upstream, and the message (empty upstream) explains it."""
    communicator = ApplicationCommunicator(_idle, {"type": "websocket"})
    await setup(communicator)
    with pytest.raises(asyncio.CancelledError) as caught:
        await _call(communicator, method)
    assert str(caught.value) == (
        f"application '_idle' (scope type 'websocket') was cancelled {cause}: "
        "it can no longer receive or send messages"
    )


def _print_observed_table() -> None:
    async def collect() -> dict[tuple[str, str], str]:
        return {key: await observe(*key) for key in _table_ids()}

    observed = asyncio.run(collect())
    gc.collect()
    for key, cell in observed.items():
        print(f"    {key!r}: {cell!r},")


if __name__ == "__main__":
    print(f"# Python {sys.version.split()[0]}")
    _print_observed_table()
