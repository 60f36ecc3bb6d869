"""The lifespan protocol of an AsgiToWsgi application: startup, state, shutdown.

Runs on the adapter's event loop. Modes follow uvicorn: with "auto" an
application that fails on the lifespan scope is served without it; with "on"
that failure is a startup failure; with "off" the scope is never sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from asgiref.wsgi._asgi_to_wsgi_callable import SingleCallable

if TYPE_CHECKING:
    from asgiref.typing import ASGIReceiveEvent, ASGISendEvent, LifespanScope

logger = logging.getLogger("asgiref.wsgi")

LifespanMode = Literal["auto", "on", "off"]
# What the application's task reported: a message, an exception, or None when it returned.
_Reply = Mapping[str, Any] | BaseException | None


class Lifespan:
    """One application's lifespan in one process; ``failure`` is set when startup failed."""

    def __init__(self, application: SingleCallable, mode: LifespanMode, timeout: float) -> None:
        self._application = application
        self._mode = mode
        self._timeout = timeout
        self.state: dict[str, Any] = {}
        self.failure: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[ASGIReceiveEvent] = asyncio.Queue()
        self._replies: asyncio.Queue[_Reply] = asyncio.Queue()

    async def startup(self) -> None:
        if self._mode == "off":
            return
        scope: LifespanScope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        self._inbox.put_nowait({"type": "lifespan.startup"})
        self._task = asyncio.get_running_loop().create_task(self._run(scope))
        reply = await self._reply("startup")
        if isinstance(reply, Mapping):
            if reply.get("type") == "lifespan.startup.failed":
                self._fail(str(reply.get("message") or "lifespan.startup.failed"))
            return
        if reply is None or self._mode == "auto":
            # Served without lifespan, as uvicorn does ("appears unsupported").
            logger.info("AsgiToWsgi: the application does not support lifespan; serving without it")
            return
        self._fail(f"{type(reply).__name__}: {reply}", reply)

    async def shutdown(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done() or self.failure is not None:
            return
        self._inbox.put_nowait({"type": "lifespan.shutdown"})
        reply = await self._reply("shutdown", task)
        if isinstance(reply, BaseException):
            logger.error("AsgiToWsgi: lifespan shutdown raised", exc_info=reply)
        elif isinstance(reply, Mapping) and reply.get("type") == "lifespan.shutdown.failed":
            logger.error("AsgiToWsgi: lifespan shutdown failed: %s", reply.get("message", ""))

    def _fail(self, reason: str, error: BaseException | None = None) -> None:
        self.failure = reason
        logger.error(
            "AsgiToWsgi: application startup failed (%s); every request is answered 500",
            reason,
            exc_info=error,
        )
        if self._task is not None:
            self._task.cancel()

    async def _reply(self, phase: str, task: asyncio.Task[None] | None = None) -> _Reply:
        try:
            return await asyncio.wait_for(self._replies.get(), self._timeout)
        except asyncio.TimeoutError:
            running = task or self._task
            if running is not None:
                running.cancel()
            if phase == "startup":
                self._fail(f"no reply to lifespan.startup within {self._timeout} s")
            else:
                logger.error("AsgiToWsgi: no reply to lifespan.shutdown within %s s", self._timeout)
            return None

    async def _run(self, scope: LifespanScope) -> None:
        try:
            await self._application(scope, self._receive, self._send)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # SystemExit too: startup must not wait for the timeout
            self._replies.put_nowait(error)
        else:
            self._replies.put_nowait(None)

    async def _receive(self) -> ASGIReceiveEvent:
        return await self._inbox.get()

    async def _send(self, message: ASGISendEvent) -> None:
        fields: Mapping[str, Any] = message
        if not str(fields.get("type", "")).startswith("lifespan."):
            raise RuntimeError(f"unexpected ASGI message in the lifespan scope: {fields!r}")
        self._replies.put_nowait(fields)
