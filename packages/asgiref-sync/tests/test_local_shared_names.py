"""asgiref.local.Local: several Locals writing the same attribute name in sync code.

Django's translation, timezone and urlconf Locals all store ``.value``, so in a
request the name is shared and writes take the shared-entry path (its own
write shortcut included). These tests check that path never leaves a stale
value: each Local reads back its own, a copied context keeps the values of its
moment, and rewriting an object held under another thread's home moves it
home like any write.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from asgiref.local import Local
from monorepo_testing import run_in_thread as _in_thread

pytestmark = pytest.mark.timeout(60)

_STEPS = 20


def test_new_values_alternating_between_locals_and_copies_keep_theirs() -> None:
    first, second, third = Local(), Local(), Local()

    def main() -> None:
        third.value = "third"
        snapshots: list[tuple[contextvars.Context, object, object]] = []
        for _ in range(_STEPS):
            a, b = object(), object()
            first.value = a
            second.value = b
            assert (first.value, second.value, third.value) == (a, b, "third")
            snapshots.append((contextvars.copy_context(), a, b))
        for context, a, b in snapshots:
            # A copy sees the values of its moment; a write in it stays there.
            assert context.run(getattr, first, "value") is a
            assert context.run(getattr, second, "value") is b
            context.run(setattr, first, "value", object())
            assert context.run(getattr, second, "value") is b
        assert first.value is snapshots[-1][1]
        assert second.value is snapshots[-1][2]
        assert third.value == "third"

    _in_thread(main)


def test_rewriting_the_held_object_keeps_the_other_locals_values() -> None:
    first, second = Local(), Local()

    def main() -> None:
        held = object()
        first.value = held
        second.value = "second"
        before = contextvars.copy_context()
        for _ in range(_STEPS):
            first.value = held
            assert first.value is held
            second.value = replacement = object()
            assert second.value is replacement
            assert first.value is held
        assert before.run(getattr, second, "value") == "second"
        del first.value
        with pytest.raises(AttributeError):
            first.value  # noqa: B018
        assert second.value is replacement

    _in_thread(main)


@pytest.mark.parametrize("same", [True, False], ids=["parents-object", "new-object"])
def test_thread_in_an_inherited_context_rewriting_a_shared_name(same: bool) -> None:
    # Simulates Python 3.14's thread_inherit_context: the child claims the
    # inherited context with a write of another name first, then writes the
    # shared name. The entry it finds holds the parent's object under the
    # parent's home; rewriting that object must make it the child's own.
    local, other = Local(), Local()
    parents = object()

    async def read() -> Any:
        return getattr(local, "value", None), getattr(other, "value", None)

    def child() -> None:
        local.marker = "child"
        with pytest.raises(AttributeError):
            local.value  # noqa: B018
        value = parents if same else object()
        local.value = value
        assert local.value is value
        # The other Local's value is still the parent's: not visible here.
        with pytest.raises(AttributeError):
            other.value  # noqa: B018
        assert asyncio.run(read()) == (value, None)

    def parent() -> None:
        local.value = parents
        other.value = "other"
        _in_thread(child, contextvars.copy_context())
        assert local.value is parents
        assert other.value == "other"

    _in_thread(parent)
