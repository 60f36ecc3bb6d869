"""asgiref.local.Local: the write fast path (a new value, in the writing
thread's own context) never leaves a stale value behind.

Each test writes a fresh object per step and reads it back where contextvars
semantics say it must be seen, and checks it is not seen where it must not:
a copied context, the other side of a bridge, another Local of the same name.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

import pytest

from asgiref.local import Local
from asgiref.sync import async_to_sync, sync_to_async
from monorepo_testing import run_in_thread as _in_thread

pytestmark = pytest.mark.timeout(60)

_STEPS = 20


def _swap(local: Local, expected: object, new: object) -> None:
    assert local.value is expected
    local.value = new
    assert local.value is new


async def _async_swap(local: Local, expected: object, new: object) -> None:
    _swap(local, expected, new)


def test_each_new_value_is_read_back_and_copies_keep_theirs() -> None:
    local = Local()

    def main() -> None:
        snapshots: list[tuple[contextvars.Context, object]] = []
        for _ in range(_STEPS):
            value = object()
            local.value = value
            assert local.value is value
            snapshots.append((contextvars.copy_context(), value))
        for context, value in snapshots:
            # A copy sees the value of its moment, and a write in it stays there.
            assert context.run(getattr, local, "value") is value
            context.run(setattr, local, "value", object())
        assert local.value is snapshots[-1][1]

    _in_thread(main)


def test_new_value_written_in_a_copy_then_in_the_original() -> None:
    local = Local()

    def main() -> None:
        first, in_copy, second = object(), object(), object()
        local.value = first
        copy = contextvars.copy_context()
        copy.run(setattr, local, "value", in_copy)
        assert local.value is first
        local.value = second
        assert local.value is second
        assert copy.run(getattr, local, "value") is in_copy

    _in_thread(main)


def test_new_values_around_sync_to_async_flow_both_ways() -> None:
    local = Local()

    def main() -> None:
        async def outer() -> None:
            for _ in range(_STEPS):
                before, inside, after = object(), object(), object()
                local.value = before

                await sync_to_async(_swap)(local, before, inside)
                assert local.value is inside
                local.value = after
                assert local.value is after

        asyncio.run(outer())

    _in_thread(main)


def test_new_values_around_async_to_sync_from_a_plain_thread_flow_both_ways() -> None:
    local = Local()

    def main() -> None:
        for _ in range(_STEPS):
            before, inside, after = object(), object(), object()
            local.value = before

            async_to_sync(_async_swap)(local, before, inside)
            assert local.value is inside
            local.value = after
            assert local.value is after

            async def read() -> Any:
                return local.value

            assert async_to_sync(read)() is after

    _in_thread(main)


def test_locals_sharing_a_name_alternating_new_values() -> None:
    first, second = Local(), Local()

    def main() -> None:
        for step in range(_STEPS):
            mine, theirs = object(), object()
            first.value = mine
            second.value = theirs
            assert first.value is mine
            assert second.value is theirs
            if step % 2:
                del second.value
                with pytest.raises(AttributeError):
                    _ = second.value
                # Back to one writer: the fast path again, for first only.
                fresh = object()
                first.value = fresh
                assert first.value is fresh

    _in_thread(main)


def test_new_value_after_delete_and_in_a_fresh_thread() -> None:
    local = Local()

    def main() -> object:
        value = object()
        local.value = value
        del local.value
        with pytest.raises(AttributeError):
            _ = local.value
        local.value = value
        assert local.value is value
        return value

    written = _in_thread(main)
    # Another thread (its own context) sees nothing of it.
    assert _in_thread(lambda: getattr(local, "value", None)) is None
    assert written is not None


def _in_a_claimed_copy_of_a_writers_context(
    local: Local, parents: object, child: Callable[[], None]
) -> None:
    """A parent thread writes ``parents``; ``child()`` runs in a thread of its own,
    in a copy of the parent's context that it first claims (another name
    written). The parent still reads its own object afterwards."""

    def claim_then_child() -> None:
        local.marker = "claims the context"
        child()

    def parent() -> None:
        local.value = parents
        _in_thread(claim_then_child, contextvars.copy_context())
        assert local.value is parents

    _in_thread(parent)


def test_rewriting_an_inherited_object_in_a_claimed_context_moves_it_home() -> None:
    # The thread's context is already its own (another name was written), but
    # the entry it holds for this name came from the parent thread. Writing
    # the parent's very object must still record it as this thread's, or a
    # bridge reading it elsewhere would not see it.
    local = Local()
    parents = object()

    async def read() -> Any:
        return getattr(local, "value", None)

    def child() -> None:
        with pytest.raises(AttributeError):
            _ = local.value
        local.value = parents
        assert local.value is parents
        assert async_to_sync(read)() is parents

    _in_a_claimed_copy_of_a_writers_context(local, parents, child)


def test_async_rewrite_of_an_object_held_under_another_home_makes_it_visible() -> None:
    # The child thread inherits the parent's context and claims it (another
    # name written), so in its async code the parent's entry does not count.
    # Writing the parent's very object there is a real write, not a no-op.
    local = Local()
    parents = object()

    async def rewrite() -> None:
        with pytest.raises(AttributeError):
            _ = local.value
        local.value = parents
        assert local.value is parents
        local.value = parents
        assert local.value is parents

        def read() -> Any:
            return getattr(local, "value", None)

        assert await sync_to_async(read)() is parents

    def child() -> None:
        # Both: async code on this thread (its home is the context's) and on
        # the bridge's loop thread (another thread's home).
        # The task's writes stay in the task: the parent's entry is back.
        asyncio.run(rewrite())
        async_to_sync(rewrite)()
        assert local.value is parents

    _in_a_claimed_copy_of_a_writers_context(local, parents, child)


def test_async_rewrites_of_the_same_object_around_bridges() -> None:
    local = Local()
    held, inside = object(), object()

    async def main() -> None:
        for _ in range(_STEPS):
            local.value = held
            local.value = held
            assert local.value is held

            def inner() -> None:
                assert local.value is held
                local.value = held
                local.value = inside

            await sync_to_async(inner)()
            assert local.value is inside
            local.value = held
            assert local.value is held

            async def child() -> None:
                local.value = held
                local.value = inside

            await asyncio.create_task(child())
            assert local.value is held

    asyncio.run(main())
