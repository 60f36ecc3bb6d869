"""``asgiref.sync`` is one module object, and patches applied to it reach the code.

APM agents (New Relic, Datadog, Elastic) wrap ``SyncToAsync.thread_handler``,
``SyncToAsync.__call__`` and ``AsyncToSync.main_wrap`` by attribute; Channels
subclasses them. A copy of the class in a private module, or a reference
captured at import time, would make those patches silently miss.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import sys
import threading
from typing import Any

import pytest

import asgiref.sync


def test_every_import_spelling_gives_one_module() -> None:
    from asgiref import sync as via_from_import

    assert importlib.import_module("asgiref.sync") is asgiref.sync
    assert via_from_import is asgiref.sync
    assert sys.modules["asgiref.sync"] is asgiref.sync
    assert asgiref.sync.sync_to_async(len).__class__ is asgiref.sync.SyncToAsync


@pytest.mark.timeout(30)
def test_patched_thread_handler_runs_with_the_partial(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    original = asgiref.sync.SyncToAsync.thread_handler

    def spy(self: Any, loop: Any, *args: Any, **kwargs: Any) -> Any:
        # (exc_info, task_context, func, *call): func runs the call, a partial of
        # the user function that carries its arguments.
        func = args[3]
        assert isinstance(func, functools.partial)
        # New Relic removes a keyword of its own from the partial before the call.
        func.keywords.pop("apm_marker", None)
        seen.append((threading.current_thread().name, dict(func.keywords)))
        return original(self, loop, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "thread_handler", spy)

    def add(a: int, b: int = 0) -> int:
        return a + b

    async def main() -> int:
        return await asgiref.sync.sync_to_async(add)(1, b=2)

    assert asyncio.run(main()) == 3
    assert len(seen) == 1
    assert seen[0][1] == {"b": 2}


@pytest.mark.timeout(30)
def test_patched_call_is_what_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    original = asgiref.sync.SyncToAsync.__call__

    async def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__call__", spy)

    async def main() -> int:
        return await asgiref.sync.sync_to_async(lambda: 5)()

    assert asyncio.run(main()) == 5
    assert calls == 1


@pytest.mark.timeout(30)
def test_patched_main_wrap_is_what_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    original = asgiref.sync.AsyncToSync.main_wrap

    async def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.AsyncToSync, "main_wrap", spy)

    async def double(x: int) -> int:
        return 2 * x

    assert asgiref.sync.async_to_sync(double)(21) == 42
    assert calls == 1
