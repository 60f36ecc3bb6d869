"""asgiref.local.Local: writing a value a Local already holds.

Rewriting the identical object has a shortcut (no ContextVar.set); these tests
pin down that a rewrite is indistinguishable from any other write: it claims
an inherited or handed-over context, it is visible where a write is visible,
and it stays where contextvars semantics say it stays.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest

from asgiref.local import Local
from asgiref.sync import async_to_sync, sync_to_async
from monorepo_testing import run_in_thread as _in_thread

pytestmark = pytest.mark.timeout(60)


def _assert_unset(local: Local, name: str) -> None:
    with pytest.raises(AttributeError):
        getattr(local, name)


def test_rewrites_inside_a_copied_context_stay_there() -> None:
    local = Local()
    held, replacement = object(), object()

    def inner() -> None:
        assert local.value is held
        local.value = held
        assert local.value is held
        local.value = replacement
        local.value = replacement
        assert local.value is replacement

    def scenario() -> None:
        local.value = held
        local.value = held
        assert local.value is held
        contextvars.copy_context().run(inner)
        assert local.value is held
        # Identity, not equality, makes a write redundant.
        equal: list[int] = []
        local.value = []
        local.value = equal
        assert local.value is equal

    _in_thread(scenario)


# Simulates Python 3.14's thread_inherit_context. "after-another-write": the
# child has already claimed the inherited context when it writes, so the
# entry it finds there is the parent's, under the parent's home.
@pytest.mark.parametrize("claimed", [False, True], ids=["first-write", "after-another-write"])
@pytest.mark.parametrize("same", [True, False], ids=["parents-object", "new-object"])
def test_thread_in_an_inherited_context_writing_a_value(claimed: bool, same: bool) -> None:
    local, other = Local(), Local()
    parents = object()

    async def read() -> Any:
        return getattr(local, "value", None), hasattr(local, "sibling")

    def child() -> None:
        _assert_unset(local, "value")
        if claimed:
            local.marker = "child"
        value = parents if same else object()
        local.value = value
        assert local.value is value
        local.value = value
        assert local.value is value
        _assert_unset(local, "sibling")
        _assert_unset(other, "sibling")
        assert async_to_sync(read)() == (value, False)
        del local.value
        _assert_unset(local, "value")
        with pytest.raises(AttributeError):
            del local.value

    def parent() -> None:
        local.value = parents
        local.sibling = "parent"
        other.sibling = "other"
        _in_thread(child, contextvars.copy_context())
        assert local.value is parents
        assert local.sibling == "parent"
        assert other.sibling == "other"
        _assert_unset(local, "marker")

    _in_thread(parent)


@pytest.mark.parametrize("same", [True, False], ids=["same-object", "new-object"])
def test_rewrite_in_a_context_handed_back_by_another_thread_claims_it(same: bool) -> None:
    # The home thread writes, another thread takes the context over with its
    # own write, then the home thread writes again: like any write, that
    # takes the context back, so async code it runs there no longer counts
    # the other thread's values as the context's.
    local, secret = Local(), Local()
    held = object()
    context = contextvars.Context()

    async def read() -> tuple[Any, Any]:
        return getattr(local, "value", None), getattr(secret, "token", None)

    def home_thread() -> None:
        context.run(setattr, local, "value", held)
        _in_thread(lambda: setattr(secret, "token", "another thread's"), context)
        value = held if same else object()

        def write_again() -> None:
            local.value = value
            _assert_unset(secret, "token")
            assert asyncio.run(read()) == (value, None)

        context.run(write_again)

    _in_thread(home_thread)


def test_identical_rewrites_on_both_sides_of_async_to_sync_flow_back() -> None:
    local, neighbour = Local(), Local()
    held = object()

    def sync_caller() -> None:
        home = threading.current_thread()

        def back_home() -> None:
            # Thread-sensitive: the caller's own thread, in its own context.
            assert threading.current_thread() is home
            assert local.value is held
            local.value = held
            local.value = held
            local.bridged = "sync"

        async def rewrite() -> None:
            local.value = held
            local.added = "async"
            await sync_to_async(back_home)()
            assert (local.value, local.bridged) == (held, "sync")

        local.value = held
        neighbour.added = "neighbour"
        async_to_sync(rewrite)()
        assert (local.value, local.added, local.bridged) == (held, "async", "sync")
        assert neighbour.added == "neighbour"
        # One entry, not two: once deleted, nothing older shows through.
        del local.value
        _assert_unset(local, "value")
        assert neighbour.added == "neighbour"

    _in_thread(sync_caller)


async def test_rewrite_then_new_object_in_sync_to_async_flows_back() -> None:
    local = Local()
    held, replacement = object(), object()
    local.value = held

    def rewrite() -> None:
        local.value = held
        assert local.value is held
        local.value = replacement
        local.value = replacement

    await sync_to_async(rewrite)()
    assert local.value is replacement

    def rewrite_only() -> None:
        local.value = replacement

    await sync_to_async(rewrite_only)()
    assert local.value is replacement


def test_locals_sharing_a_name_rewriting_the_same_object() -> None:
    first, second = Local(), Local()
    held, replacement = object(), object()

    def scenario() -> None:
        first.value = held
        # second writes the object first already holds under that name.
        second.value = held
        assert (first.value, second.value) == (held, held)
        for _ in range(3):
            first.value = held
            second.value = held
        assert (first.value, second.value) == (held, held)
        second.value = replacement
        assert (first.value, second.value) == (held, replacement)
        del first.value
        _assert_unset(first, "value")
        second.value = replacement
        assert second.value is replacement
        first.value = replacement
        del second.value
        _assert_unset(second, "value")
        assert first.value is replacement

    _in_thread(scenario)


async def _child_task_rewrites() -> None:
    local = Local()
    held, replacement = object(), object()
    local.value = held

    async def child() -> None:
        local.value = held
        assert local.value is held
        local.value = replacement
        local.added = held
        local.added = held

    async def deletes() -> None:
        local.value = held
        del local.value

    await asyncio.create_task(child())
    assert local.value is held
    _assert_unset(local, "added")
    await asyncio.create_task(deletes())
    assert local.value is held


async def test_rewrites_in_a_child_task_stay_in_the_child() -> None:
    await _child_task_rewrites()


def test_rewrites_in_a_child_task_of_the_home_threads_loop_stay_in_the_child() -> None:
    # A loop run by a thread in a context it claimed: the tasks' values are
    # written under that thread's home, the shortcut's own case.
    def home_thread() -> None:
        Local().claim = True
        asyncio.run(_child_task_rewrites())

    _in_thread(home_thread)
