"""asgiref.sync._one_thread.OneThreadExecutor: what a ThreadPoolExecutor(max_workers=1)
user expects of it.

It is ``SyncToAsync.single_thread_executor`` and the executor of every
``ThreadSensitiveContext``. Each test here checks one promise of the one-worker
thread pool it stands in for: one lazily started thread, submission order,
outcomes through the future, the three kinds of shutdown, futures that work with
``concurrent.futures`` and asyncio, and a clean end of the process (also after
a fork).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import itertools
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from asgiref.sync._one_thread import OneThreadExecutor
from monorepo_testing import python_program_output

pytestmark = pytest.mark.timeout(60)

_T = TypeVar("_T")

# Every bounded wait of this module (joins, results, polls).
WAIT = 10.0

_serial = itertools.count()


def _unique(label: str) -> str:
    # The trailing dash keeps "ote-x-1-" from being a prefix of "ote-x-10-_0".
    return f"ote-{label}-{next(_serial)}-"


def _threads_named(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def _start(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def _join(thread: threading.Thread) -> None:
    thread.join(WAIT)
    assert not thread.is_alive(), f"{thread.name} did not end within {WAIT} s"


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.005)


def _hold(started: threading.Event, gate: threading.Event, value: _T) -> _T:
    """A job that occupies the worker until ``gate`` opens."""
    started.set()
    if not gate.wait(WAIT):
        raise AssertionError("the gate was never opened")
    return value


class _Pool:
    """Executors and gates of one test, released and checked at teardown."""

    def __init__(self) -> None:
        self.executors: list[tuple[str, OneThreadExecutor]] = []
        self.gates: list[threading.Event] = []

    def new(self, label: str) -> tuple[OneThreadExecutor, str]:
        prefix = _unique(label)
        executor = OneThreadExecutor(prefix)
        self.executors.append((prefix, executor))
        return executor, prefix

    def gate(self) -> threading.Event:
        event = threading.Event()
        self.gates.append(event)
        return event

    def close(self) -> None:
        for gate in self.gates:
            gate.set()
        for _, executor in self.executors:
            executor.shutdown(wait=False, cancel_futures=True)
        for prefix, _ in self.executors:
            for thread in _threads_named(prefix):
                _join(thread)


class _Busy:
    """An executor whose worker holds a job behind ``gate``, with twenty
    jobs queued behind it that append to ``ran`` in order."""

    def __init__(self, pool: _Pool, label: str) -> None:
        self.executor, _ = pool.new(label)
        self.worker = self.executor.submit(threading.current_thread).result(timeout=WAIT)
        started, self.gate = threading.Event(), pool.gate()
        self.held = self.executor.submit(_hold, started, self.gate, "held")
        assert started.wait(WAIT)
        self.ran: list[int] = []
        self.queued = [self.executor.submit(self.ran.append, i) for i in range(20)]


@pytest.fixture
def pool() -> Iterator[_Pool]:
    made = _Pool()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def thread_starts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads started during the test (even short-lived ones)."""
    names: list[str] = []
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        names.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    return names


def _started_with(names: list[str], prefix: str) -> list[str]:
    return [name for name in names if name.startswith(prefix)]


# -- 1. one lazily started thread, submission order --------------------------------


def test_the_process_wide_executor_is_a_one_worker_thread_pool() -> None:
    executor = SyncToAsync.single_thread_executor
    assert isinstance(executor, ThreadPoolExecutor)
    assert executor._max_workers == 1


def test_a_new_executor_is_a_one_worker_thread_pool() -> None:
    executor = OneThreadExecutor(_unique("type"))
    try:
        assert isinstance(executor, ThreadPoolExecutor)
        assert executor._max_workers == 1
    finally:
        executor.shutdown()


def test_no_thread_starts_before_the_first_submit_and_only_one_after(
    pool: _Pool, thread_starts: list[str]
) -> None:
    executor, prefix = pool.new("lazy")
    time.sleep(0.05)
    assert _threads_named(prefix) == []
    assert _started_with(thread_starts, prefix) == []
    worker = executor.submit(threading.current_thread).result(timeout=WAIT)
    assert worker is not threading.current_thread()
    assert worker.name.startswith(prefix)
    assert _threads_named(prefix) == [worker]
    for _ in range(20):
        assert executor.submit(threading.current_thread).result(timeout=WAIT) is worker
    assert _started_with(thread_starts, prefix) == [worker.name]


def test_an_executor_shut_down_unused_never_starts_a_thread(
    pool: _Pool, thread_starts: list[str]
) -> None:
    executor, prefix = pool.new("unused")
    executor.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        executor.submit(print)
    executor.shutdown(wait=True)
    executor.shutdown(wait=False, cancel_futures=True)
    with pytest.raises(RuntimeError):
        executor.submit(print)
    assert _started_with(thread_starts, prefix) == []


def test_all_work_runs_on_one_thread_in_submission_order(pool: _Pool) -> None:
    executor, prefix = pool.new("order")
    ran: list[int] = []

    def record(i: int) -> threading.Thread:
        ran.append(i)
        return threading.current_thread()

    futures = [executor.submit(record, i) for i in range(500)]
    workers = {f.result(timeout=WAIT) for f in futures}
    assert ran == list(range(500))
    # After an idle spell the same thread serves again, as a pool's worker does.
    time.sleep(0.05)
    workers.add(executor.submit(threading.current_thread).result(timeout=WAIT))
    assert len(workers) == 1
    (worker,) = workers
    assert worker.name.startswith(prefix)
    assert _threads_named(prefix) == [worker]


def test_work_from_several_threads_at_once_runs_on_one_thread_in_each_ones_order(
    pool: _Pool,
) -> None:
    executor, prefix = pool.new("many")
    submitters, per_submitter = 4, 200
    barrier = threading.Barrier(submitters, timeout=WAIT)
    ran: list[tuple[int, int]] = []
    futures: dict[int, list[Future[threading.Thread]]] = {}

    def record(who: int, i: int) -> threading.Thread:
        ran.append((who, i))
        return threading.current_thread()

    def submit_all(who: int) -> None:
        barrier.wait()  # the first submits (and so the thread start) race
        futures[who] = [executor.submit(record, who, i) for i in range(per_submitter)]

    threads = [_start(functools.partial(submit_all, who)) for who in range(submitters)]
    for thread in threads:
        _join(thread)
    assert sorted(futures) == list(range(submitters))
    workers = {f.result(timeout=WAIT) for fs in futures.values() for f in fs}
    assert len(workers) == 1
    assert _threads_named(prefix) == list(workers)
    assert len(ran) == submitters * per_submitter
    for who in range(submitters):
        assert [i for w, i in ran if w == who] == list(range(per_submitter))


# -- 2. outcomes ----------------------------------------------------------------------


class _CustomBaseError(BaseException):
    pass


def test_results_and_exceptions_come_back_through_the_future(pool: _Pool) -> None:
    executor, _ = pool.new("outcomes")
    assert executor.submit(pow, 2, 10).result(timeout=WAIT) == 1024
    assert executor.submit(dict, a=1).result(timeout=WAIT) == {"a": 1}
    failed = executor.submit(int, "not a number")
    with pytest.raises(ValueError):
        failed.result(timeout=WAIT)
    assert isinstance(failed.exception(timeout=WAIT), ValueError)


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, _CustomBaseError])
def test_a_base_exception_from_a_job_is_the_futures_and_the_worker_keeps_serving(
    pool: _Pool, error: type[BaseException]
) -> None:
    executor, _ = pool.new("base-exc")
    worker = executor.submit(threading.current_thread).result(timeout=WAIT)
    raised = error("from the job")

    def fail() -> None:
        raise raised

    failed = executor.submit(fail)
    after = executor.submit(threading.current_thread)
    assert failed.exception(timeout=WAIT) is raised
    with pytest.raises(error):
        failed.result(timeout=WAIT)
    assert after.result(timeout=WAIT) is worker
    assert executor.submit(threading.current_thread).result(timeout=WAIT) is worker
    assert worker.is_alive()


# -- 3. shutdown ---------------------------------------------------------------------


def test_shutdown_waits_for_queued_work_and_the_thread(pool: _Pool) -> None:
    executor, _ = pool.new("wait")
    worker = executor.submit(threading.current_thread).result(timeout=WAIT)
    started = threading.Event()
    ran: list[int] = []

    def slow() -> str:
        started.set()
        time.sleep(0.3)
        return "slow"

    first = executor.submit(slow)
    queued = [executor.submit(ran.append, i) for i in range(20)]
    assert started.wait(WAIT)
    executor.shutdown(wait=True)
    assert first.done()
    assert all(f.done() for f in queued)
    assert ran == list(range(20))
    assert not worker.is_alive()
    assert first.result(timeout=0) == "slow"


def test_shutdown_without_waiting_returns_at_once_and_queued_work_still_runs(
    pool: _Pool,
) -> None:
    busy = _Busy(pool, "nowait")

    closer = _start(lambda: busy.executor.shutdown(wait=False))
    closer.join(5)
    assert not closer.is_alive(), "shutdown(wait=False) waited for the held job"
    with pytest.raises(RuntimeError):
        busy.executor.submit(print)
    assert busy.worker.is_alive()
    assert not busy.held.done()

    busy.gate.set()
    assert busy.held.result(timeout=WAIT) == "held"
    for future in busy.queued:
        future.result(timeout=WAIT)
    assert busy.ran == list(range(20))
    _join(busy.worker)


def test_unfinished_work_is_none_once_every_job_has_finished(pool: _Pool) -> None:
    executor, _ = pool.new("idle")
    executor.shutdown(wait=False)
    assert executor.unfinished_work() is None  # never started
    executor, _ = pool.new("finished")
    executor.submit(print).result(timeout=WAIT)
    executor.shutdown(wait=False)
    assert executor.unfinished_work() is None


def test_the_executor_keeps_no_outcome_of_its_last_job_alive(pool: _Pool) -> None:
    # The process-wide executor is never shut down: holding its last job
    # would hold that call's result, or its exception and traceback frames.
    class Payload:
        pass

    def fail(payload: Payload) -> None:
        raise ValueError(payload)

    executor, _ = pool.new("weak")
    result = executor.submit(Payload).result(timeout=WAIT)
    returned = weakref.ref(result)
    failing = executor.submit(fail, Payload())
    raised = failing.exception(timeout=WAIT)
    assert isinstance(raised, ValueError)
    in_traceback = weakref.ref(raised.args[0])
    del result, failing, raised
    gc.collect()
    assert returned() is None
    assert in_traceback() is None
    assert executor.unfinished_work() is None


@pytest.mark.parametrize("cancel_futures", [False, True])
def test_unfinished_work_is_done_after_the_running_and_queued_jobs(
    pool: _Pool, cancel_futures: bool
) -> None:
    # With cancel_futures the last job is done (cancelled) while the held one
    # still runs: the future must wait for that one all the same.
    busy = _Busy(pool, "unfinished")
    busy.executor.shutdown(wait=False, cancel_futures=cancel_futures)
    unfinished = busy.executor.unfinished_work()
    assert unfinished is not None
    assert not unfinished.done()
    busy.gate.set()
    unfinished.result(timeout=WAIT)
    assert busy.held.done()
    assert all(future.done() for future in busy.queued)
    assert busy.ran == ([] if cancel_futures else list(range(20)))


def test_shutdown_with_cancel_futures_cancels_queued_work_and_finishes_the_running_job(
    pool: _Pool,
) -> None:
    busy = _Busy(pool, "cancel")
    notified: list[Future[None]] = []
    busy.queued[0].add_done_callback(notified.append)

    closer = _start(lambda: busy.executor.shutdown(cancel_futures=True))  # wait=True
    _wait_until(lambda: all(f.cancelled() for f in busy.queued), "the queued work is cancelled")
    assert notified == [busy.queued[0]]
    time.sleep(0.05)
    assert closer.is_alive(), "shutdown(wait=True) returned while a job was running"
    assert not busy.held.done()

    busy.gate.set()
    _join(closer)
    assert busy.held.result(timeout=0) == "held"
    assert not busy.worker.is_alive()
    assert busy.ran == []
    for future in busy.queued:
        with pytest.raises(CancelledError):
            future.result(timeout=0)
    with pytest.raises(RuntimeError):
        busy.executor.submit(print)


def test_a_queued_job_cancelled_by_its_caller_never_runs(pool: _Pool) -> None:
    executor, _ = pool.new("user-cancel")
    started, gate = threading.Event(), pool.gate()
    held = executor.submit(_hold, started, gate, None)
    assert started.wait(WAIT)
    ran: list[str] = []
    doomed = executor.submit(ran.append, "doomed")
    after = executor.submit(ran.append, "after")
    assert doomed.cancel()
    assert not held.cancel()  # already running
    gate.set()
    after.result(timeout=WAIT)
    assert ran == ["after"]
    assert doomed.cancelled()
    # The worker skipped it, which is what concurrent.futures.wait counts as done.
    done, not_done = concurrent.futures.wait([doomed, held], timeout=WAIT)
    assert done == {doomed, held}
    assert not not_done


def test_submit_after_shutdown_raises_and_shutdown_twice_is_fine(pool: _Pool) -> None:
    executor, prefix = pool.new("closed")
    worker = executor.submit(threading.current_thread).result(timeout=WAIT)
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(print)
    executor.shutdown()
    executor.shutdown(wait=False, cancel_futures=True)
    with pytest.raises(RuntimeError):
        executor.submit(print)
    assert not worker.is_alive()
    assert _threads_named(prefix) == []


def test_the_with_statement_shuts_down_and_waits(pool: _Pool) -> None:
    executor, _ = pool.new("with")
    ran: list[str] = []
    with executor as entered:
        assert entered is executor
        worker = executor.submit(threading.current_thread).result(timeout=WAIT)
        slow = executor.submit(time.sleep, 0.3)
        later = executor.submit(ran.append, "later")
    assert slow.done()
    assert later.done()
    assert ran == ["later"]
    assert not worker.is_alive()
    with pytest.raises(RuntimeError):
        executor.submit(print)


def test_work_accepted_while_shutdown_runs_completes_before_it_returns(pool: _Pool) -> None:
    executor, _ = pool.new("race")
    handed_out: list[Future[int]] = []
    refused, going = threading.Event(), threading.Event()

    def submit_until_refused() -> None:
        for i in range(200_000):
            try:
                handed_out.append(executor.submit(int, i))
            except RuntimeError:
                refused.set()
                return
            if i == 100:
                going.set()

    submitter = _start(submit_until_refused)
    assert going.wait(WAIT)
    executor.shutdown(wait=True)
    accepted = list(handed_out)
    assert all(f.done() for f in accepted)
    _join(submitter)
    assert refused.is_set()
    assert [f.result(timeout=0) for f in handed_out] == list(range(len(handed_out)))


def test_shutdown_from_several_threads_at_once_raises_nowhere() -> None:
    # A ThreadPoolExecutor's shutdown may be called concurrently (an atexit
    # hook, a context's exit and user code can all do it at once). The race is
    # narrow, so this tries for up to two seconds, with a tiny switch interval.
    # The closers do not wait: on 3.10/3.11, Thread.join itself can fail when
    # several threads join one thread at once (an assert in Thread._stop),
    # which a ThreadPoolExecutor would suffer just the same.
    closers = 8
    errors: list[BaseException] = []
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    deadline = time.monotonic() + 2
    try:
        while not errors and time.monotonic() < deadline:
            executor = OneThreadExecutor(_unique("shutdown-race"))
            worker = executor.submit(threading.current_thread).result(timeout=WAIT)
            barrier = threading.Barrier(closers, timeout=WAIT)

            def close(executor: OneThreadExecutor = executor, barrier: Any = barrier) -> None:
                barrier.wait()
                try:
                    executor.shutdown(wait=False)
                except BaseException as exc:
                    errors.append(exc)

            threads = [_start(close) for _ in range(closers)]
            for thread in threads:
                _join(thread)
            executor.shutdown(wait=False)
            _join(worker)
    finally:
        sys.setswitchinterval(old_interval)
    assert errors == []


def test_two_shutdowns_that_interleave_raise_nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same promise as above, with the interleaving forced: white-box, it
    # holds each of two closers right after it has asked the executor's stop
    # future whether it is done, until the other has asked too (or 0.5 s
    # passed, so that a shutdown serialised by a lock still gets through).
    executor = OneThreadExecutor(_unique("shutdown-interleave"))
    worker = executor.submit(threading.current_thread).result(timeout=WAIT)
    stop = getattr(executor, "_stop", None)
    if not isinstance(stop, Future):
        executor.shutdown()
        pytest.skip("no _stop future to hook any more; the test above still covers this")
    real_done = stop.done
    both_asked = threading.Barrier(2)
    holding: set[threading.Thread] = set()
    errors: list[BaseException] = []

    def done_once_both_asked() -> bool:
        answer = real_done()
        if threading.current_thread() in holding:
            holding.discard(threading.current_thread())
            with contextlib.suppress(threading.BrokenBarrierError):
                both_asked.wait(timeout=0.5)
        return answer

    def close() -> None:
        try:
            executor.shutdown(wait=False)  # no concurrent joins (see above)
        except BaseException as exc:
            errors.append(exc)

    monkeypatch.setattr(stop, "done", done_once_both_asked)
    threads = [threading.Thread(target=close, daemon=True) for _ in range(2)]
    holding.update(threads)
    for thread in threads:
        thread.start()
    for thread in threads:
        _join(thread)
    executor.shutdown(wait=False)
    _join(worker)
    assert errors == []


# -- 4. a job that submits more work ------------------------------------------------------


def test_a_job_can_queue_more_work_on_its_own_executor(pool: _Pool) -> None:
    executor, _ = pool.new("nested")
    order: list[str] = []

    def inner() -> threading.Thread:
        order.append("inner")
        return threading.current_thread()

    def outer() -> tuple[Future[threading.Thread], threading.Thread]:
        order.append("outer-start")
        follow_up = executor.submit(inner)
        assert not follow_up.done()  # queued behind the running job
        order.append("outer-end")
        return follow_up, threading.current_thread()

    follow_up, outer_thread = executor.submit(outer).result(timeout=WAIT)
    assert follow_up.result(timeout=WAIT) is outer_thread
    assert order == ["outer-start", "outer-end", "inner"]


def test_a_chain_of_jobs_and_done_callbacks_each_submitting_the_next_runs_to_the_end(
    pool: _Pool,
) -> None:
    executor, _ = pool.new("chain")
    links: list[int] = []
    finished = threading.Event()

    def link(i: int) -> None:
        links.append(i)
        if i == 50:
            finished.set()
        elif i % 2:
            executor.submit(link, i + 1)
        else:
            # From a done callback, which runs on the worker as the job ends.
            executor.submit(int).add_done_callback(lambda _: executor.submit(link, i + 1))

    executor.submit(link, 0)
    assert finished.wait(WAIT)
    assert links == list(range(51))


# -- 5. the futures -------------------------------------------------------------------


def test_blocking_waiters_on_a_pending_future_are_woken_with_its_result(pool: _Pool) -> None:
    executor, _ = pool.new("blocking")
    started, gate = threading.Event(), pool.gate()
    pending = executor.submit(_hold, started, gate, "value")
    assert started.wait(WAIT)
    with pytest.raises(concurrent.futures.TimeoutError):
        pending.result(timeout=0.05)
    with pytest.raises(concurrent.futures.TimeoutError):
        pending.exception(timeout=0.05)
    got: list[object] = []
    waiters = [_start(lambda: got.append(pending.result(timeout=WAIT))) for _ in range(4)]
    time.sleep(0.05)
    assert all(w.is_alive() for w in waiters)
    assert got == []
    gate.set()
    # Woken by the outcome, not by their own timeout running out.
    woken_by = time.monotonic() + 3
    for waiter in waiters:
        waiter.join(max(0.0, woken_by - time.monotonic()))
        assert not waiter.is_alive(), "a blocked waiter was not woken by the result"
    assert got == ["value"] * 4


def test_concurrent_futures_wait_and_as_completed(pool: _Pool) -> None:
    executor, _ = pool.new("wait-fns")
    started, gate = threading.Event(), pool.gate()
    held = executor.submit(_hold, started, gate, -1)
    assert started.wait(WAIT)
    rest = [executor.submit(int, i) for i in range(10)]

    done, not_done = concurrent.futures.wait([held, *rest], timeout=0.05)
    assert not done
    assert not_done == {held, *rest}

    opener = threading.Timer(0.05, gate.set)
    opener.start()
    try:
        done, _ = concurrent.futures.wait(
            [held, *rest], timeout=WAIT, return_when=concurrent.futures.FIRST_COMPLETED
        )
        assert held in done
        completed = [f.result() for f in concurrent.futures.as_completed(rest, timeout=WAIT)]
        assert sorted(completed) == list(range(10))
        done, not_done = concurrent.futures.wait([held, *rest], timeout=WAIT)
        assert done == {held, *rest}
        assert not not_done
    finally:
        opener.cancel()
        opener.join(WAIT)


def test_as_completed_waiting_on_pending_work(pool: _Pool) -> None:
    executor, _ = pool.new("as-completed")
    started, gate = threading.Event(), pool.gate()
    held = executor.submit(_hold, started, gate, -1)
    assert started.wait(WAIT)
    rest = [executor.submit(int, i) for i in range(10)]
    opener = threading.Timer(0.05, gate.set)
    opener.start()
    try:
        completed = [f.result() for f in concurrent.futures.as_completed([held, *rest], WAIT)]
    finally:
        opener.cancel()
        opener.join(WAIT)
    assert sorted(completed) == list(range(-1, 10))


def test_map_returns_results_in_order(pool: _Pool) -> None:
    executor, _ = pool.new("map")
    assert list(executor.map(pow, range(20), itertools.repeat(2), timeout=WAIT)) == [
        i * i for i in range(20)
    ]


def test_done_callbacks_run_once_on_the_worker_or_at_once_when_added_late(pool: _Pool) -> None:
    executor, _ = pool.new("callbacks")
    worker = executor.submit(threading.current_thread).result(timeout=WAIT)
    started, gate = threading.Event(), pool.gate()
    pending = executor.submit(_hold, started, gate, "value")
    assert started.wait(WAIT)
    calls: list[tuple[str, Future[str], threading.Thread]] = []

    def failing_callback(_: Future[str]) -> None:
        raise RuntimeError("a failing callback must not stop the others")

    pending.add_done_callback(lambda f: calls.append(("early", f, threading.current_thread())))
    pending.add_done_callback(failing_callback)
    pending.add_done_callback(lambda f: calls.append(("second", f, threading.current_thread())))
    assert calls == []
    gate.set()
    assert pending.result(timeout=WAIT) == "value"
    _wait_until(lambda: len(calls) == 2, "both early callbacks ran")
    assert calls == [("early", pending, worker), ("second", pending, worker)]

    pending.add_done_callback(lambda f: calls.append(("late", f, threading.current_thread())))
    assert calls[2:] == [("late", pending, threading.current_thread())]
    time.sleep(0.05)
    assert len(calls) == 3


async def test_asyncio_wrap_future_and_run_in_executor(pool: _Pool) -> None:
    executor, prefix = pool.new("asyncio")
    loop = asyncio.get_running_loop()
    started, gate = threading.Event(), pool.gate()

    pending = executor.submit(_hold, started, gate, "wrapped")
    assert await asyncio.to_thread(started.wait, WAIT)
    loop.call_later(0.05, gate.set)
    assert await asyncio.wait_for(asyncio.wrap_future(pending), WAIT) == "wrapped"

    worker = await asyncio.wait_for(loop.run_in_executor(executor, threading.current_thread), WAIT)
    assert worker.name.startswith(prefix)
    assert await asyncio.wait_for(loop.run_in_executor(executor, pow, 3, 4), WAIT) == 81
    with pytest.raises(ZeroDivisionError):
        await asyncio.wait_for(loop.run_in_executor(executor, divmod, 1, 0), WAIT)


async def test_cancelling_the_asyncio_side_cancels_a_queued_job(pool: _Pool) -> None:
    executor, _ = pool.new("asyncio-cancel")
    started, gate = threading.Event(), pool.gate()
    held = executor.submit(_hold, started, gate, None)
    assert await asyncio.to_thread(started.wait, WAIT)
    ran: list[str] = []
    queued = executor.submit(ran.append, "queued")
    wrapped = asyncio.wrap_future(queued)

    async def await_it() -> None:
        await wrapped

    waiter = asyncio.create_task(await_it())
    await asyncio.sleep(0)  # the task now awaits the wrapped future
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    # The wrapped future's done callbacks (one cancels the job) ran before the task resumed.
    assert wrapped.cancelled()
    assert queued.cancelled()
    gate.set()
    await asyncio.wait_for(asyncio.wrap_future(held), WAIT)
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.run_in_executor(executor, ran.append, "after"), WAIT)
    assert ran == ["after"]


# -- 6. process exit -----------------------------------------------------------------


def test_a_program_that_used_sync_to_async_exits_promptly(tmp_path: Path) -> None:
    output = python_program_output(
        """
        import asyncio, threading
        from asgiref.sync import sync_to_async

        async def main():
            return await sync_to_async(threading.current_thread)()

        worker = asyncio.run(main())
        assert worker is not threading.current_thread()
        assert worker.is_alive()  # idle, parked waiting for work
        print("main done", flush=True)
        """,
        tmp_path,
    )
    assert output == ["main done"]


@pytest.mark.parametrize("which", ["process-wide", "own"])
def test_work_submitted_before_exit_still_completes(tmp_path: Path, which: str) -> None:
    output = python_program_output(
        f"""
        import sys, time
        from asgiref.sync import SyncToAsync
        from asgiref.sync._one_thread import OneThreadExecutor

        if {which!r} == "process-wide":
            executor = SyncToAsync.single_thread_executor
        else:
            executor = OneThreadExecutor("exit-test")

        def job(text, pause):
            time.sleep(pause)
            sys.stdout.write(text + "\\n")
            sys.stdout.flush()

        executor.submit(job, "slow job done", 0.3)
        executor.submit(job, "queued job done", 0)
        print("main done", flush=True)
        """,
        tmp_path,
    )
    assert output == ["main done", "slow job done", "queued job done"]


# -- 7. ThreadSensitiveContext ----------------------------------------------------------


async def test_a_thread_sensitive_context_has_its_own_thread_which_ends_after_exit() -> None:
    process_wide = await asyncio.wait_for(
        asyncio.wrap_future(SyncToAsync.single_thread_executor.submit(threading.current_thread)),
        WAIT,
    )
    assert await sync_to_async(threading.current_thread)() is process_wide

    async with ThreadSensitiveContext():
        inside = await sync_to_async(threading.current_thread)()
        together = await asyncio.gather(
            *(sync_to_async(threading.current_thread)() for _ in range(5))
        )
    assert inside is not process_wide
    assert inside is not threading.current_thread()
    assert together == [inside] * 5
    assert inside.name.startswith("asgiref-thread-sensitive")

    await asyncio.to_thread(inside.join, WAIT)
    assert not inside.is_alive(), "the context's thread outlived the context"
    assert process_wide.is_alive()
    assert await sync_to_async(threading.current_thread)() is process_wide


async def test_each_thread_sensitive_context_gets_a_thread_and_every_one_ends() -> None:
    async def one_context() -> threading.Thread:
        async with ThreadSensitiveContext():
            first = await sync_to_async(threading.current_thread)()
            await asyncio.sleep(0.01)
            assert await sync_to_async(threading.current_thread)() is first
            return first

    threads = await asyncio.gather(*(one_context() for _ in range(5)))
    assert len(set(threads)) == 5
    for thread in threads:
        await asyncio.to_thread(thread.join, WAIT)
        assert not thread.is_alive()


# -- 8. fork ------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_can_use_sync_to_async_and_exits_cleanly(tmp_path: Path) -> None:
    output = python_program_output(
        """
        import asyncio, os, signal, sys, threading, time, warnings
        from asgiref.sync import ThreadSensitiveContext, sync_to_async
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+

        async def worker_ident():
            plain = await sync_to_async(threading.get_ident)()
            async with ThreadSensitiveContext():
                in_context = await sync_to_async(threading.get_ident)()
            return plain, in_context

        parent_plain, _ = asyncio.run(worker_ident())  # the parent's worker is up
        pid = os.fork()
        if pid == 0:
            try:
                plain, in_context = asyncio.run(asyncio.wait_for(worker_ident(), 10))
                assert threading.get_ident() not in (plain, in_context)
                assert plain != in_context
                os.write(1, b"child ok\\n")
            except BaseException as exc:
                os.write(1, f"child failed: {exc!r}\\n".encode())  # shows in the output compared
                sys.exit(3)
            sys.exit(0)  # a normal exit: atexit hooks and all

        deadline = time.monotonic() + 15
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                print("child hung", flush=True)
                sys.exit(1)
            time.sleep(0.01)
        code = os.waitstatus_to_exitcode(status)
        print(f"child exit code {code}", flush=True)
        assert asyncio.run(worker_ident())[0] == parent_plain  # the parent is unaffected
        """,
        tmp_path,
    )
    assert output == ["child ok", "child exit code 0"]
