"""async_to_sync from a plain thread behaves as a fresh ``asyncio.run`` per call.

Upstream runs every such call under its own ``asyncio.run`` in a new thread.
Each test here runs a scenario both ways: through ``async_to_sync`` and through
what upstream does (``asyncio.run`` of a wrapper that reports the coroutine's
outcome, in a thread of its own), and compares what the caller gets or what a
later call observes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from asgiref.sync import async_to_sync

pytestmark = pytest.mark.timeout(60)

AsyncFn = Callable[[], Awaitable[Any]]


class CustomBaseError(BaseException):
    """A BaseException that is neither SystemExit nor KeyboardInterrupt."""


def _last_outcome(run_one: Callable[[AsyncFn], Any], calls: tuple[AsyncFn, ...]) -> Any:
    """Run every call in turn, whatever the earlier ones raised; the last
    one's outcome (raised again if it raised)."""
    failure: BaseException | None = None
    result: Any = None
    for call in calls:
        try:
            result, failure = run_one(call), None
        except BaseException as exc:  # every kind is an outcome here
            failure = exc
    if failure is not None:
        raise failure
    return result


def _under_asyncio_run(call: AsyncFn) -> Any:
    """What upstream's async_to_sync does from a plain thread: asyncio.run of
    a wrapper reporting the coroutine's outcome; what escapes asyncio.run
    wins over that outcome."""
    outcome: list[tuple[str, Any]] = []

    async def main_wrap() -> None:
        try:
            outcome.append(("value", await call()))
        except BaseException as exc:
            outcome.append(("raised", exc))

    asyncio.run(main_wrap())
    kind, payload = outcome[0]
    if kind == "raised":
        raise payload
    return payload


def as_upstream(*calls: AsyncFn) -> Callable[[], Any]:
    """The outcome of the last of ``calls``, each under an asyncio.run of its
    own, in turn, from one plain thread."""
    return lambda: _last_outcome(_under_asyncio_run, calls)


def through_bridge(*calls: AsyncFn) -> Callable[[], Any]:
    """The outcome of the last of ``calls``, each run by async_to_sync in turn
    from one plain thread."""
    return lambda: _last_outcome(lambda call: async_to_sync(call)(), calls)


def compare(helpers: Any, *calls: AsyncFn) -> tuple[Any, Any]:
    expected = helpers.outcome_in_thread(as_upstream(*calls)).kind()
    got = helpers.outcome_in_thread(through_bridge(*calls)).kind()
    return got, expected


# -- BaseExceptions reach the caller as upstream delivers them --------------------


async def raised_by_the_coroutine(exc_type: type[BaseException]) -> str:
    raise exc_type()


async def raised_by_a_task_while_the_coroutine_waits(exc_type: type[BaseException]) -> str:
    async def boom() -> None:
        raise exc_type()

    task = asyncio.get_running_loop().create_task(boom())
    await asyncio.sleep(0.2)
    del task
    return "finished"


async def raised_by_an_awaited_task(exc_type: type[BaseException]) -> str:
    async def boom() -> None:
        raise exc_type()

    await asyncio.get_running_loop().create_task(boom())
    return "finished"


async def raised_by_a_callback(exc_type: type[BaseException]) -> str:
    def boom() -> None:
        raise exc_type()

    asyncio.get_running_loop().call_soon(boom)
    await asyncio.sleep(0.2)
    return "finished"


async def raised_by_a_leftover_task_when_cancelled(exc_type: type[BaseException]) -> str:
    started = asyncio.Event()

    async def stubborn() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise exc_type() from None

    asyncio.get_running_loop().create_task(stubborn())
    await started.wait()
    return "finished"


SCENARIOS = [
    raised_by_the_coroutine,
    raised_by_a_task_while_the_coroutine_waits,
    raised_by_an_awaited_task,
    raised_by_a_callback,
    raised_by_a_leftover_task_when_cancelled,
]


async def answer() -> int:
    return 42


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt, CustomBaseError])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_base_exceptions_reach_the_caller_as_upstream_delivers_them(
    bridge_helpers: Any,
    scenario: Callable[[type[BaseException]], Awaitable[str]],
    exc_type: type[BaseException],
) -> None:
    async def call() -> str:
        return await scenario(exc_type)

    got, expected = compare(bridge_helpers, call)
    assert got == expected
    # And the next call in the same thread works.
    got, expected = compare(bridge_helpers, call, answer)
    assert got == expected == ("value", 42)


def test_a_base_exception_leaves_no_thread_behind(bridge_helpers: Any, no_idle_loops: None) -> None:
    before = threading.active_count()

    def many() -> None:
        for _ in range(5):
            with pytest.raises(SystemExit):
                async_to_sync(raised_by_a_task_while_the_coroutine_waits)(SystemExit)

    assert bridge_helpers.outcome_in_thread(many).raised is None
    bridge_helpers.close_idle_loops()
    assert bridge_helpers.settle(lambda: threading.active_count() <= before, 10)


# -- nothing one call leaves behind reaches the next ------------------------------


def test_a_timer_left_by_one_call_never_fires(bridge_helpers: Any) -> None:
    fired: list[str] = []

    async def leave_a_timer() -> None:
        asyncio.get_running_loop().call_later(0.05, fired.append, "fired")

    async def wait_past_it() -> list[str]:
        await asyncio.sleep(0.3)
        return list(fired)

    got, expected = compare(bridge_helpers, leave_a_timer, wait_past_it)
    assert expected == ("value", [])
    assert got == expected
    assert fired == []


def test_a_default_executor_shut_down_by_one_call_is_fresh_in_the_next(
    bridge_helpers: Any,
) -> None:
    async def shut_it_down() -> None:
        await asyncio.get_running_loop().shutdown_default_executor()

    async def use_it() -> int:
        return await asyncio.get_running_loop().run_in_executor(None, int, "7")

    got, expected = compare(bridge_helpers, shut_it_down, use_it)
    assert expected == ("value", 7)
    assert got == expected


def test_work_left_in_the_default_executor_is_waited_for(bridge_helpers: Any) -> None:
    # asyncio.run shuts the default executor down, which waits for its work.
    finished: list[bool] = []

    def slow_job() -> None:
        time.sleep(0.3)
        finished.append(True)

    async def leave_a_job() -> None:
        asyncio.get_running_loop().run_in_executor(None, slow_job)

    def finished_when_returning(runner: Callable[[], Any]) -> list[bool]:
        finished.clear()
        runner()
        return list(finished)

    expected = bridge_helpers.outcome_in_thread(
        lambda: finished_when_returning(as_upstream(leave_a_job))
    ).kind()
    got = bridge_helpers.outcome_in_thread(
        lambda: finished_when_returning(through_bridge(leave_a_job))
    ).kind()
    assert expected == ("value", [True])
    assert got == expected


def test_an_exception_handler_set_by_one_call_is_gone_in_the_next(bridge_helpers: Any) -> None:
    async def set_handler() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)

    async def read_handler() -> Any:
        return asyncio.get_running_loop().get_exception_handler()

    got, expected = compare(bridge_helpers, set_handler, read_handler)
    assert expected == ("value", None)
    assert got == expected


def test_debug_mode_set_by_one_call_is_gone_in_the_next(bridge_helpers: Any) -> None:
    async def flip_debug() -> None:
        loop = asyncio.get_running_loop()
        loop.set_debug(not loop.get_debug())

    async def read_debug() -> bool:
        return asyncio.get_running_loop().get_debug()

    got, expected = compare(bridge_helpers, flip_debug, read_debug)
    assert got == expected


def test_slow_callback_duration_set_by_one_call_is_gone_in_the_next(bridge_helpers: Any) -> None:
    async def change_it() -> None:
        asyncio.get_running_loop().slow_callback_duration = 12.5

    async def read_it() -> float:
        return asyncio.get_running_loop().slow_callback_duration

    got, expected = compare(bridge_helpers, change_it, read_it)
    assert got == expected


def test_a_task_factory_set_by_one_call_is_gone_in_the_next(bridge_helpers: Any) -> None:
    async def set_factory() -> Any:
        loop = asyncio.get_running_loop()
        seen = loop.get_task_factory()  # a fresh loop has none either
        loop.set_task_factory(lambda loop, coro, **kwargs: asyncio.Task(coro, loop=loop, **kwargs))
        return seen

    async def read_factory() -> Any:
        return asyncio.get_running_loop().get_task_factory()

    assert compare(bridge_helpers, set_factory) == (("value", None), ("value", None))
    got, expected = compare(bridge_helpers, set_factory, read_factory)
    assert expected == ("value", None)
    assert got == expected


def test_a_reader_left_by_one_call_never_fires(bridge_helpers: Any) -> None:
    fired: list[str] = []
    pairs: list[tuple[socket.socket, socket.socket]] = []

    async def leave_a_reader() -> None:
        ours, theirs = socket.socketpair()
        pairs.append((ours, theirs))
        asyncio.get_running_loop().add_reader(ours.fileno(), fired.append, "fired")

    async def make_it_readable_and_wait() -> list[str]:
        pairs[-1][1].send(b"x")
        await asyncio.sleep(0.2)
        return list(fired)

    try:
        got, expected = compare(bridge_helpers, leave_a_reader, make_it_readable_and_wait)
    finally:
        for pair in pairs:
            for sock in pair:
                sock.close()
    assert expected == ("value", [])
    assert got == expected


def test_async_generators_work_after_a_call_shut_them_down(bridge_helpers: Any) -> None:
    async def shut_generators_down() -> None:
        await asyncio.get_running_loop().shutdown_asyncgens()

    async def use_a_generator() -> list[str]:
        async def numbers() -> Any:
            yield 1

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async for _ in numbers():
                pass
        return [str(warning.message) for warning in caught]

    got, expected = compare(bridge_helpers, shut_generators_down, use_a_generator)
    assert expected == ("value", [])
    assert got == expected


def test_a_loop_stopped_inside_a_call_fails_that_call_only(bridge_helpers: Any) -> None:
    async def stop_the_loop() -> None:
        asyncio.get_running_loop().stop()
        await asyncio.sleep(0.2)

    got, expected = compare(bridge_helpers, stop_the_loop)
    assert got == expected == ("raised", RuntimeError)
    got, expected = compare(bridge_helpers, stop_the_loop, answer)
    assert got == expected == ("value", 42)
