"""asgiref.current_thread_executor.CurrentThreadExecutor."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest

from asgiref.current_thread_executor import CallOutcome, CurrentThreadExecutor


def _in_thread(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(30)
def test_work_runs_on_the_creating_thread_until_the_future_is_done() -> None:
    executor = CurrentThreadExecutor()
    done: Future[None] = Future()
    results: list[Future[Any]] = []

    def submitter() -> None:
        results.append(executor.submit(threading.current_thread))
        results.append(executor.submit(lambda: 1 / 0))
        results[0].result(10)
        done.set_result(None)

    thread = _in_thread(submitter)
    executor.run_until_future(done)
    thread.join(10)
    assert results[0].result() is threading.current_thread()
    with pytest.raises(ZeroDivisionError):
        results[1].result()


@pytest.mark.timeout(30)
def test_work_submitted_before_serving_still_runs() -> None:
    executor = CurrentThreadExecutor()
    early: list[Future[Any]] = []
    _in_thread(lambda: early.append(executor.submit(threading.current_thread))).join(10)
    done: Future[None] = Future()
    early[0].add_done_callback(lambda _: done.set_result(None))
    executor.run_until_future(done)
    assert early[0].result() is threading.current_thread()


def test_submit_from_own_thread_is_refused() -> None:
    executor = CurrentThreadExecutor()
    with pytest.raises(RuntimeError, match="its own thread"):
        executor.submit(print)


@pytest.mark.timeout(30)
def test_run_until_future_from_another_thread_is_refused() -> None:
    executor = CurrentThreadExecutor()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            executor.run_until_future(Future())
        except RuntimeError as exc:
            errors.append(exc)

    _in_thread(other).join(10)
    assert len(errors) == 1


@pytest.mark.timeout(30)
def test_finished_executor_hands_work_to_the_outer_one() -> None:
    outer = CurrentThreadExecutor()
    inner = CurrentThreadExecutor(outer)
    finished: Future[None] = Future()
    finished.set_result(None)
    inner.run_until_future(finished)

    forwarded: list[Future[Any]] = []
    outer_done: Future[None] = Future()

    def submitter() -> None:
        forwarded.append(inner.submit(threading.current_thread))
        forwarded[0].result(10)
        outer_done.set_result(None)

    _in_thread(submitter)
    outer.run_until_future(outer_done)
    assert forwarded[0].result() is threading.current_thread()

    # Neither accepts work any more, and there is nothing further out.
    errors: list[BaseException] = []

    def late() -> None:
        try:
            inner.submit(print)
        except RuntimeError as exc:
            errors.append(exc)

    _in_thread(late).join(10)
    assert "already quit or is broken" in str(errors[0])


@pytest.mark.timeout(30)
def test_live_walks_out_to_a_working_executor() -> None:
    outer = CurrentThreadExecutor()
    inner = CurrentThreadExecutor(outer)
    finished: Future[None] = Future()
    finished.set_result(None)
    inner.run_until_future(finished)
    assert inner.live() is outer
    outer.run_until_future(finished)
    assert inner.live() is None


# Serving until a CallOutcome ends: the outcome releases the executor's wake-up
# signal itself (no done-callback). Each way of ending must end the serving.


def _serve_in_thread(executor_future: list[Any], until: Any) -> threading.Thread:
    def serve() -> None:
        executor = CurrentThreadExecutor()
        executor_future.append(executor)
        executor.run_until_future(until)

    return _in_thread(serve)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("ending", ["result", "exception", "cancel"])
def test_serving_ends_when_the_served_outcome_ends(ending: str) -> None:
    outcome = CallOutcome()
    if ending != "cancel":
        assert outcome.set_running_or_notify_cancel()
    served: list[Any] = []
    thread = _serve_in_thread(served, outcome)
    # Work submitted meanwhile still runs on the serving thread.
    while not served:
        thread.join(0.01)
    assert served[0].submit(threading.current_thread).result(10) is thread
    if ending == "result":
        outcome.set_result(1)
    elif ending == "exception":
        outcome.set_exception(ValueError())
    else:
        assert outcome.cancel()
    thread.join(10)
    assert not thread.is_alive()


@pytest.mark.timeout(30)
def test_serving_an_outcome_that_has_already_ended_returns_at_once() -> None:
    outcome = CallOutcome()
    outcome.set_running_or_notify_cancel()
    outcome.set_result(None)
    CurrentThreadExecutor().run_until_future(outcome)


@pytest.mark.timeout(30)
def test_two_executors_serving_one_outcome_both_end() -> None:
    # The outcome has one slot for a wake-up signal; the second executor
    # falls back to a done-callback.
    outcome = CallOutcome()
    outcome.set_running_or_notify_cancel()
    served: list[Any] = []
    threads = [_serve_in_thread(served, outcome) for _ in range(2)]
    while len(served) < 2:
        threads[0].join(0.01)
    for executor in served:  # both are serving (or about to)
        assert executor.submit(int).result(10) == 0
    outcome.set_result(None)
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
