"""Lifespan handlers: an application's, and the driver a test suite or server uses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from asgiref.typing import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    LifespanScope,
    LifespanShutdownCompleteEvent,
    LifespanShutdownEvent,
    LifespanStartupCompleteEvent,
    LifespanStartupEvent,
    LifespanStartupFailedEvent,
    Scope,
)


class Database:
    async def connect(self) -> None:
        await asyncio.sleep(0)

    async def disconnect(self) -> None:
        await asyncio.sleep(0)


Lifespan = Callable[[], AbstractAsyncContextManager[dict[str, object]]]


@asynccontextmanager
async def database_lifespan() -> AsyncGenerator[dict[str, object]]:
    db = Database()
    await db.connect()
    try:
        yield {"db": db}
    finally:
        await db.disconnect()


def with_lifespan(app: ASGI3Application, lifespan: Lifespan) -> ASGI3Application:
    async def wrapper(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        await run_lifespan(scope, receive, send, lifespan)

    return wrapper


async def run_lifespan(
    scope: LifespanScope, receive: ASGIReceiveCallable, send: ASGISendCallable, lifespan: Lifespan
) -> None:
    started = False
    message = await receive()
    assert message["type"] == "lifespan.startup"
    try:
        async with lifespan() as state:
            if "state" in scope:
                scope["state"].update(state)
            await send(LifespanStartupCompleteEvent(type="lifespan.startup.complete"))
            started = True
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
    except BaseException as exc:
        if started:
            await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
        else:
            await send(
                LifespanStartupFailedEvent(type="lifespan.startup.failed", message=repr(exc))
            )
        raise
    await send({"type": "lifespan.shutdown.complete"})


class LifespanManager:
    """Drives an application's lifespan from outside, as asgi-lifespan does in tests."""

    def __init__(self, app: ASGI3Application) -> None:
        self.app = app
        self.state: dict[str, object] = {}
        self.inbox: asyncio.Queue[ASGIReceiveEvent] = asyncio.Queue()
        self.outbox: asyncio.Queue[ASGISendEvent] = asyncio.Queue()
        self.task: asyncio.Future[None] | None = None

    async def receive(self) -> ASGIReceiveEvent:
        return await self.inbox.get()

    async def send(self, message: ASGISendEvent) -> None:
        await self.outbox.put(message)

    async def startup(self) -> None:
        scope: LifespanScope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        self.task = asyncio.ensure_future(self.app(scope, self.receive, self.send))
        startup: LifespanStartupEvent = {"type": "lifespan.startup"}
        await self.inbox.put(startup)
        message = await self.outbox.get()
        if message["type"] == "lifespan.startup.failed":
            raise RuntimeError(message["message"])
        assert message["type"] == "lifespan.startup.complete"

    async def shutdown(self) -> None:
        await self.inbox.put(LifespanShutdownEvent(type="lifespan.shutdown"))
        message = await self.outbox.get()
        if message["type"] == "lifespan.shutdown.failed":
            raise RuntimeError(message.get("message", ""))
        complete: LifespanShutdownCompleteEvent = {"type": "lifespan.shutdown.complete"}
        assert message == complete
        if self.task is not None:
            await self.task
