"""A small program using asgiref the way applications do; must type-check strictly."""

from __future__ import annotations

from asgiref.compatibility import guarantee_single_callable
from asgiref.local import Local
from asgiref.sync import (
    AsyncToSync,
    SyncToAsync,
    ThreadSensitiveContext,
    async_to_sync,
    sync_to_async,
)
from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope


def add(a: int, b: int) -> int:
    return a + b


async def multiply(a: int, b: int) -> int:
    return a * b


async def use_sync_to_async() -> int:
    total: int = await sync_to_async(add)(1, 2)
    async with ThreadSensitiveContext():
        total += await sync_to_async(add, thread_sensitive=False)(3, 4)
    wrapper: SyncToAsync[[int, int], int] = SyncToAsync(add)
    return total + await wrapper(5, 6)


def use_async_to_sync() -> int:
    wrapper: AsyncToSync[[int, int], int] = async_to_sync(multiply)
    return wrapper(2, 3)


@sync_to_async
def decorated(name: str) -> str:
    return name.upper()


async def use_decorated() -> str:
    return await decorated("x")


request_state = Local()
request_state.user = "alice"


async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


single = guarantee_single_callable(app)
