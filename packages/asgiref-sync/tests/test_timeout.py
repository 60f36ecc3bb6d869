"""asgiref.timeout: deprecated, but still a working deadline on every Python."""

from __future__ import annotations

import asyncio
import sys
import warnings

import pytest

from asgiref.timeout import timeout


def make(delay: float | None) -> timeout:
    with pytest.warns(DeprecationWarning, match=r"asyncio\.timeout"):
        return timeout(delay)


async def test_warns_and_still_works_when_not_expired() -> None:
    cm = make(1)
    async with cm:
        await asyncio.sleep(0.001)
    assert not cm.expired
    assert cm.remaining is not None
    assert 0 < cm.remaining <= 1


@pytest.mark.timeout(10)
async def test_async_with_expires_with_builtin_timeout_error() -> None:
    cm = make(0.05)
    with pytest.raises(TimeoutError):
        async with cm:
            await asyncio.sleep(5)
    assert cm.expired is True
    assert cm.remaining == 0.0


@pytest.mark.timeout(10)
async def test_sync_with_inside_a_task_expires() -> None:
    cm = make(0.05)
    with pytest.raises(TimeoutError), cm:
        await asyncio.sleep(5)
    assert cm.expired is True


@pytest.mark.timeout(10)
async def test_old_spelling_asyncio_timeout_error_is_caught() -> None:
    # Python 3.10 code catches asyncio.TimeoutError, a different class there.
    with pytest.raises(asyncio.TimeoutError):
        async with make(0):
            await asyncio.sleep(5)


async def test_none_means_no_deadline() -> None:
    cm = make(None)
    async with cm:
        await asyncio.sleep(0.01)
    assert cm.expired is False
    assert cm.remaining is None


@pytest.mark.timeout(10)
async def test_outside_cancellation_is_not_turned_into_timeout() -> None:
    entered = asyncio.Event()

    async def body() -> None:
        async with make(5):
            entered.set()
            await asyncio.sleep(5)

    task = asyncio.ensure_future(body())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.timeout(10)
async def test_expiry_restores_the_task_cancel_count() -> None:
    task = asyncio.current_task()
    assert task is not None
    if sys.version_info >= (3, 11):
        before = task.cancelling()
        with pytest.raises(TimeoutError):
            async with make(0.01):
                await asyncio.sleep(5)
        assert task.cancelling() == before
        # The task is still usable: later awaits are not cancelled.
        await asyncio.sleep(0.01)
    else:
        pytest.skip("Task.cancelling() is 3.11+")


def test_outside_a_task_is_a_clear_error() -> None:
    async def no_task_context() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            cm = timeout(1)
        loop = asyncio.get_running_loop()
        # A callback runs outside any task, so there is nothing to cancel.
        failure: asyncio.Future[BaseException] = loop.create_future()

        def enter() -> None:
            try:
                cm.__enter__()
            except RuntimeError as error:
                failure.set_result(error)

        loop.call_soon(enter)
        error = await failure
        assert "inside an asyncio task" in str(error)

    asyncio.run(no_task_context())
