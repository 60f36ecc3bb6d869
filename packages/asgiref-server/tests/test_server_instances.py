"""StatelessServer: instance lifecycle (LRU eviction, crash reports, shutdown)."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Hashable
from typing import Any

import pytest

from asgiref.server import ApplicationDetails, StatelessServer

pytestmark = pytest.mark.timeout(20)


class Recorder:
    """An ASGI 3 app that echoes input and records how each instance ended."""

    def __init__(self) -> None:
        self.started: list[Any] = []
        self.cancelled: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.started.append(scope)
        try:
            while True:
                message = await receive()
                if message == "crash":
                    raise ValueError(f"crash requested in {scope}")
                if message == "finish":
                    return
                await send(message)
        except asyncio.CancelledError:
            self.cancelled.append(scope)
            raise


class CollectingServer(StatelessServer):
    """A server whose handle() is driven by the test itself."""

    application_checker_interval = 0.01

    def __init__(self, application: Any, max_applications: int = 1000) -> None:
        super().__init__(application, max_applications=max_applications)
        self.sent: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()
        self.reports: list[tuple[BaseException, ApplicationDetails]] = []
        self.stop = asyncio.Event()

    async def handle(self) -> None:
        await self.stop.wait()

    async def application_send(self, scope: Any, message: Any) -> None:
        await self.sent.put((scope, message))

    async def application_exception(
        self, exception: BaseException, application_details: ApplicationDetails
    ) -> None:
        self.reports.append((exception, application_details))


async def settle() -> None:
    # Lets newly created instance tasks start (a few loop turns, bounded).
    for _ in range(5):
        await asyncio.sleep(0)


async def test_instances_are_reused_per_scope_id_and_echo() -> None:
    app = Recorder()
    server = CollectingServer(app)
    first = server.get_or_create_application_instance("a", {"id": "a"})
    again = server.get_or_create_application_instance("a", {"id": "ignored"})
    assert first is again
    first.put_nowait("hello")
    assert await asyncio.wait_for(server.sent.get(), 5) == ({"id": "a"}, "hello")
    assert app.started == [{"id": "a"}]
    server.delete_application_instance("a")
    await settle()
    assert app.cancelled == [{"id": "a"}]


async def test_lru_eviction_cancels_the_least_recently_used_instance() -> None:
    app = Recorder()
    server = CollectingServer(app, max_applications=2)
    server.get_or_create_application_instance("a", "scope-a")
    server.get_or_create_application_instance("b", "scope-b")
    await settle()
    # Touch "a": now "b" is the least recently used, even with equal timestamps.
    server.get_or_create_application_instance("a", "scope-a")
    evicted_task = server.application_instances["b"]["future"]
    server.get_or_create_application_instance("c", "scope-c")
    await settle()
    assert list(server.application_instances) == ["a", "c"]
    assert len(server.application_instances) <= server.max_applications
    assert evicted_task.cancelled()
    assert app.cancelled == ["scope-b"]
    for scope_id in list(server.application_instances):
        server.delete_application_instance(scope_id)
    await settle()


async def test_many_scopes_never_exceed_max_applications() -> None:
    app = Recorder()
    server = CollectingServer(app, max_applications=10)
    tasks = []
    for number in range(25):
        server.get_or_create_application_instance(number, number)
        tasks.append(server.application_instances[number]["future"])
        assert len(server.application_instances) <= 10
    await settle()
    assert set(server.application_instances) == set(range(15, 25))
    # Evicted before they ever ran: cancelled without starting.
    assert [task.cancelled() for task in tasks] == [True] * 15 + [False] * 10
    for scope_id in list(server.application_instances):
        server.delete_application_instance(scope_id)
    await settle()


async def test_crashing_instance_is_reported_and_removed() -> None:
    app = Recorder()
    server = CollectingServer(app)
    running = asyncio.ensure_future(server.arun())
    await settle()
    server.get_or_create_application_instance("ok", "scope-ok")
    server.get_or_create_application_instance("bad", "scope-bad").put_nowait("crash")
    for _ in range(500):  # bounded: 500 x 10 ms
        if server.reports:
            break
        await asyncio.sleep(0.01)
    (exception, details), *others = server.reports
    assert not others
    assert isinstance(exception, ValueError)
    assert details["scope"] == "scope-bad"
    # The traceback points into the application that failed.
    frames = traceback.extract_tb(exception.__traceback__)
    assert any(frame.name == "__call__" for frame in frames)
    assert "bad" not in server.application_instances
    assert "ok" in server.application_instances
    server.stop.set()
    await asyncio.wait_for(running, 5)


async def test_default_report_logs_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    class LoggingServer(CollectingServer):
        application_exception = StatelessServer.application_exception  # the default

    server = LoggingServer(Recorder())
    running = asyncio.ensure_future(server.arun())
    await settle()
    with caplog.at_level(logging.ERROR):
        server.get_or_create_application_instance("bad", "scope-bad").put_nowait("crash")
        for _ in range(500):
            if "bad" not in server.application_instances:
                break
            await asyncio.sleep(0.01)
    server.stop.set()
    await asyncio.wait_for(running, 5)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "crash requested" in errors[0].getMessage()
    assert errors[0].exc_info is not None


async def test_finished_and_cancelled_instances_are_reaped_quietly() -> None:
    app = Recorder()
    server = CollectingServer(app)
    running = asyncio.ensure_future(server.arun())
    await settle()
    server.get_or_create_application_instance("done", "s1").put_nowait("finish")
    server.get_or_create_application_instance("gone", "s2")
    await settle()
    # Cancelled behind the server's back (as upstream's test fixture does):
    # the checker must neither crash nor report it.
    server.application_instances["gone"]["future"].cancel()
    for _ in range(500):
        if not server.application_instances:
            break
        await asyncio.sleep(0.01)
    assert server.application_instances == {}
    assert server.reports == []
    assert not running.done()
    server.stop.set()
    await asyncio.wait_for(running, 5)


async def test_arun_cancels_remaining_instances_when_handle_returns() -> None:
    app = Recorder()
    server = CollectingServer(app)
    running = asyncio.ensure_future(server.arun())
    await settle()
    tasks = [
        server.application_instances[scope_id]["future"]
        for scope_id in ("x", "y")
        if server.get_or_create_application_instance(scope_id, scope_id) is not None
    ]
    await settle()
    server.stop.set()
    await asyncio.wait_for(running, 5)
    assert all(task.cancelled() for task in tasks)
    assert sorted(app.cancelled) == ["x", "y"]
    assert server.application_instances == {}


async def test_arun_propagates_a_handle_failure() -> None:
    class Failing(CollectingServer):
        async def handle(self) -> None:
            raise OSError("socket went away")

    with pytest.raises(OSError, match="socket went away"):
        await asyncio.wait_for(Failing(Recorder()).arun(), 5)


async def test_arun_propagates_a_failing_exception_report() -> None:
    class StrictServer(CollectingServer):
        async def application_exception(
            self, exception: BaseException, application_details: ApplicationDetails
        ) -> None:
            raise RuntimeError("report failed") from exception

    server = StrictServer(Recorder())
    running = asyncio.ensure_future(server.arun())
    await settle()
    server.get_or_create_application_instance("bad", "s").put_nowait("crash")
    with pytest.raises(RuntimeError, match="report failed"):
        await asyncio.wait_for(running, 5)


async def test_asgi2_application() -> None:
    def asgi2(scope: Any) -> Any:
        async def instance(receive: Any, send: Any) -> None:
            await send(("asgi2", scope, await receive()))

        return instance

    server = CollectingServer(asgi2)
    server.get_or_create_application_instance("k", "scope-k").put_nowait("ping")
    assert await asyncio.wait_for(server.sent.get(), 5) == ("scope-k", ("asgi2", "scope-k", "ping"))


async def test_unimplemented_methods_say_so() -> None:
    server = StatelessServer(Recorder())
    with pytest.raises(NotImplementedError, match="handle"):
        await server.handle()
    with pytest.raises(NotImplementedError, match="application_send"):
        await server.application_send({}, {})


def test_delete_oldest_on_empty_server_is_harmless() -> None:
    server = StatelessServer(Recorder())
    server.delete_oldest_application_instance()
    assert server.application_instances == {}


class FakeChannelLayer:
    """Just enough of a Channels channel layer: one queue per channel name."""

    def __init__(self) -> None:
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}

    def _queue(self, channel: str) -> asyncio.Queue[dict[str, Any]]:
        return self.queues.setdefault(channel, asyncio.Queue())

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._queue(channel).put(message)

    async def receive(self, channel: str) -> dict[str, Any]:
        return await self._queue(channel).get()


class ChannelWorker(StatelessServer):
    """A channel-layer worker, subclassing the base the way Channels' worker does.

    Overrides ``__init__`` (extra arguments), ``handle`` (one reader task per
    channel name) and ``application_send``; one instance per channel name.
    """

    def __init__(
        self,
        application: Any,
        channel_names: list[str],
        layer: FakeChannelLayer,
        max_applications: int = 1000,
    ) -> None:
        super().__init__(application, max_applications=max_applications)
        self.layer = layer
        self.channel_names = list(channel_names)

    async def handle(self) -> None:
        readers = [asyncio.ensure_future(self.read_channel(name)) for name in self.channel_names]
        await asyncio.wait(readers)
        for reader in readers:
            reader.result()  # a failed reader fails the worker

    async def read_channel(self, name: str) -> None:
        while (event := await self.layer.receive(name))["type"] != "stop":
            scope = {"type": "channel", "channel": name}
            await self.get_or_create_application_instance(name, scope).put(event)

    async def application_send(self, scope: Any, message: Any) -> None:
        await self.layer.send("replies", {"from": scope["channel"], **message})

    def instance_future(self, scope_id: Hashable) -> asyncio.Task[Any]:
        return self.application_instances[scope_id]["future"]


async def test_channels_style_worker_subclass() -> None:
    async def consumer(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            await send({"type": "reply", "text": message["text"].upper()})

    layer = FakeChannelLayer()
    worker = ChannelWorker(consumer, ["tasks", "emails"], layer, max_applications=5)
    running = asyncio.ensure_future(worker.arun())
    await layer.send("tasks", {"type": "task", "text": "resize"})
    await layer.send("emails", {"type": "email", "text": "welcome"})
    replies = [await asyncio.wait_for(layer.receive("replies"), 5) for _ in range(2)]
    assert sorted(r["text"] for r in replies) == ["RESIZE", "WELCOME"]
    assert {r["from"] for r in replies} == {"tasks", "emails"}
    assert not worker.instance_future("tasks").done()
    instances = [worker.instance_future(name) for name in ("tasks", "emails")]
    for name in worker.channel_names:
        await layer.send(name, {"type": "stop"})
    await asyncio.wait_for(running, 5)
    assert all(task.cancelled() for task in instances)


async def test_failure_of_an_evicted_instance_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def fails_when_cancelled(scope: Any, receive: Any, send: Any) -> None:
        try:
            await receive()
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    server = CollectingServer(fails_when_cancelled, max_applications=1)
    server.get_or_create_application_instance("old", "s-old")
    await settle()
    evicted = server.application_instances["old"]["future"]
    with caplog.at_level(logging.ERROR, logger="asgiref.server"):
        server.get_or_create_application_instance("new", "s-new")
        await asyncio.wait((evicted,), timeout=5)
        await settle()
    assert [r.getMessage() for r in caplog.records if "cleanup failed" in r.getMessage()]
    server.delete_application_instance("new")
    await settle()


async def test_instance_ignoring_cancellation_does_not_block_shutdown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn(scope: Any, receive: Any, send: Any) -> None:
        try:
            await receive()
        except asyncio.CancelledError:
            await release.wait()

    server = CollectingServer(stubborn)
    server._shutdown_grace = 0.05
    running = asyncio.ensure_future(server.arun())
    await settle()
    server.get_or_create_application_instance("stuck", "s")
    await settle()
    stuck = server.application_instances["stuck"]["future"]
    with caplog.at_level(logging.WARNING, logger="asgiref.server"):
        server.stop.set()
        await asyncio.wait_for(running, 5)
    assert server.application_instances == {}
    assert any("ignored cancellation" in r.getMessage() for r in caplog.records)
    release.set()
    await asyncio.wait((stuck,), timeout=5)
