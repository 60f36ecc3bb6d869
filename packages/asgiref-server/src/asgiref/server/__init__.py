"""StatelessServer: the base class of ASGI servers that have no incoming connections.

Such a server (a Channels worker reading a channel layer, a UDP chat relay...)
decides itself which "scope" each piece of input belongs to. It asks
:meth:`StatelessServer.get_or_create_application_instance` for the input queue
of that scope, which starts one instance of the ASGI application per scope and
keeps at most ``max_applications`` of them, evicting the least recently used.
Whatever an instance sends goes to :meth:`StatelessServer.application_send`.
A background checker reaps finished instances and reports crashed ones through
:meth:`StatelessServer.application_exception`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback as traceback  # upstream's module binds it; logging imported it already
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypedDict

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.compatibility import guarantee_single_callable
from asgiref.server import _runner

if TYPE_CHECKING:
    from asgiref.typing import ASGIApplication

__all__ = ["ApplicationDetails", "StatelessServer"]

logger = logging.getLogger(__name__)


class ApplicationDetails(TypedDict):
    """What the server keeps about one running application instance."""

    input_queue: asyncio.Queue[Any]
    future: asyncio.Task[Any]
    scope: Any
    last_used: float


class StatelessServer:
    """Subclass it and implement :meth:`handle` and :meth:`application_send`.

    ``handle()`` is the server's main loop: it reads input from wherever it
    comes and feeds it to instances through the queues returned by
    :meth:`get_or_create_application_instance`. When ``handle()`` returns or
    fails, or the server is cancelled, the checker stops and every remaining
    instance is cancelled.
    """

    #: Seconds between two sweeps of :meth:`application_checker`.
    application_checker_interval: float = 0.1
    # How long shutdown waits for cancelled instances (and tasks) to finish
    # their cleanup; one that swallows cancellation must not block exit forever.
    _shutdown_grace: float = 5.0

    def __init__(
        self,
        # Any callable: ASGI 2 or 3, typed as asgiref.typing spells it or otherwise.
        application: ASGIApplication | Callable[..., Any],
        max_applications: int = 1000,
    ) -> None:
        self.application = application
        self.max_applications = max_applications
        self.application_instances: dict[Hashable, ApplicationDetails] = {}
        # When (time.monotonic()) the current stop must be over; run() holds
        # its own cleanup of the loop to the same deadline.
        self._stop_deadline: float | None = None
        # Removed (evicted, deleted) instances still running their cancellation,
        # by task; a stop waits for them too.
        self._removed_running: dict[asyncio.Task[Any], Hashable] = {}

    # -- running -----------------------------------------------------------

    def run(self) -> None:
        """Serve until ``handle()`` ends; Ctrl-C stops the server cleanly.

        A new event loop is made for the run, so this works in any thread, and
        on Python 3.14 where there is no implicit loop. Like ``asyncio.run``,
        it cancels the tasks left on the loop at the end, but it returns at
        most about a second after the shutdown grace whatever they do.
        """
        try:
            _runner.run_until_stopped(
                self.arun(), lambda: self._stop_deadline, self._shutdown_grace
            )
        except KeyboardInterrupt:
            logger.info("Interrupted (Ctrl-C): server stopped")

    async def arun(self) -> None:
        """Serve on the running loop until ``handle()`` ends (or one of the two loops fails).

        Then ``handle()``, the checker and every instance are cancelled and
        get the shutdown grace (5 s) to finish; what is still running after it
        is logged and abandoned.
        """
        self._stop_deadline = None
        handler = asyncio.ensure_future(self.handle())
        checker = asyncio.ensure_future(self.application_checker())
        try:
            await asyncio.wait((handler, checker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._stop(handler, checker)
        for task in (handler, checker):
            failure = None if not task.done() or task.cancelled() else task.exception()
            if failure is not None:
                raise failure

    async def handle(self) -> None:
        """The server's main loop. Must be implemented by subclasses."""
        raise NotImplementedError("You must implement handle()")

    async def application_send(self, scope: Any, message: Any) -> None:
        """Deliver a message an application instance sent. Must be implemented by subclasses."""
        raise NotImplementedError("You must implement application_send()")

    # -- application instances ---------------------------------------------

    def get_or_create_application_instance(
        self, scope_id: Hashable, scope: Any
    ) -> asyncio.Queue[Any]:
        """Return the input queue of the instance for ``scope_id``, starting one if needed.

        Must be called with the event loop running. Starting a new instance
        when ``max_applications`` are alive first evicts (and cancels) the
        least recently used one.
        """
        existing = self.application_instances.get(scope_id)
        if existing is not None:
            existing["last_used"] = time.time()
            # Re-inserting keeps the dict ordered from least to most recently used,
            # which breaks ties between equal timestamps.
            del self.application_instances[scope_id]
            self.application_instances[scope_id] = existing
            return existing["input_queue"]
        while self.application_instances and (
            len(self.application_instances) >= self.max_applications
        ):
            self.delete_oldest_application_instance()
        input_queue: asyncio.Queue[Any] = asyncio.Queue()
        application = guarantee_single_callable(self.application)

        async def send(message: Any) -> None:
            await self.application_send(scope, message)

        async def instance() -> Any:
            # Called inside the task, so that an application failing in the
            # call itself is reported like any crash, not raised into handle().
            return await application(scope, input_queue.get, send)

        task = asyncio.get_running_loop().create_task(
            instance(), name=f"StatelessServer application instance {scope_id!r}"
        )
        created = ApplicationDetails(
            scope=scope, input_queue=input_queue, future=task, last_used=time.time()
        )
        self.application_instances[scope_id] = created
        return input_queue

    def delete_oldest_application_instance(self) -> None:
        """Evict the least recently used instance (cancelling it), if there is one."""
        if not self.application_instances:
            return
        instances = self.application_instances
        oldest = min(instances, key=lambda scope_id: instances[scope_id]["last_used"])
        self.delete_application_instance(oldest)

    def delete_application_instance(self, scope_id: Hashable) -> None:
        """Forget the instance for ``scope_id`` and cancel it if it is still running."""
        details = self.application_instances.pop(scope_id)
        task = details["future"]
        if not task.done():
            task.cancel()
            self._watch_removed(scope_id, task)

    async def application_checker(self) -> None:
        """Forever: every ``application_checker_interval`` s, reap finished instances."""
        while True:
            await asyncio.sleep(self.application_checker_interval)
            await self._reap_finished_instances()

    async def application_exception(
        self, exception: BaseException, application_details: ApplicationDetails
    ) -> None:
        """Called for each instance that ended with an exception; logs it by default."""
        logger.error(
            "Exception inside application (scope %r): %s",
            application_details["scope"],
            exception,
            exc_info=exception,
        )

    # -- internals -----------------------------------------------------------

    async def _reap_finished_instances(self) -> None:
        for scope_id, details in list(self.application_instances.items()):
            task = details["future"]
            if not task.done():
                continue
            if not task.cancelled():
                exception = task.exception()
                if exception is not None:
                    await self.application_exception(exception, details)
            # The report may already have removed it (or replaced it).
            if self.application_instances.get(scope_id) is details:
                del self.application_instances[scope_id]

    async def _stop(self, handler: asyncio.Future[None], checker: asyncio.Future[None]) -> None:
        """Cancel the two loops and every instance; wait for them all up to the grace."""
        grace = self._shutdown_grace
        self._stop_deadline = time.monotonic() + grace
        running = [d["future"] for d in self.application_instances.values()]
        for task in running:
            task.cancel()
        handler.cancel()
        checker.cancel()
        waited = [*running, *self._removed_running, handler, checker]
        await asyncio.wait([task for task in waited if not task.done()], timeout=grace)
        for name, loop_task in (("handle()", handler), ("application_checker()", checker)):
            if not loop_task.done():
                _runner.abandon(loop_task)
                logger.warning("%s ignored cancellation for %s s; abandoned", name, grace)
        await self._reap_finished_instances()
        for scope_id, details in list(self.application_instances.items()):
            del self.application_instances[scope_id]
            self._watch_removed(scope_id, details["future"])
        for task, scope_id in self._removed_running.items():
            _runner.abandon(task)
            logger.warning(
                "Application instance %r ignored cancellation for %s s; abandoned", scope_id, grace
            )
        # Abandoned tasks belong to this run's loop, which is about to close: a
        # later run() must neither wait for them nor report them again.
        self._removed_running.clear()

    def _watch_removed(self, scope_id: Hashable, task: asyncio.Task[Any]) -> None:
        # Nobody reaps a removed instance: a failure in its cleanup is logged
        # here (not left as "exception was never retrieved").
        self._removed_running[task] = scope_id
        task.add_done_callback(self._removed_instance_done)

    def _removed_instance_done(self, task: asyncio.Task[Any]) -> None:
        self._removed_running.pop(task, None)
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            logger.error(
                "Exception inside removed application instance: %s", failure, exc_info=failure
            )
