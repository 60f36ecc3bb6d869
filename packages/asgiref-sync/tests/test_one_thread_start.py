"""Starting a one-thread executor's thread costs its caller no handshake.

The first submit to a ``OneThreadExecutor`` (one per ``ThreadSensitiveContext``,
so one per request under Django) starts its thread. The caller, usually the
event loop's thread, must get its future back without waiting for the new
thread to run any code of its own: only ``Thread.start()``'s own wait remains.
Each test holds the new thread at its first line and checks what the caller
can do meanwhile, and that the work then runs as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import pytest

from asgiref.sync import _one_thread
from asgiref.sync._one_thread import OneThreadExecutor

pytestmark = pytest.mark.timeout(60)

WAIT = 10.0


@pytest.fixture
def held_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Bridge threads made while this is active run nothing until it is set."""
    gate = threading.Event()
    real = _one_thread.bridge_thread

    def held(target: Callable[[], object], name: str) -> threading.Thread:
        def run() -> None:
            gate.wait(WAIT)
            target()

        return real(run, name)

    monkeypatch.setattr(_one_thread, "bridge_thread", held)
    try:
        yield gate
    finally:
        gate.set()


def _first_submit(executor: OneThreadExecutor) -> Future[str]:
    """The first submit's future (the name of the thread running it), made
    while the new thread is held; fails if the submit waits for that thread."""
    # A helper thread submits, so that a submit stuck in a handshake fails
    # the test instead of hanging it (the fixture releases it afterwards).
    futures: list[Future[str]] = []

    def submit() -> None:
        futures.append(executor.submit(lambda: threading.current_thread().name))

    submitter = threading.Thread(target=submit, daemon=True)
    submitter.start()
    submitter.join(5.0)
    assert not submitter.is_alive(), "the first submit waited for the new thread to run"
    return futures[0]


def test_work_queued_before_the_thread_runs_keeps_its_order(
    held_threads: threading.Event,
) -> None:
    executor = OneThreadExecutor("ots-order")
    first = _first_submit(executor)
    assert not first.done()
    seen: list[int] = []
    later = [executor.submit(seen.append, number) for number in range(5)]
    assert not any(future.done() for future in later)
    held_threads.set()
    assert first.result(WAIT) == "ots-order_0"
    for future in later:
        future.result(WAIT)
    assert seen == [0, 1, 2, 3, 4]
    executor.shutdown(wait=True)


def test_shutdown_before_the_thread_runs_still_finishes_queued_work(
    held_threads: threading.Event,
) -> None:
    executor = OneThreadExecutor("ots-shutdown")
    first = _first_submit(executor)
    executor.shutdown(wait=False)
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(print)
    unfinished = executor.unfinished_work()
    assert unfinished is not None
    held_threads.set()
    assert first.result(WAIT) == "ots-shutdown_0"
    unfinished.result(WAIT)
    executor.shutdown(wait=True)
