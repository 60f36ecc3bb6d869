"""The worker pool: max_workers bounds running jobs; a job waiting on its client steps aside."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait

import pytest

from asgiref.wsgi._pool import LazyPool, WorkerPool

pytestmark = pytest.mark.timeout(30)


class Gauge:
    """Counts jobs running application code (outside client waits) at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def enter(self) -> None:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)

    def leave(self) -> None:
        with self._lock:
            self.active -= 1


def parked_job(pool: WorkerPool, gauge: Gauge, release: threading.Event) -> Callable[[], str]:
    def job() -> str:
        gauge.enter()
        gauge.leave()
        with pool.client_wait():
            release.wait(10)
        gauge.enter()
        time.sleep(0.01)
        gauge.leave()
        return "done"

    return job


def test_jobs_waiting_on_clients_do_not_take_slots() -> None:
    pool = WorkerPool(2)
    gauge = Gauge()
    release = threading.Event()
    try:
        parked = [pool.submit(parked_job(pool, gauge, release)) for _ in range(20)]
        # Twenty jobs wait on their clients; a plain job still runs at once.
        started = time.monotonic()
        assert pool.submit(lambda: "quick").result(5) == "quick"
        assert time.monotonic() - started < 1
        release.set()
        assert {f.result(10) for f in parked} == {"done"}
        # Coming back, they queued for the two slots: never more than two ran.
        assert gauge.peak <= 2
    finally:
        release.set()
        pool.shutdown()


def test_running_jobs_are_bounded() -> None:
    pool = WorkerPool(3)
    gauge = Gauge()

    def job() -> None:
        gauge.enter()
        time.sleep(0.05)
        gauge.leave()

    try:
        futures = [pool.submit(job) for _ in range(12)]
        wait(futures, 10)
        assert gauge.peak == 3
    finally:
        pool.shutdown()


def test_a_returning_job_goes_before_new_work() -> None:
    pool = WorkerPool(1)
    order: list[str] = []
    release = threading.Event()
    blocker_started = threading.Event()
    unblock = threading.Event()

    def returning() -> None:
        with pool.client_wait():
            release.wait(10)
        order.append("returning")

    def blocker() -> None:
        blocker_started.set()
        unblock.wait(10)
        order.append("blocker")

    try:
        first = pool.submit(returning)
        time.sleep(0.1)  # it is parked now, its slot given away
        second = pool.submit(blocker)
        assert blocker_started.wait(5)
        release.set()
        time.sleep(0.1)
        later = pool.submit(lambda: order.append("new"))
        unblock.set()
        wait([first, second, later], 10)
        assert order == ["blocker", "returning", "new"]
    finally:
        release.set()
        unblock.set()
        pool.shutdown()


def test_extra_threads_end_when_idle() -> None:
    pool = WorkerPool(2)
    release = threading.Event()
    gauge = Gauge()
    before = threading.active_count()
    try:
        parked = [pool.submit(parked_job(pool, gauge, release)) for _ in range(10)]
        time.sleep(0.2)
        assert threading.active_count() >= before + 10
        release.set()
        wait(parked, 10)
        deadline = time.monotonic() + 5
        while threading.active_count() > before + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert threading.active_count() <= before + 2
    finally:
        release.set()
        pool.shutdown()


def test_shutdown_ends_idle_threads_and_refuses_work() -> None:
    pool = WorkerPool(4)
    before = threading.active_count()
    wait([pool.submit(time.sleep, 0.05) for _ in range(4)], 5)
    pool.shutdown(wait=True)
    assert threading.active_count() == before
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)


def test_cancelled_backlog_never_runs() -> None:
    pool = WorkerPool(1)
    release = threading.Event()
    ran: list[int] = []
    try:
        busy = pool.submit(release.wait, 10)
        queued: Future[None] = pool.submit(lambda: ran.append(1))
        assert queued.cancel()
        release.set()
        busy.result(5)
        assert pool.submit(lambda: 2).result(5) == 2
        assert not ran
    finally:
        release.set()
        pool.shutdown()


def test_exceptions_reach_the_future() -> None:
    pool = WorkerPool(1)
    try:
        with pytest.raises(ZeroDivisionError):
            pool.submit(lambda: 1 / 0).result(5)
    finally:
        pool.shutdown()


def test_invalid_size_and_lazy_creation() -> None:
    with pytest.raises(ValueError):
        WorkerPool(0)
    lazy = LazyPool(2)
    before = threading.active_count()
    pool = lazy.get()
    assert lazy.get() is pool
    assert threading.active_count() == before, "threads are only made for work"
    lazy.shutdown()
    assert lazy.get() is not pool
    lazy.shutdown()


def test_a_backlog_reuses_the_threads() -> None:
    # A worker that frees its slot takes the next job itself: no thread churn.
    pool = WorkerPool(2)
    try:
        names = [pool.submit(lambda: threading.current_thread().name) for _ in range(200)]
        assert len({future.result(5) for future in names}) <= 2
    finally:
        pool.shutdown()
