"""Test helpers for ASGI applications.

:class:`ApplicationCommunicator` runs one application instance and lets a test
exchange messages with it; :class:`ApplicationLifespan` runs an application's
lifespan protocol (startup, ``state``, shutdown) with clear errors.
"""

from __future__ import annotations

# Upstream's module imports these, and programs reach for them here
# (asgiref.testing.guarantee_single_callable).
import asyncio as asyncio
import contextvars as contextvars
import time as time
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.compatibility import guarantee_single_callable as guarantee_single_callable
from asgiref.timeout._error import AsgirefTimeoutError

if TYPE_CHECKING:
    from asgiref.typing import ASGIApplication, Scope

__all__ = [
    "ApplicationCommunicator",
    "ApplicationLifespan",
    "LifespanError",
    "LifespanShutdownError",
    "LifespanStartupError",
    "LifespanUnsupportedError",
]

# The classes are defined in this module, not in private ones, because their
# __module__ is this one (reprs, pickles, upstream's path): inspect.getsource
# looks for a class in the file of its __module__.

# How long stopping an application may take once it has been cancelled. An
# application that swallows cancellation must fail the test, not hang it.
_CANCEL_GRACE = 5.0


class ApplicationCommunicator:
    """Runs ``application`` (ASGI 2 or 3) with ``scope`` as a task of the running loop.

    Messages go in with :meth:`send_input` and come out with
    :meth:`receive_output`. The task, like the two queues, is created lazily on
    first use, so the communicator can be built outside any event loop. The
    application starts in a fresh, empty ``contextvars`` context, as it would
    under a server. Once the application has failed, every later call re-raises
    its exception; once it has been cancelled (by a timeout, :meth:`stop` or
    anything else), :meth:`send_input`, :meth:`receive_output`,
    :meth:`receive_nothing` and :meth:`stop` raise ``asyncio.CancelledError``,
    as asgiref 3.13.0 does, with a message saying what cancelled it.

    Subclasses (Channels' communicators) override :meth:`send_input` and
    :meth:`receive_output` and call ``super()``.
    """

    def __init__(
        self,
        # Any callable: ASGI 2 or 3, typed as asgiref.typing spells it or otherwise.
        application: ASGIApplication | Callable[..., Any],
        scope: Scope | MutableMapping[str, Any],
    ) -> None:
        self._given_application = application
        self.application = guarantee_single_callable(application)
        # Read and changed by tests as a plain dict, whichever way it was typed.
        self.scope: Any = scope
        self._input_queue: asyncio.Queue[Any] | None = None
        self._output_queue: asyncio.Queue[Any] | None = None
        self._future: asyncio.Task[Any] | None = None
        # What cancelled the application, for the CancelledError of later calls.
        self._cancelled_by: str | None = None

    @property
    def input_queue(self) -> asyncio.Queue[Any]:
        """What the application's ``receive()`` reads from."""
        queue = self._input_queue
        if queue is None:
            queue = self._input_queue = asyncio.Queue()
        return queue

    @property
    def output_queue(self) -> asyncio.Queue[Any]:
        """Where the application's ``send()`` puts messages."""
        queue = self._output_queue
        if queue is None:
            queue = self._output_queue = asyncio.Queue()
        return queue

    @property
    def future(self) -> asyncio.Task[Any]:
        """The application's task, started on first access (needs a running loop)."""
        if self._future is None:
            receive, send = self.input_queue.get, self.output_queue.put
            # An empty context: values the test set must not leak into the app.
            self._future = contextvars.Context().run(
                asyncio.get_running_loop().create_task,
                self._run_application(receive, send),
                name=f"{type(self).__name__} running {self._describe_application()}",
            )
        return self._future

    async def _run_application(self, receive: Any, send: Any) -> Any:
        # Calling the app inside the task keeps a synchronous failure of the
        # call itself (a bad signature...) reportable like any other failure.
        return await self.application(self.scope, receive, send)

    # -- sending and receiving ------------------------------------------------

    async def send_input(self, message: Any) -> None:
        """Give the application one message (raises the app's failure or cancellation)."""
        self._raise_outcome()
        await self.input_queue.put(message)

    async def receive_output(self, timeout: float = 1) -> Any:
        """Return the next message the application sends, waiting up to ``timeout`` s.

        If the application fails, its exception is raised (with its own
        traceback). If nothing comes in time, the application is cancelled and
        ``TimeoutError`` says what was awaited and for how long; the same error
        comes at once when the application has already returned.
        """
        application = self.future
        self._raise_outcome()
        queue = self.output_queue
        if not queue.empty():
            return queue.get_nowait()
        if not application.done():
            getter = asyncio.ensure_future(queue.get())
            try:
                await asyncio.wait(
                    (getter, application), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if not getter.done():
                    # Cancelling a pending get() leaves any queued message in place.
                    getter.cancel()
                    await asyncio.wait((getter,))
            if not getter.cancelled():
                return getter.result()
            self._raise_outcome()
            if not application.done():
                await self._cancel_application(
                    f"by receive_output() after {timeout} s without a message"
                )
                raise AsgirefTimeoutError(
                    f"receive_output() waited {timeout} s for a message from "
                    f"{self._describe_application()} and got none; "
                    "the application was still running and has been cancelled"
                )
        raise AsgirefTimeoutError(
            f"receive_output() expected a message from {self._describe_application()}, "
            "but the application has already ended without sending one"
        )

    async def receive_nothing(self, timeout: float = 0.1, interval: float = 0.01) -> bool:
        """True if the application sends nothing for ``timeout`` s (polled every ``interval`` s).

        A message already waiting makes it return False at once; ``interval``
        is always slept whole, even past ``timeout``.
        """
        self._raise_outcome()
        queue = self.output_queue
        deadline = time.monotonic() + timeout
        # Polling, not an Event: watching the queue must not consume from it.
        while queue.empty() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(interval)
        self._raise_failure()
        return queue.empty()

    # -- ending -----------------------------------------------------------------

    async def wait(self, timeout: float = 1) -> None:
        """Wait up to ``timeout`` s for the application to return; cancel it otherwise.

        Raises the application's exception if it failed; a cancelled
        application is not an error.
        """
        application = self.future
        try:
            await asyncio.wait((application,), timeout=timeout)
        finally:
            if not application.done():
                await self._cancel_application(f"by wait() after {timeout} s")
        if not application.cancelled():
            application.result()

    def stop(self, exceptions: bool = True) -> None:
        """Cancel the application if it runs; else, with ``exceptions``, raise how it ended.

        That is its exception if it failed, ``asyncio.CancelledError`` if it
        was cancelled; nothing if it returned.
        """
        application = self._future
        if application is None:
            return
        if not application.done():
            self._cancelled_by = self._cancelled_by or "by stop()"
            application.cancel()
        elif exceptions:
            self._raise_outcome()

    def __del__(self) -> None:
        try:
            self.stop(exceptions=False)
        except RuntimeError:
            # The application's loop is already closed: nothing left to cancel on.
            pass
        except AttributeError:
            # __init__ failed before the attributes existed.
            pass

    # -- internals --------------------------------------------------------------

    def _raise_failure(self) -> None:
        """Start the application if needed; re-raise its exception if it has failed."""
        application = self.future
        if application.done() and not application.cancelled():
            application.result()

    def _raise_outcome(self) -> None:
        """Like :meth:`_raise_failure`, and raise ``CancelledError`` if the app was cancelled.

        Upstream calls ``result()`` on the ended task, which raises that; the
        type is kept (Channels' tests assert it), the message says why.
        """
        application = self.future
        if application.cancelled():
            cause = self._cancelled_by or "(not by this communicator)"
            raise asyncio.CancelledError(
                f"{self._describe_application()} was cancelled {cause}: it can no "
                "longer receive or send messages"
            )
        self._raise_failure()

    async def _cancel_application(self, cause: str) -> None:
        application = self.future
        self._cancelled_by = self._cancelled_by or cause
        application.cancel()
        await asyncio.wait((application,), timeout=_CANCEL_GRACE)
        if not application.done():
            raise AsgirefTimeoutError(
                f"{self._describe_application()} ignored cancellation for {_CANCEL_GRACE} s"
            )
        # A failure raised while handling the cancellation is the app's bug: show it.
        self._raise_failure()

    def _describe_application(self) -> str:
        # The app as given: an ASGI 2 app's single-callable wrapper has no useful name.
        application = self._given_application
        name = getattr(application, "__qualname__", None) or type(application).__qualname__
        scope: object = self.scope
        scope_type: object = None
        if isinstance(scope, Mapping):
            scope_type = cast("Mapping[str, object]", scope).get("type")
        if scope_type is None:
            return f"application {name!r}"
        return f"application {name!r} (scope type {scope_type!r})"


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

    async def __aexit__(self, *exc_info: object) -> None:
        # Shut down whatever ended the block: the exception goes on by itself.
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
