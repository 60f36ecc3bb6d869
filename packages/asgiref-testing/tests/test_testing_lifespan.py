"""ApplicationLifespan: startup, state, shutdown, and errors that explain themselves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from asgiref.testing import (
    ApplicationLifespan,
    LifespanError,
    LifespanShutdownError,
    LifespanStartupError,
    LifespanUnsupportedError,
)

pytestmark = pytest.mark.timeout(20)


class LifespanApp:
    """Supports lifespan; optionally fails a phase by message or by crashing."""

    def __init__(self, *, startup: str = "ok", shutdown: str = "ok") -> None:
        self.startup_mode = startup
        self.shutdown_mode = shutdown
        self.events: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        assert scope["asgi"]["version"] == "3.0"
        while True:
            message = await receive()
            self.events.append(message["type"])
            if message["type"] == "lifespan.startup":
                if self.startup_mode == "fail":
                    await send({"type": "lifespan.startup.failed", "message": "no database"})
                    return
                if self.startup_mode == "odd":
                    await send({"type": "lifespan.startup.whatever"})
                    return
                scope["state"]["db"] = "connected"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.shutdown_mode == "fail":
                    await send({"type": "lifespan.shutdown.failed", "message": "flush failed"})
                elif self.shutdown_mode == "crash":
                    raise OSError("disk gone")
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                return


async def http_only_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError(f"unsupported scope type {scope['type']!r}")


async def test_startup_state_and_shutdown() -> None:
    app = LifespanApp()
    lifespan = ApplicationLifespan(app)
    await lifespan.startup()
    assert lifespan.state == {"db": "connected"}
    assert lifespan.scope["state"] is lifespan.state
    await lifespan.shutdown()
    assert app.events == ["lifespan.startup", "lifespan.shutdown"]


async def test_async_with() -> None:
    app = LifespanApp()
    async with ApplicationLifespan(app) as lifespan:
        assert lifespan.state["db"] == "connected"
        assert app.events == ["lifespan.startup"]
    assert app.events == ["lifespan.startup", "lifespan.shutdown"]


async def test_asgi2_application() -> None:
    def asgi2(scope: Any) -> Any:
        async def instance(receive: Any, send: Any) -> None:
            await LifespanApp()(scope, receive, send)

        return instance

    async with ApplicationLifespan(asgi2) as lifespan:
        assert lifespan.state == {"db": "connected"}


async def test_app_without_lifespan_support_raising() -> None:
    with pytest.raises(LifespanUnsupportedError, match="does not support the lifespan") as caught:
        await ApplicationLifespan(http_only_app).startup()
    assert isinstance(caught.value.__cause__, ValueError)
    assert "unsupported scope type" in str(caught.value)


async def test_app_without_lifespan_support_returning() -> None:
    async def ignores_lifespan(scope: Any, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(LifespanUnsupportedError, match="returned"):
        await ApplicationLifespan(ignores_lifespan).startup()


async def test_startup_failed_message() -> None:
    with pytest.raises(LifespanStartupError, match="no database") as caught:
        await ApplicationLifespan(LifespanApp(startup="fail")).startup()
    assert caught.value.message == "no database"


async def test_unexpected_startup_reply() -> None:
    with pytest.raises(LifespanError, match=r"lifespan\.startup\.whatever"):
        await ApplicationLifespan(LifespanApp(startup="odd")).startup()


async def test_shutdown_failed_message() -> None:
    lifespan = ApplicationLifespan(LifespanApp(shutdown="fail"))
    await lifespan.startup()
    with pytest.raises(LifespanShutdownError, match="flush failed") as caught:
        await lifespan.shutdown()
    assert caught.value.message == "flush failed"


async def test_shutdown_crash() -> None:
    lifespan = ApplicationLifespan(LifespanApp(shutdown="crash"))
    await lifespan.startup()
    with pytest.raises(LifespanShutdownError, match="disk gone") as caught:
        await lifespan.shutdown()
    assert isinstance(caught.value.__cause__, OSError)


async def test_app_that_never_answers_times_out_clearly() -> None:
    async def mute(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await asyncio.Event().wait()

    with pytest.raises(TimeoutError, match=r"lifespan startup: .* within 0\.05 s"):
        await ApplicationLifespan(mute, startup_timeout=0.05).startup()


async def test_misuse_is_reported() -> None:
    lifespan = ApplicationLifespan(LifespanApp())
    with pytest.raises(RuntimeError, match="before a successful startup"):
        await lifespan.shutdown()
    await lifespan.startup()
    with pytest.raises(RuntimeError, match="already started"):
        await lifespan.startup()
    await lifespan.shutdown()
    with pytest.raises(RuntimeError, match="already ended"):
        await lifespan.shutdown()
