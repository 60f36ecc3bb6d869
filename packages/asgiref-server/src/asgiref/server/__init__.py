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
from collections.abc import Hashable
from typing import Any, TypedDict

from asgiref.compatibility import guarantee_single_callable

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
    # How long shutdown waits for cancelled instances to finish their cleanup;
    # an application that swallows cancellation must not block exit forever.
    _shutdown_grace: float = 5.0

    def __init__(self, application: Any, max_applications: int = 1000) -> None:
        self.application = application
        self.max_applications = max_applications
        self.application_instances: dict[Hashable, ApplicationDetails] = {}

    # -- running -----------------------------------------------------------

    def run(self) -> None:
        """Serve until ``handle()`` ends; Ctrl-C stops the server cleanly.

        A new event loop is made for the run (``asyncio.run``), so this works
        in any thread, and on Python 3.14 where there is no implicit loop.
        """
        try:
            asyncio.run(self.arun())
        except KeyboardInterrupt:
            logger.info("Interrupted (Ctrl-C): server stopped")

    async def arun(self) -> None:
        """Serve on the running loop until ``handle()`` ends (or one of the two loops fails)."""
        handler = asyncio.ensure_future(self.handle())
        checker = asyncio.ensure_future(self.application_checker())
        try:
            await asyncio.wait((handler, checker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (handler, checker):
                task.cancel()
            await asyncio.wait((handler, checker))
            await self._stop_all_instances()
        for task in (handler, checker):
            failure = None if task.cancelled() else task.exception()
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

        task = asyncio.get_running_loop().create_task(
            application(scope, input_queue.get, send),
            name=f"StatelessServer application instance {scope_id!r}",
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
            # Nobody reaps a forgotten instance, so a failure in its cleanup
            # would otherwise surface as "exception was never retrieved".
            task.add_done_callback(_log_failure_after_removal)

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

    async def _stop_all_instances(self) -> None:
        running = [
            d["future"] for d in self.application_instances.values() if not d["future"].done()
        ]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=self._shutdown_grace)
        await self._reap_finished_instances()
        for scope_id, details in list(self.application_instances.items()):
            logger.warning(
                "Application instance %r ignored cancellation for %s s; abandoned",
                scope_id,
                self._shutdown_grace,
            )
            details["future"].add_done_callback(_log_failure_after_removal)
            del self.application_instances[scope_id]


def _log_failure_after_removal(task: asyncio.Task[Any]) -> None:
    failure = None if task.cancelled() else task.exception()
    if failure is not None:
        logger.error("Exception inside removed application instance: %s", failure, exc_info=failure)
