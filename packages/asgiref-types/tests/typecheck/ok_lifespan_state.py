"""A lifespan application that shares state with the requests through ``scope["state"]``."""

from __future__ import annotations

from asgiref.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    LifespanScope,
    LifespanStartupFailedEvent,
    Scope,
)


class Pool:
    def __init__(self) -> None:
        self.open = True

    def close(self) -> None:
        self.open = False


async def lifespan(
    scope: LifespanScope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if "state" not in scope:
                failed: LifespanStartupFailedEvent = {
                    "type": "lifespan.startup.failed",
                    "message": "this server has no lifespan state",
                }
                await send(failed)
                return
            scope["state"]["pool"] = Pool()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if "state" in scope:
                pool: Pool = scope["state"]["pool"]
                pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
        return
    if scope["type"] == "http":
        state = scope.get("state", {})
        pool = state.get("pool")
        status = 200 if isinstance(pool, Pool) and pool.open else 503
        await send({"type": "http.response.start", "status": status})
        await send({"type": "http.response.body"})


async def failing_shutdown(send: ASGISendCallable) -> None:
    await send({"type": "lifespan.shutdown.failed", "message": "pool did not close"})
    await send({"type": "lifespan.startup.failed"})
