"""ASGI 2 / ASGI 3 detection and adaptation (asgiref.compatibility)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from typing import Any

import pytest

from asgiref.compatibility import (
    double_to_single_callable,
    guarantee_single_callable,
    is_double_callable,
)
from asgiref.local._cpython import uses_private

Message = dict[str, Any]


async def asgi3_function(scope: Any, receive: Any, send: Any) -> None:
    await send({"kind": "asgi3", "scope": scope, "got": await receive()})


def asgi2_function(scope: Any) -> Any:
    async def instance(receive: Any, send: Any) -> None:
        await send({"kind": "asgi2", "scope": scope, "got": await receive()})

    return instance


class Asgi2Class:
    def __init__(self, scope: Any) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        await send({"kind": "asgi2-class", "scope": self.scope, "got": await receive()})


class Asgi2Factory:
    def __call__(self, scope: Any) -> Any:
        return Asgi2Class(scope)


class Asgi3Instance:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await asgi3_function(scope, receive, send)


async def run_app(app: Any, scope: Message, incoming: Message) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming

    async def send(message: Message) -> None:
        sent.append(message)

    await guarantee_single_callable(app)(scope, receive, send)
    return sent


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (asgi3_function, False),
        (Asgi3Instance(), False),
        (functools.partial(asgi3_function, {"pre": "bound"}), False),
        (asgi2_function, True),
        (Asgi2Class, True),
        (Asgi2Factory(), True),
    ],
)
def test_detection(app: Any, expected: bool) -> None:
    assert is_double_callable(app) is expected


def test_explicit_hints_override_detection() -> None:
    def looks_asgi2(scope: Any) -> Any:
        raise AssertionError("never called")

    looks_asgi2._asgi_single_callable = True  # type: ignore[attr-defined]  # the hint is an ad-hoc attribute by design
    assert is_double_callable(looks_asgi2) is False

    class Hinted(Asgi3Instance):
        _asgi_double_callable = True

    assert is_double_callable(Hinted()) is True


@pytest.mark.skipif(not uses_private("legacy_mark"), reason="legacy_mark forced off")
@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the legacy asyncio marker predates 3.12")
def test_legacy_coroutine_marker_counts_as_single_callable() -> None:
    def marked(scope: Any, receive: Any, send: Any) -> Any:
        return asgi3_function(scope, receive, send)

    marked._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]  # what markcoroutinefunction does before 3.12
    assert is_double_callable(marked) is False


def test_inspect_marker_counts_as_single_callable() -> None:
    def marked(scope: Any, receive: Any, send: Any) -> Any:
        return asgi3_function(scope, receive, send)

    if sys.version_info >= (3, 12):
        assert is_double_callable(inspect.markcoroutinefunction(marked)) is False
    else:
        pytest.skip("inspect.markcoroutinefunction is 3.12+")


def test_double_to_single_wraps_into_asgi3() -> None:
    wrapped = double_to_single_callable(asgi2_function)
    assert is_double_callable(wrapped) is False


@pytest.mark.parametrize("app", [asgi2_function, Asgi2Class, Asgi2Factory()])
async def test_asgi2_apps_run_as_asgi3(app: Any) -> None:
    sent = await run_app(app, {"type": "test", "n": 1}, {"type": "ping"})
    assert len(sent) == 1
    assert sent[0]["scope"] == {"type": "test", "n": 1}
    assert sent[0]["got"] == {"type": "ping"}
    assert sent[0]["kind"].startswith("asgi2")


def test_asgi3_apps_are_returned_unchanged() -> None:
    app = Asgi3Instance()
    assert guarantee_single_callable(app) is app
    assert guarantee_single_callable(asgi3_function) is asgi3_function


async def test_asgi3_app_runs() -> None:
    sent = await run_app(asgi3_function, {"type": "test"}, {"type": "ping"})
    assert sent == [{"kind": "asgi3", "scope": {"type": "test"}, "got": {"type": "ping"}}]
