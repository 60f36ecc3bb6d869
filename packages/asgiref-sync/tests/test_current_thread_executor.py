"""asgiref.current_thread_executor.CurrentThreadExecutor."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest

from asgiref.current_thread_executor import CurrentThreadExecutor


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
    assert inner._live() is outer
    outer.run_until_future(finished)
    assert inner._live() is None
