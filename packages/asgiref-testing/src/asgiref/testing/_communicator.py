"""ApplicationCommunicator: drive one ASGI application instance from a test."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, cast

from asgiref.compatibility import guarantee_single_callable
from asgiref.timeout._error import AsgirefTimeoutError

if TYPE_CHECKING:
    from asgiref.typing import ASGIApplication, Scope

__all__ = ["ApplicationCommunicator"]

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
