"""CallOutcome behaves exactly as concurrent.futures.Future does; each
scenario runs on both and must give the same observations."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, InvalidStateError
from typing import Any

import pytest

from asgiref.current_thread_executor import CallOutcome

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.parametrize("make", [Future, CallOutcome], ids=["Future", "CallOutcome"]),
]

_Make = Callable[[], "Future[Any]"]


def _states(future: Future[Any]) -> tuple[bool, bool, bool]:
    return future.running(), future.cancelled(), future.done()


def test_result_path_and_callbacks(make: _Make) -> None:
    future = make()
    calls: list[str] = []
    future.add_done_callback(lambda f: calls.append(f"first {f.result()}"))
    assert _states(future) == (False, False, False)
    assert future.set_running_or_notify_cancel() is True
    assert _states(future) == (True, False, False)
    assert future.cancel() is False
    future.add_done_callback(lambda f: calls.append("second"))
    future.set_result(42)
    assert _states(future) == (False, False, True)
    assert future.result() == 42
    assert future.exception() is None
    future.add_done_callback(lambda f: calls.append("late"))  # runs at once
    assert calls == ["first 42", "second", "late"]
    with pytest.raises(InvalidStateError):
        future.set_result(1)
    with pytest.raises(InvalidStateError):
        future.set_exception(ValueError())
    with pytest.raises(RuntimeError):
        future.set_running_or_notify_cancel()
    assert "finished returned int" in repr(future)


def test_exception_path(make: _Make) -> None:
    future = make()
    error = ValueError("boom")
    future.set_exception(error)
    assert future.exception() is error
    with pytest.raises(ValueError, match="boom"):
        future.result()
    assert "finished raised ValueError" in repr(future)


def test_cancellation_path(make: _Make) -> None:
    future = make()
    seen: list[bool] = []
    future.add_done_callback(lambda f: seen.append(f.cancelled()))
    assert future.cancel() is True
    assert future.cancel() is True
    assert _states(future) == (False, True, True)
    assert seen == [True]
    assert future.set_running_or_notify_cancel() is False
    assert future.cancelled()
    with pytest.raises(CancelledError):
        future.result()
    with pytest.raises(CancelledError):
        future.exception()
    with pytest.raises(InvalidStateError):
        future.set_result(1)


def test_blocking_result_is_woken_by_another_thread(make: _Make) -> None:
    future = make()
    threading.Timer(0.05, future.set_result, ("late",)).start()
    assert future.result(timeout=10) == "late"

    pending = make()
    started = time.monotonic()
    with pytest.raises(concurrent.futures.TimeoutError):
        pending.result(timeout=0.05)
    assert time.monotonic() - started < 5


def test_blocking_exception_and_cancel_wake_waiters(make: _Make) -> None:
    failing, cancelled = make(), make()
    threading.Timer(0.05, failing.set_exception, (KeyError("k"),)).start()
    assert isinstance(failing.exception(timeout=10), KeyError)
    threading.Timer(0.05, cancelled.cancel).start()
    with pytest.raises(CancelledError):
        cancelled.result(timeout=10)


def test_concurrent_futures_wait_and_as_completed(make: _Make) -> None:
    first, second = make(), make()
    threading.Timer(0.05, first.set_result, (1,)).start()
    done, not_done = concurrent.futures.wait(
        [first, second], timeout=10, return_when=concurrent.futures.FIRST_COMPLETED
    )
    assert done == {first}
    assert not_done == {second}
    threading.Timer(0.05, second.set_result, (2,)).start()
    assert {f.result() for f in concurrent.futures.as_completed([first, second], timeout=10)} == {
        1,
        2,
    }


def test_a_failing_callback_is_logged_and_the_others_still_run(
    make: _Make, caplog: pytest.LogCaptureFixture
) -> None:
    future = make()
    calls: list[str] = []

    def broken(_: Future[Any]) -> None:
        raise RuntimeError("callback failed")

    future.add_done_callback(broken)
    future.add_done_callback(lambda f: calls.append("ran"))
    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        future.set_result(None)
    assert calls == ["ran"]
    assert "exception calling callback" in caplog.text


def test_one_winner_among_racing_completions(make: _Make) -> None:
    future = make()
    barrier = threading.Barrier(8)
    winners: list[int] = []

    def race(index: int) -> None:
        barrier.wait(10)
        try:
            future.set_result(index)
        except InvalidStateError:
            return
        winners.append(index)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(winners) == 1
    assert future.result() == winners[0]
