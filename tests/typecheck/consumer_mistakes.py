"""Deliberate mistakes; each line marked expect-error must be reported, no other."""

from __future__ import annotations

from asgiref.sync import async_to_sync, sync_to_async
from asgiref.typing import ASGISendCallable


def add(a: int, b: int) -> int:
    return a + b


async def multiply(a: int, b: int) -> int:
    return a * b


async def wrong_argument_type() -> None:
    await sync_to_async(add)(1, "2")  # expect-error


async def missing_argument() -> None:
    await sync_to_async(add)(1)  # expect-error


def wrong_result_type() -> str:
    return async_to_sync(multiply)(2, 3)  # expect-error


async def forgot_await() -> int:
    return sync_to_async(add)(1, 2)  # expect-error


async def wrong_message(send: ASGISendCallable) -> None:
    await send({"type": "http.response.start", "status": "200"})  # expect-error
