"""ApplicationLifespan: run an ASGI application's lifespan protocol in a test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from asgiref.testing._communicator import ApplicationCommunicator
from asgiref.timeout._error import AsgirefTimeoutError

if TYPE_CHECKING:
    from asgiref.typing import ASGIApplication

__all__ = [
    "ApplicationLifespan",
    "LifespanError",
    "LifespanShutdownError",
    "LifespanStartupError",
    "LifespanUnsupportedError",
]

_Self = TypeVar("_Self", bound="ApplicationLifespan")


class LifespanError(Exception):
    """The lifespan protocol did not go as the ASGI spec describes."""


class LifespanUnsupportedError(LifespanError):
    """The application raised or returned on the lifespan scope instead of answering."""


class LifespanStartupError(LifespanError):
    """The application answered ``lifespan.startup.failed``; ``.message`` is its reason."""

    def __init__(self, message: str) -> None:
        # The constructor's argument as args, so that a pickled copy rebuilds the same error.
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"application reported lifespan.startup.failed: {self.message!r}"


class LifespanShutdownError(LifespanError):
    """Shutdown went wrong: ``lifespan.shutdown.failed`` or a crash (see ``__cause__``)."""

    def __init__(self, description: str, message: str = "") -> None:
        super().__init__(description)
        self.message = message


class ApplicationLifespan:
    """Start an application's lifespan, let the test run, shut it down.

    ``state`` is the dict passed as the lifespan scope's ``"state"``: what the
    application stores there at startup is what a server would copy into each
    request's scope. Use ``await startup()`` / ``await shutdown()`` or
    ``async with ApplicationLifespan(app) as lifespan: ...``.
    """

    def __init__(
        self,
        application: ASGIApplication | Callable[..., Any],
        *,
        startup_timeout: float = 5,
        shutdown_timeout: float = 5,
    ) -> None:
        self.application = application
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.state: dict[str, Any] = {}
        self.scope: dict[str, Any] = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        self._communicator: ApplicationCommunicator | None = None
        # True once the lifespan is over: a failed startup, or shutdown() called.
        self._ended = False

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the application's answer."""
        if self._communicator is not None:
            raise RuntimeError("this ApplicationLifespan was already started")
        communicator = ApplicationCommunicator(self.application, self.scope)
        self._communicator = communicator
        self._ended = True  # until the application answers lifespan.startup.complete
        await communicator.send_input({"type": "lifespan.startup"})
        reply = await self._next_reply(communicator, "startup", self.startup_timeout)
        kind = reply.get("type")
        if kind == "lifespan.startup.complete":
            self._ended = False
            return
        # A failed startup ends the lifespan: the app is not asked to shut down.
        await communicator.wait(self.shutdown_timeout)
        if kind == "lifespan.startup.failed":
            raise LifespanStartupError(str(reply.get("message", "")))
        raise LifespanError(
            f"expected lifespan.startup.complete or lifespan.startup.failed, got {reply!r}"
        )

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown``, wait for the answer and for the app to return."""
        communicator = self._communicator
        if communicator is None:
            raise RuntimeError("shutdown() before a successful startup()")
        if self._ended:
            raise RuntimeError("the lifespan has already ended")
        self._ended = True
        application = communicator.future
        if application.done():
            failure = None if application.cancelled() else application.exception()
            how = "was cancelled" if application.cancelled() else "returned"
            if failure is not None:
                how = f"crashed ({failure!r})"
            raise LifespanShutdownError(
                f"the application {how} between lifespan startup and shutdown"
            ) from failure
        await communicator.send_input({"type": "lifespan.shutdown"})
        reply = await self._next_reply(communicator, "shutdown", self.shutdown_timeout)
        kind = reply.get("type")
        if kind == "lifespan.shutdown.failed":
            message = str(reply.get("message", ""))
            await communicator.wait(self.shutdown_timeout)
            raise LifespanShutdownError(
                f"application reported lifespan.shutdown.failed: {message!r}", message
            )
        if kind != "lifespan.shutdown.complete":
            await communicator.wait(self.shutdown_timeout)
            raise LifespanError(
                f"expected lifespan.shutdown.complete or lifespan.shutdown.failed, got {reply!r}"
            )
        await communicator.wait(self.shutdown_timeout)

    async def __aenter__(self: _Self) -> _Self:
        await self.startup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    async def _next_reply(
        self, communicator: ApplicationCommunicator, phase: str, timeout: float
    ) -> Mapping[str, Any]:
        try:
            reply = await communicator.receive_output(timeout)
        except BaseException as error:
            application = communicator.future
            ended = application.done() and not application.cancelled()
            failure = application.exception() if ended else None
            # The application's own end (its exception, or "already ended" for
            # a return), not a cancellation of the calling task.
            if ended and (error is failure or isinstance(error, Exception)):
                raise _ended_during(phase, failure) from failure or error
            if isinstance(error, TimeoutError):
                state = (
                    "has been cancelled" if application.cancelled() else "ignored its cancellation"
                )
                raise AsgirefTimeoutError(
                    f"lifespan {phase}: the application did not answer lifespan.{phase} "
                    f"within {timeout} s and {state}"
                ) from error
            raise
        if not isinstance(reply, Mapping):
            raise LifespanError(f"expected a lifespan.{phase} message, got {reply!r}")
        return cast("Mapping[str, Any]", reply)


def _ended_during(phase: str, failure: BaseException | None) -> LifespanError:
    """The error for an application that returned or raised instead of answering ``phase``."""
    if phase == "shutdown":
        if failure is None:
            return LifespanShutdownError(
                "the application returned during lifespan shutdown without answering it"
            )
        return LifespanShutdownError(f"application crashed during lifespan shutdown: {failure!r}")
    if failure is None:
        return LifespanUnsupportedError(
            f"the application returned on the lifespan scope during {phase} "
            "without answering: it does not support the lifespan protocol"
        )
    return LifespanUnsupportedError(
        f"the application raised {failure!r} on the lifespan scope during "
        f"{phase}: it does not support the lifespan protocol, or its "
        f"{phase} crashed (see the cause above)"
    )
