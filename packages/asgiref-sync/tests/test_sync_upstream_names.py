"""Module-level names of upstream 3.13.0 that code imports, and their behaviour.

Also: thread-sensitive worker threads have names that tell them apart (log
lines with ``%(threadName)s`` must distinguish concurrent requests).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import typing
from concurrent.futures import Future
from typing import Any

import pytest

import asgiref.current_thread_executor
import asgiref.local
import asgiref.sync
import asgiref.timeout
from asgiref.local import Local
from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async

pytestmark = pytest.mark.timeout(30)


# -- worker thread names ----------------------------------------------------------


async def test_thread_sensitive_workers_have_distinct_names() -> None:
    entered = asyncio.Barrier(2) if hasattr(asyncio, "Barrier") else None
    names: list[str] = []

    async def request() -> None:
        async with ThreadSensitiveContext():
            if entered is not None:
                await entered.wait()  # both contexts are open at once
            names.append(await sync_to_async(lambda: threading.current_thread().name)())

    await asyncio.gather(request(), request())
    shared = await sync_to_async(lambda: threading.current_thread().name)()
    assert len({*names, shared}) == 3, [*names, shared]
    assert all("thread-sensitive" in name for name in [*names, shared])


# -- names that exist --------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "name", "expected"),
    [
        (asgiref.sync, "Dict", typing.Dict),  # noqa: UP006 - upstream's own names
        (asgiref.sync, "List", typing.List),  # noqa: UP006
        (asgiref.sync, "Optional", typing.Optional),
        (asgiref.sync, "Generic", typing.Generic),
        (asgiref.sync, "ThreadPoolExecutor", concurrent.futures.ThreadPoolExecutor),
        (asgiref.local, "final", typing.final),
        (asgiref.local, "_object_setattr", object.__setattr__),
        (asgiref.current_thread_executor, "ParamSpec", typing.ParamSpec),
        (asgiref.current_thread_executor, "TypeVar", typing.TypeVar),
        (asgiref.timeout, "Any", typing.Any),
        (asgiref.timeout, "Optional", typing.Optional),
    ],
)
def test_reexported_names(module: Any, name: str, expected: Any) -> None:
    assert getattr(module, name) is expected


@pytest.mark.parametrize(
    ("module", "name", "kind"),
    [
        (asgiref.sync, "_F", typing.TypeVar),
        (asgiref.current_thread_executor, "_P", typing.ParamSpec),
        (asgiref.current_thread_executor, "_R", typing.TypeVar),
        (asgiref.current_thread_executor, "_T", typing.TypeVar),
    ],
)
def test_type_variables(module: Any, name: str, kind: type) -> None:
    assert isinstance(getattr(module, name), kind)


def test_opt_exc_info_describes_sys_exc_info() -> None:
    alias = asgiref.sync.OptExcInfo
    assert "BaseException" in repr(alias)
    assert "None" in repr(alias)


def test_storage_and_rehome_shapes() -> None:
    for module in (asgiref.local, asgiref.sync):
        storage = module._Storage(12345, {"a": 1})
        assert (storage.thread_id, storage.data) == (12345, {"a": 1})
        moved = module._rehome(storage)
        assert moved is not storage
        assert moved.thread_id == threading.get_ident()
        assert moved.data is storage.data


def test_work_item_runs_its_call_into_its_future() -> None:
    work_item = asgiref.current_thread_executor._WorkItem
    done: Future[int] = Future()
    work_item(done, int, "12", base=3).run()
    assert done.result() == 5
    failed: Future[int] = Future()
    work_item(failed, int, "x").run()
    assert isinstance(failed.exception(), ValueError)
    cancelled: Future[int] = Future()
    cancelled.cancel()
    work_item(cancelled, int, "1").run()  # a cancelled future's work never runs
    assert cancelled.cancelled()


# -- _restore_context ---------------------------------------------------------------

flag: contextvars.ContextVar[str] = contextvars.ContextVar("flag", default="unset")
other: contextvars.ContextVar[str] = contextvars.ContextVar("other", default="untouched")


class EqualToEverything:
    """A value whose ``__eq__`` must never run (third-party caches)."""

    def __eq__(self, _other: object) -> bool:
        raise AssertionError("__eq__ ran")

    __hash__ = object.__hash__


def _in_fresh_context(function: Any) -> Any:
    return contextvars.Context().run(function)


def test_restore_context_copies_the_values_of_a_context() -> None:
    def scenario() -> tuple[str, str]:
        source = contextvars.copy_context()
        source.run(flag.set, "from source")
        other.set("mine")
        asgiref.sync._restore_context(source)
        return flag.get(), other.get()

    # The source was copied before "mine" was set and holds no value for
    # that variable: it is left as it is.
    assert _in_fresh_context(scenario) == ("from source", "mine")


def test_restore_context_compares_by_identity() -> None:
    def scenario() -> bool:
        first, second = EqualToEverything(), EqualToEverything()
        cache: contextvars.ContextVar[Any] = contextvars.ContextVar("cache")
        cache.set(first)
        source = contextvars.copy_context()
        source.run(cache.set, second)
        asgiref.sync._restore_context(source)
        return cache.get() is second

    assert _in_fresh_context(scenario)


def test_restore_context_makes_local_values_visible_in_this_thread() -> None:
    local = Local()
    captured: list[contextvars.Context] = []

    def elsewhere() -> None:
        local.value = "set in another thread"
        captured.append(contextvars.copy_context())

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(10)

    def scenario() -> Any:
        before = getattr(local, "value", None)
        asgiref.sync._restore_context(captured[0])
        return before, local.value

    assert _in_fresh_context(scenario) == (None, "set in another thread")


def test_restore_context_round_trip_through_another_runtime_thread() -> None:
    # What code that runs coroutines on a runtime of its own does: restore
    # the caller's context in the coroutine, capture the context it ends
    # with, restore that in the caller.
    local = Local()
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="")

    def caller() -> tuple[str, str, str]:
        local.value = "caller"
        context = [contextvars.copy_context()]
        seen: list[str] = []

        async def body() -> None:
            asgiref.sync._restore_context(context[0])
            seen.append(local.value)
            local.value = "coroutine"
            marker.set("coroutine")
            context[0] = contextvars.copy_context()

        runtime = threading.Thread(target=lambda: asyncio.run(body()))
        runtime.start()
        runtime.join(10)
        asgiref.sync._restore_context(context[0])
        return seen[0], local.value, marker.get()

    assert _in_fresh_context(caller) == ("caller", "coroutine", "coroutine")


def test_restore_context_does_not_move_thread_critical_values_to_another_thread() -> None:
    local = Local(thread_critical=True)
    captured: list[contextvars.Context] = []

    async def set_in_async_code() -> None:
        local.value = "async"
        captured.append(contextvars.copy_context())

    async def read_after_restore() -> Any:
        asgiref.sync._restore_context(captured[0])
        return getattr(local, "value", None)

    seen: list[Any] = []
    for target in (
        lambda: asyncio.run(set_in_async_code()),
        lambda: seen.append(asyncio.run(read_after_restore())),
    ):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join(10)
    assert seen == [None]


def test_restore_context_keeps_the_bridge_deadlock_chain() -> None:
    # Deliberately unlike upstream (which copies its boolean flag too): the
    # bridge's chain of busy executors belongs to the context it was set in,
    # as for the bridge's own flow-back.
    def scenario() -> Any:
        source = contextvars.copy_context()
        source.run(SyncToAsync.deadlock_context.set, "from elsewhere")
        asgiref.sync._restore_context(source)
        return SyncToAsync.deadlock_context.get(None)

    assert _in_fresh_context(scenario) is None
