"""AsgiToWsgi in process: the WSGI app is called with hand-built environs.

Body and response streaming, back-pressure, pathsend, errors before and after
the response started, timeouts, early close by the server, and concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
import time
import wsgiref.util
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from asgiref.wsgi import AsgiToWsgi

pytestmark = pytest.mark.timeout(30)

App = Callable[[Any, Any, Any], Awaitable[None]]


def make_environ(body: bytes = b"", **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {"wsgi.input": io.BytesIO(body), **extra}
    if body:
        environ.setdefault("REQUEST_METHOD", "POST")
        environ.setdefault("CONTENT_LENGTH", str(len(body)))
    wsgiref.util.setup_testing_defaults(environ)
    return environ


@dataclass
class Served:
    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    result: Iterable[bytes] = ()

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        self.status, self.headers = status, headers
        return lambda data: None

    def body(self) -> bytes:
        try:
            return b"".join(self.result)
        finally:
            getattr(self.result, "close", lambda: None)()


def serve(adapter: AsgiToWsgi, environ: dict[str, Any] | None = None) -> Served:
    served = Served()
    served.result = adapter(environ or make_environ(), served.start_response)
    return served


async def respond(send: Any, body: bytes = b"ok", status: int = 200) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def until(flag: threading.Event, seconds: float = 10.0) -> None:
    """Wait on the adapter's loop for a flag the test thread sets (bounded)."""
    deadline = time.monotonic() + seconds
    while not flag.is_set():
        assert time.monotonic() < deadline, "the test never set the flag"
        await asyncio.sleep(0.005)


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def without_lifespan(http: App) -> AsgiToWsgi:
    return AsgiToWsgi(http, lifespan="off")


# ---------------------------------------------------------------- request body


class RecordingInput(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.sizes: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.sizes.append(-1 if size is None else size)
        return super().read(size)


def test_body_reaches_the_app_in_bounded_chunks_read_on_demand() -> None:
    payload = bytes(range(256)) * 4000  # about 1 MB
    seen: list[tuple[int, bool]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received = b""
        while True:
            message = await receive()
            seen.append((len(message["body"]), message["more_body"]))
            received += message["body"]
            if not message["more_body"]:
                break
        await respond(send, received)

    stream = RecordingInput(payload)
    served = serve(
        AsgiToWsgi(app, lifespan="off", body_chunk_size=10_000),
        make_environ(payload, **{"wsgi.input": stream}),
    )
    assert served.body() == payload
    assert max(stream.sizes) <= 10_000
    assert -1 not in stream.sizes
    assert all(size <= 10_000 for size, _ in seen)
    assert [more for _, more in seen] == [True] * (len(seen) - 1) + [False]


def test_body_is_not_read_before_the_app_asks() -> None:
    stream = RecordingInput(b"x" * 1000)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await respond(send)

    served = serve(without_lifespan(app), make_environ(b"x" * 1000, **{"wsgi.input": stream}))
    assert served.body() == b"ok"
    assert stream.sizes == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [({}, b""), ({"wsgi.input_terminated": True}, b"chunked body")],
    ids=["no-length-means-empty", "input-terminated-reads-to-eof"],
)
def test_body_without_content_length(extra: dict[str, Any], expected: bytes) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        received = b""
        while True:
            message = await receive()
            received += message["body"]
            if not message["more_body"]:
                break
        await respond(send, received)

    environ = make_environ(**{"wsgi.input": io.BytesIO(b"chunked body"), **extra})
    assert serve(AsgiToWsgi(app, lifespan="off", body_chunk_size=4), environ).body() == expected


class BrokenInput(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise ConnectionResetError("client went away")


@pytest.mark.parametrize(
    ("stream", "first"),
    [(BrokenInput(), "http.disconnect"), (io.BytesIO(b"short"), "http.request")],
    ids=["raises", "ends-before-content-length"],
)
def test_client_gone_while_reading_the_body_is_a_disconnect(
    stream: Any, first: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((await receive())["type"])
        seen.append((await receive())["type"])  # stays a disconnect, never hangs
        try:
            await respond(send)
        except OSError:
            seen.append("send raised OSError")

    environ = make_environ(b"x" * 100, **{"wsgi.input": stream})
    with caplog.at_level(logging.WARNING, "asgiref.wsgi"):
        serve(without_lifespan(app), environ).body()
    assert seen == [first, "http.disconnect", "send raised OSError"]
    assert not caplog.records  # a client that left is not an error of the app


def test_disconnect_comes_once_the_response_is_over() -> None:
    after: list[str] = []
    asked = threading.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        await respond(send)
        asked.set()
        after.append((await receive())["type"])

    served = serve(without_lifespan(app))
    assert list(served.result) == [b"ok"]
    asked.wait(5)
    time.sleep(0.1)
    assert after == []  # the server has not closed the response yet
    served.result.close()  # type: ignore[attr-defined]
    wait_for(lambda: after == ["http.disconnect"])


# ---------------------------------------------------------------- response


def test_status_reason_and_headers() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [
            (b"content-type", b"text/plain"),
            (b"x-caf\xe9", b"na\xefve"),
            (b"connection", b"close"),  # hop-by-hop: the WSGI server's business
            (b"transfer-encoding", b"chunked"),
        ]
        await send({"type": "http.response.start", "status": 418, "headers": headers})
        await send({"type": "http.response.body", "body": b"tea"})

    served = serve(without_lifespan(app))
    assert served.body() == b"tea"
    assert served.status == "418 I'm a Teapot"
    assert served.headers == [("content-type", "text/plain"), ("x-caf\xe9", "na\xefve")]


def test_unknown_status_still_has_a_reason() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await respond(send, status=599)

    served = serve(without_lifespan(app))
    served.body()
    assert served.status == "599 Unknown"


@pytest.mark.parametrize(
    "start",
    [
        {"type": "http.response.start", "status": "200"},
        {"type": "http.response.start", "status": 200, "headers": [("a", "b")]},
        {"type": "http.response.start", "status": 200, "headers": [(b"a", b"b\r\nx: y")]},
        {"type": "http.response.start", "status": 200, "headers": [(b"a", b"b\x00c")]},
        {"type": "http.response.start", "status": 200, "headers": [(b"a", b"b\x7f")]},
        {"type": "http.response.start", "status": 200, "headers": [(b"a b", b"c")]},
        {"type": "http.response.start", "status": 200, "headers": [(b"a\tb", b"c")]},
    ],
    ids=[
        "status-str",
        "headers-str",
        "header-injection",
        "nul",
        "del",
        "space-in-name",
        "tab-in-name",
    ],
)
def test_invalid_start_raises_in_the_app_and_is_a_500(
    start: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[BaseException] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await send(start)
        except (TypeError, ValueError) as error:
            errors.append(error)
            raise

    served = serve(without_lifespan(app))
    assert served.body() == b"Internal Server Error"
    assert served.status.startswith("500 ")
    assert len(errors) == 1


def test_whole_response_is_a_one_item_list() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await respond(send, b"hello")

    served = serve(without_lifespan(app))
    assert isinstance(served.result, list)
    assert served.result == [b"hello"]


def test_each_chunk_reaches_the_server_while_the_app_still_runs() -> None:
    release = threading.Event()
    finished = threading.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"event: 1\n\n", "more_body": True})
        await until(release)
        await send({"type": "http.response.body", "body": b"event: 2\n\n"})
        finished.set()

    served = serve(without_lifespan(app))
    chunks = iter(served.result)
    assert next(chunks) == b"event: 1\n\n"
    assert not finished.is_set()
    release.set()
    assert list(chunks) == [b"event: 2\n\n"]
    served.result.close()  # type: ignore[attr-defined]


def test_send_waits_while_the_server_has_not_taken_the_chunks() -> None:
    sent: list[int] = []
    chunk = b"x" * 4096

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for number in range(200):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent.append(number)
        await send({"type": "http.response.body", "body": b""})

    served = serve(AsgiToWsgi(app, lifespan="off", response_buffer_size=16_384))
    chunks = iter(served.result)
    taken = len(next(chunks)) // len(chunk)  # chunks already sent may come as one
    time.sleep(0.3)  # plenty for an unthrottled app to send all 200 chunks
    assert len(sent) <= taken + 16_384 // len(chunk) + 1
    rest = b"".join(chunks)
    served.result.close()  # type: ignore[attr-defined]
    assert taken * len(chunk) + len(rest) == 200 * len(chunk)
    assert len(sent) == 200


def test_pathsend_becomes_the_servers_file_wrapper(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"0123456789" * 10_000)
    scopes: list[Any] = []
    done = threading.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": str(target)})
        done.set()

    environ = make_environ()
    environ["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    served = serve(without_lifespan(app), environ)
    assert isinstance(served.result, wsgiref.util.FileWrapper)
    assert served.body() == target.read_bytes()
    assert done.wait(5)  # send() returned once the server closed the file
    assert "http.response.pathsend" in scopes[0]["extensions"]


def test_pathsend_without_file_wrapper_is_streamed_and_not_advertised(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"abc" * 100_000)
    scopes: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"head", "more_body": True})
        await send({"type": "http.response.pathsend", "path": str(target)})

    served = serve(without_lifespan(app))
    assert served.body() == b"head" + target.read_bytes()
    assert "http.response.pathsend" not in scopes[0]["extensions"]


# ---------------------------------------------------------------- errors


def test_exception_before_start_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("boom before start")

    with caplog.at_level(logging.ERROR, "asgiref.wsgi"):
        served = serve(without_lifespan(app))
        assert served.body() == b"Internal Server Error"
    assert served.status == "500 Internal Server Error"
    records = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], LookupError)]
    assert len(records) == 1


def test_return_without_a_response_is_a_500(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    with caplog.at_level(logging.ERROR, "asgiref.wsgi"):
        served = serve(without_lifespan(app))
        assert served.body() == b"Internal Server Error"
    assert "without starting a response" in caplog.text


def test_exception_after_start_aborts_the_response() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise LookupError("boom after start")

    served = serve(without_lifespan(app))
    chunks = iter(served.result)
    assert next(chunks) == b"partial"
    with pytest.raises(LookupError, match="boom after start"):
        next(chunks)
    served.result.close()  # type: ignore[attr-defined]


def test_incomplete_response_aborts() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})

    served = serve(without_lifespan(app))
    with pytest.raises(RuntimeError, match="without completing"):
        served.body()


def test_second_start_and_send_after_the_end_raise_in_the_app() -> None:
    errors: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await send({"type": "http.response.start", "status": 500, "headers": []})
        except RuntimeError as error:
            errors.append(str(error))
        await send({"type": "http.response.body", "body": b"fine"})
        for late in (
            {"type": "http.response.body", "body": b"more"},
            {"type": "http.response.start", "status": 200},
        ):
            try:
                await send(late)
            except RuntimeError as error:
                errors.append(str(error))

    served = serve(without_lifespan(app))
    assert served.body() == b"fine"
    assert served.status == "200 OK"
    wait_for(lambda: len(errors) == 3)
    assert "twice" in errors[0]
    assert "after the response completed" in errors[1]


def test_an_app_that_never_sends_is_cancelled_and_answered_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancelled = threading.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    began = time.monotonic()
    with caplog.at_level(logging.ERROR, "asgiref.wsgi"):
        served = serve(AsgiToWsgi(app, lifespan="off", message_timeout=0.3))
    assert served.body() == b"Internal Server Error"
    assert time.monotonic() - began < 5  # measured about 0.3 s
    assert cancelled.wait(5)
    assert "did not start its response in time" in caplog.text


def test_an_app_that_stalls_mid_response_is_aborted() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await asyncio.sleep(60)

    served = serve(AsgiToWsgi(app, lifespan="off", message_timeout=0.3))
    chunks = iter(served.result)
    assert next(chunks) == b"a"
    with pytest.raises(TimeoutError):
        next(chunks)
    served.result.close()  # type: ignore[attr-defined]


# ---------------------------------------------------------------- early close


def _endless_events(cleaned: threading.Event, seen: list[str]) -> App:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for number in range(10_000):
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"data: %d\n\n" % number,
                        "more_body": True,
                    }
                )
                await asyncio.sleep(0.01)
        except OSError:
            seen.append((await receive())["type"])
        finally:
            cleaned.set()

    return app


def test_early_close_tells_the_app_and_runs_its_cleanup() -> None:
    cleaned = threading.Event()
    seen: list[str] = []
    served = serve(without_lifespan(_endless_events(cleaned, seen)))
    chunks = iter(served.result)
    assert next(chunks).startswith(b"data: ")
    began = time.monotonic()
    served.result.close()  # type: ignore[attr-defined]
    assert time.monotonic() - began < 0.5  # close() never waits on the app
    assert cleaned.wait(5)
    assert seen == ["http.disconnect"]


def test_an_app_that_ignores_the_disconnect_is_cancelled_after_the_grace() -> None:
    cancelled_after: list[float] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        began = time.monotonic()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled_after.append(time.monotonic() - began)
            raise

    served = serve(AsgiToWsgi(app, lifespan="off", disconnect_grace=0.5))
    assert next(iter(served.result)) == b"a"
    served.result.close()  # type: ignore[attr-defined]
    wait_for(lambda: bool(cancelled_after))
    assert 0.4 <= cancelled_after[0] < 5


def test_an_app_that_ignores_cancellation_holds_neither_the_thread_nor_other_requests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stubborn_ended = threading.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/fast":
            await respond(send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # bounded, so the test leaves nothing behind
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.05)
        stubborn_ended.set()

    adapter = AsgiToWsgi(app, lifespan="off", disconnect_grace=0.2)
    with caplog.at_level(logging.WARNING, "asgiref.wsgi"):
        served = serve(adapter)
        assert next(iter(served.result)) == b"a"
        began = time.monotonic()
        served.result.close()  # type: ignore[attr-defined]
        assert serve(adapter, make_environ(PATH_INFO="/fast")).body() == b"ok"
        assert time.monotonic() - began < 1
        wait_for(lambda: "ignored cancellation" in caplog.text)
        assert stubborn_ended.wait(10)


# ---------------------------------------------------------------- concurrency


def test_many_threads_share_one_loop_and_a_slow_request_blocks_none() -> None:
    loops: set[int] = set()
    threads: set[int] = set()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        loops.add(id(asyncio.get_running_loop()))
        threads.add(threading.get_ident())
        await asyncio.sleep(0.3 if scope["path"] == "/slow" else 0)
        await respond(send, scope["path"].encode())

    adapter = without_lifespan(app)
    began = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        paths = ["/slow"] * 24 + [f"/fast{n}" for n in range(8)]
        bodies = list(
            pool.map(lambda path: serve(adapter, make_environ(PATH_INFO=path)).body(), paths)
        )
    assert bodies == [path.encode() for path in paths]
    # One after the other, the slow ones alone take 7.2 s; measured about 0.4 s.
    assert time.monotonic() - began < 3
    assert len(loops) == 1
    assert len(threads) == 1
