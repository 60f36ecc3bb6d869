"""asgiref.local.Local: isolation, bridging, memory and thread safety."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import sys
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from asgiref.local import Local, _DefaultLocal, _ThreadCriticalLocal
from asgiref.sync import async_to_sync, sync_to_async
from monorepo_testing import run_in_thread as _run_in_thread


class _Value:
    """Weak-referenceable payload."""


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_factory_and_subclassing() -> None:
    assert type(Local()) is _DefaultLocal
    assert type(Local(thread_critical=True)) is _ThreadCriticalLocal
    assert isinstance(Local(), Local)

    class Mine(Local):
        pass

    with pytest.raises(TypeError, match="cannot be subclassed"):
        Mine()


@pytest.mark.parametrize("critical", [False, True])
def test_missing_set_delete(critical: bool) -> None:
    local = Local(thread_critical=critical)
    with pytest.raises(AttributeError):
        _ = local.missing
    assert getattr(local, "missing", "default") == "default"
    local.value = 1
    assert local.value == 1
    del local.value
    assert not hasattr(local, "value")
    with pytest.raises(AttributeError):
        del local.value
    with pytest.raises(AttributeError):
        setattr(local, "_data", 1)  # noqa: B010  (a reserved name, not a typo)


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="refcounting semantics")
@pytest.mark.parametrize("critical", [False, True])
def test_local_and_values_are_freed_without_the_cyclic_gc(
    critical: bool, no_cyclic_gc: None
) -> None:
    def scenario() -> tuple[weakref.ref[Any], weakref.ref[Any]]:
        local = Local(thread_critical=critical)
        value = _Value()
        local.value = value
        with pytest.raises(AttributeError):
            _ = local.missing
        return weakref.ref(local), weakref.ref(value)

    # Run in a context (default mode) and thread (critical mode) that end, as
    # a request's context or a worker thread would.
    refs: list[tuple[weakref.ref[Any], weakref.ref[Any]]] = []
    _run_in_thread(lambda: refs.append(contextvars.Context().run(scenario)))
    local_ref, value_ref = refs[0]
    assert local_ref() is None
    assert value_ref() is None


@pytest.mark.timeout(30)
def test_thread_safety_under_concurrent_use() -> None:
    local = Local()
    critical = Local(thread_critical=True)
    barrier = threading.Barrier(8)
    failures: list[str] = []

    def worker(index: int) -> None:
        barrier.wait(10)
        for step in range(2000):
            local.value = (index, step)
            critical.value = (index, step)
            if local.value != (index, step) or critical.value != (index, step):
                failures.append(f"thread {index} saw another thread's value")
                return

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []


@pytest.mark.timeout(30)
def test_thread_started_in_a_copied_context_sees_nothing() -> None:
    """Simulates Python 3.14's thread_inherit_context."""
    local = Local()
    local.value = "parent"
    seen: dict[str, Any] = {}

    def child() -> None:
        seen["inherited"] = hasattr(local, "value")
        local.value = "child"
        seen["own"] = local.value

        async def read() -> Any:
            return getattr(local, "value", None)

        seen["across_bridge"] = async_to_sync(read)()

    parent_context = contextvars.copy_context()
    thread = threading.Thread(target=lambda: parent_context.run(child))
    thread.start()
    thread.join(20)
    assert seen == {"inherited": False, "own": "child", "across_bridge": "child"}
    assert local.value == "parent"


@pytest.mark.timeout(30)
def test_context_of_an_ended_thread_is_foreign_to_a_thread_reusing_its_ident() -> None:
    """Thread idents are reused as soon as a thread ends (on Linux the next
    thread usually gets the same one): ownership must not be keyed by them."""
    local = Local()
    left_behind: dict[str, Any] = {}

    def first() -> None:
        local.value = "first"
        left_behind["ident"] = threading.get_ident()
        left_behind["context"] = contextvars.copy_context()

    _run_in_thread(first)
    context: contextvars.Context = left_behind["context"]
    reused = 0
    for _ in range(20):
        seen: list[Any] = []

        def later(seen: list[Any] = seen) -> None:
            if threading.get_ident() == left_behind["ident"]:
                seen.append("reused")
            seen.append(context.run(getattr, local, "value", None))

        _run_in_thread(later)
        if seen[0] == "reused":
            reused += 1
            seen.pop(0)
        assert seen == [None], "a thread saw the values of an ended thread"
        if reused >= 3:
            break


@pytest.mark.timeout(30)
def test_thread_inheriting_context_of_an_async_bridge_caller_sees_nothing() -> None:
    local = Local()
    seen: list[bool] = []

    async def sets_then_spawns() -> None:
        local.value = "async"
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=lambda: context.run(lambda: seen.append(hasattr(local, "value")))
        )
        thread.start()
        await asyncio.to_thread(thread.join, 20)

    async_to_sync(sets_then_spawns)()
    assert seen == [False]
    assert local.value == "async"


@pytest.mark.timeout(30)
async def test_values_follow_tasks_and_bridges() -> None:
    local = Local()
    local.value = 1

    async def child_task() -> None:
        assert local.value == 1
        local.value = 2

    await asyncio.create_task(child_task())
    assert local.value == 1  # a child task's writes stay there

    def in_sync() -> None:
        assert local.value == 1
        local.value = 3

        async def back_in_async() -> None:
            assert local.value == 3
            local.value = 4

        async_to_sync(back_in_async)()
        assert local.value == 4

    await sync_to_async(in_sync)()
    assert local.value == 4


@pytest.mark.timeout(30)
def test_thread_critical_is_per_thread_and_never_bridged() -> None:
    critical = Local(thread_critical=True)
    critical.value = "main"

    async def async_side() -> None:
        assert not hasattr(critical, "value")
        critical.value = "async"

        def sync_side() -> None:
            # Runs on the main thread again (thread-sensitive): its own value.
            assert critical.value == "main"

            async def nested_async() -> None:
                # A new crossing: the outer async code's value stays behind.
                assert not hasattr(critical, "value")

            async_to_sync(nested_async)()

        await sync_to_async(sync_side)()
        assert critical.value == "async"

    async_to_sync(async_side)()
    assert critical.value == "main"

    def other_thread() -> None:
        assert not hasattr(critical, "value")
        critical.value = "other"

    _run_in_thread(other_thread)
    assert critical.value == "main"


@pytest.mark.timeout(30)
async def test_thread_critical_in_async_code_is_per_context() -> None:
    critical = Local(thread_critical=True)
    critical.value = "outer"

    async def child() -> Any:
        seen = critical.value
        critical.value = "child"
        return seen

    assert await asyncio.create_task(child()) == "outer"
    assert critical.value == "outer"


# Default-mode storage is keyed by attribute name and shared by every Local
# (asgiref.local's design note); these pin down that Locals using the same
# name never see or disturb each other's values.


@pytest.mark.timeout(30)
def test_locals_sharing_a_name_stay_independent_in_sync_code() -> None:
    first, second, third = Local(), Local(), Local()
    first.value = "first"
    assert not hasattr(second, "value")
    second.value = "second"
    third.value = "third"
    assert (first.value, second.value, third.value) == ("first", "second", "third")

    del second.value
    assert not hasattr(second, "value")
    assert (first.value, third.value) == ("first", "third")
    with pytest.raises(AttributeError):
        del second.value

    del first.value
    del third.value
    assert not any(hasattr(local, "value") for local in (first, second, third))
    second.value = "again"
    assert second.value == "again"
    assert not hasattr(first, "value")


@pytest.mark.timeout(30)
async def test_locals_sharing_a_name_stay_independent_across_tasks_and_bridges() -> None:
    first, second = Local(), Local()
    first.value = "outer-first"

    async def child_task() -> None:
        second.value = "child-second"
        first.value = "child-first"

    await asyncio.create_task(child_task())
    assert first.value == "outer-first"
    assert not hasattr(second, "value")

    def in_sync() -> None:
        assert first.value == "outer-first"
        second.value = "sync-second"

        async def back_in_async() -> None:
            assert second.value == "sync-second"
            del first.value

        async_to_sync(back_in_async)()
        assert not hasattr(first, "value")

    await sync_to_async(in_sync)()
    assert not hasattr(first, "value")
    assert second.value == "sync-second"


@pytest.mark.timeout(30)
def test_a_local_named_like_the_bridge_bookkeeping_keeps_its_flowed_back_value() -> None:
    # The bridge records its executor as AsyncToSync.executors.current and
    # undoes that after the call; the undo must not touch what another Local
    # stored under the same name during the call.
    mine = Local()
    mine.current = "before"

    async def changes_it() -> None:
        mine.current = "set by async code"

    async_to_sync(changes_it)()
    assert mine.current == "set by async code"


@pytest.mark.timeout(30)
async def test_the_same_under_an_outer_loop() -> None:
    # The nested path (sync code under sync_to_async calling async code) undoes
    # its bookkeeping the same way, and the bridge's own value is gone after.
    from asgiref.sync import AsyncToSync

    mine = Local()

    def in_sync() -> tuple[object, object]:
        mine.current = "before"
        outer_executor = getattr(AsyncToSync.executors, "current", None)

        async def changes_it() -> None:
            assert AsyncToSync.executors.current is not outer_executor
            mine.current = "set by async code"

        async_to_sync(changes_it)()
        return mine.current, getattr(AsyncToSync.executors, "current", None) is outer_executor

    assert await sync_to_async(in_sync)() == ("set by async code", True)


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="refcounting semantics")
def test_a_dropped_local_is_freed_once_no_context_holds_its_values(no_cyclic_gc: None) -> None:
    neighbour = Local()
    neighbour.value = "stays"
    local = Local()
    value = _Value()
    local.value = value
    local_ref, value_ref = weakref.ref(local), weakref.ref(value)
    del local.value
    del local, value
    assert local_ref() is None
    assert value_ref() is None
    assert neighbour.value == "stays"
