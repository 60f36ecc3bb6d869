"""start_response, write(), headers, Content-Length, close() and file_wrapper."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from asgiref.wsgi import WsgiToAsgi

pytestmark = pytest.mark.timeout(30)

StartResponse = Any
Environ = dict[str, Any]


class TrackedBody:
    """A response iterable that records how it was consumed and closed."""

    def __init__(self, chunks: Iterable[bytes], fail_at: int | None = None) -> None:
        self._chunks = list(chunks)
        self._fail_at = fail_at
        self.handed_out = 0
        self.closed = 0
        self.closed_event = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self._chunks):
            if index == self._fail_at:
                raise RuntimeError("boom while iterating")
            self.handed_out += 1
            yield chunk

    def close(self) -> None:
        self.closed += 1
        self.closed_event.set()


def app_returning(body: TrackedBody, headers: list[tuple[str, str]] | None = None) -> Any:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", headers or [])
        return body

    return app


async def test_write_callable(run_asgi: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"from write, ")
        return [b"from iterable"]

    reply = await run_asgi(WsgiToAsgi(app))
    assert reply.status == 200
    assert reply.body == b"from write, from iterable"
    assert reply.headers == [(b"content-type", b"text/plain")]


async def test_body_before_start_response_is_an_error(run_asgi: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return [b"body before status"]

    reply = await run_asgi(WsgiToAsgi(app))
    assert reply.status == 500
    assert b"body before status" not in reply.body


async def test_headers_wait_for_first_nonempty_chunk(exchange_for: Any, scope_for: Any) -> None:
    gate = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b""
        gate.wait(5)
        yield b"data"

    exchange = exchange_for(WsgiToAsgi(app), scope_for())
    exchange.push({"type": "http.request"})
    await asyncio.sleep(0.2)
    assert exchange.drain() == [], "headers went out before any body byte"
    gate.set()
    await exchange.finish()
    messages = exchange.drain()
    assert messages[0]["type"] == "http.response.start"
    assert b"".join(m.get("body", b"") for m in messages[1:]) == b"data"


async def test_exc_info_replaces_headers_not_yet_sent(run_asgi: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "100"), ("X-A", "1")])
        try:
            raise ValueError("app failure")
        except ValueError:
            start_response("503 Service Unavailable", [("X-B", "2")], sys.exc_info())
        return [b"sorry"]

    reply = await run_asgi(WsgiToAsgi(app))
    assert reply.status == 503
    assert reply.headers == [(b"x-b", b"2")]
    assert reply.body == b"sorry"


async def test_exc_info_after_headers_sent_reraises(exchange_for: Any, scope_for: Any) -> None:
    reraised: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        try:
            raise KeyError("late failure")
        except KeyError:
            try:
                start_response("500 Oops", [], sys.exc_info())
            except KeyError as error:
                reraised.append(error)
                raise

    exchange = exchange_for(WsgiToAsgi(app), scope_for())
    exchange.push({"type": "http.request"})
    with pytest.raises(KeyError):
        await exchange.finish()
    assert reraised
    messages = exchange.drain()
    assert messages[0]["status"] == 200
    # No final "complete" message: the server must cut the connection.
    assert all(m.get("more_body") for m in messages[1:])


async def test_second_start_response_without_exc_info_is_error(run_asgi: Any) -> None:
    errors: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        try:
            start_response("201 Created", [])
        except RuntimeError as error:
            errors.append(error)
        return [b"first wins"]

    reply = await run_asgi(WsgiToAsgi(app))
    assert errors
    assert reply.status == 200


async def test_latin1_header_values_and_lowercased_names(run_asgi: Any) -> None:
    disposition = 'attachment; filename="caf\xe9.txt"'

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Disposition", disposition), ("X-Mixed-Case", "v")])
        return [b"x"]

    reply = await run_asgi(WsgiToAsgi(app))
    assert reply.headers == [
        (b"content-disposition", disposition.encode("latin-1")),
        (b"x-mixed-case", b"v"),
    ]


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        ("OK", []),
        ("2000 OK", []),
        (b"200 OK", []),
        ("200 OK", [("Bad Name", "v")]),
        ("200 OK", [("X-Injection", "a\r\nSet-Cookie: evil=1")]),
        ("200 OK", [("X-Emoji", "\U0001f600")]),
        ("200 OK", [("X-Bytes", b"v")]),
        ("200 OK", [("Only-Name",)]),
        ("200 OK", (("X-Tuple", "headers not a list"),)),
        ("200 OK", [("Content-Length", "ten")]),
    ],
)
async def test_malformed_status_or_header_is_500(
    run_asgi: Any, status: Any, headers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, headers)
        return [b"never sent"]

    with caplog.at_level(logging.ERROR, logger="asgiref.wsgi"):
        reply = await run_asgi(WsgiToAsgi(app))
    assert reply.status == 500
    assert b"never sent" not in reply.body
    logged = [r for r in caplog.records if r.name == "asgiref.wsgi"]
    assert logged
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], TypeError | ValueError)


async def test_status_without_reason_phrase(run_asgi: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("204", [])
        return []

    assert (await run_asgi(WsgiToAsgi(app))).status == 204


async def test_content_length_clamps_and_stops_iteration(run_asgi: Any) -> None:
    body = TrackedBody([b"0123", b"4567", b"89", b"never"])
    reply = await run_asgi(WsgiToAsgi(app_returning(body, [("Content-Length", "6")])))
    assert reply.body == b"012345"
    assert body.handed_out == 2, "iterated past the declared Content-Length"
    assert body.closed == 1


async def test_content_length_zero_never_iterates(run_asgi: Any) -> None:
    body = TrackedBody([b"never"])
    reply = await run_asgi(WsgiToAsgi(app_returning(body, [("Content-Length", "0")])))
    assert reply.body == b""
    assert body.handed_out == 0
    assert body.closed == 1


async def test_write_is_clamped_too(run_asgi: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Length", "3")])
        write(b"abcdef")
        return [b"ghi"]

    assert (await run_asgi(WsgiToAsgi(app))).body == b"abc"


async def test_close_called_once_on_normal_end(run_asgi: Any) -> None:
    body = TrackedBody([b"a", b"b"])
    reply = await run_asgi(WsgiToAsgi(app_returning(body)))
    assert reply.body == b"ab"
    assert body.closed == 1


async def test_close_called_once_when_iteration_raises(
    run_asgi: Any, caplog: pytest.LogCaptureFixture
) -> None:
    body = TrackedBody([b"a", b"b"], fail_at=0)
    with caplog.at_level(logging.ERROR, logger="asgiref.wsgi"):
        reply = await run_asgi(WsgiToAsgi(app_returning(body)))
    assert reply.status == 500
    assert reply.body == b"Internal Server Error"
    assert body.closed == 1
    assert any("boom while iterating" in str(r.exc_info) for r in caplog.records)


async def test_close_called_once_when_iteration_raises_after_headers(
    run_asgi: Any, exchange_for: Any, scope_for: Any
) -> None:
    body = TrackedBody([b"a", b"b"], fail_at=1)
    exchange = exchange_for(WsgiToAsgi(app_returning(body)), scope_for())
    exchange.push({"type": "http.request"})
    with pytest.raises(RuntimeError, match="boom"):
        await exchange.finish()
    assert body.closed == 1


async def test_exception_before_response_is_500_and_logged(
    run_asgi: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise ZeroDivisionError("bad math")

    with caplog.at_level(logging.ERROR, logger="asgiref.wsgi"):
        reply = await run_asgi(WsgiToAsgi(app))
    assert reply.status == 500
    assert reply.body == b"Internal Server Error"
    assert len(reply.body) < 100
    records = [r for r in caplog.records if r.exc_info]
    assert records
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], ZeroDivisionError)


async def test_app_that_never_calls_start_response_is_500(run_asgi: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return []

    assert (await run_asgi(WsgiToAsgi(app))).status == 500


async def test_str_chunk_is_500(run_asgi: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return ["text is not bytes"]  # type: ignore[list-item]  # the mistake under test

    assert (await run_asgi(WsgiToAsgi(app))).status == 500


async def test_disconnect_while_streaming_stops_and_closes(
    exchange_for: Any, scope_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    produced = 0
    closed: list[int] = []

    class Endless:
        def __iter__(self) -> Iterator[bytes]:
            nonlocal produced
            for _ in range(1_000_000):
                produced += 1
                yield b"x" * 1024

        def close(self) -> None:
            closed.append(threading.get_ident())

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return Endless()

    adapter = WsgiToAsgi(app, stream_buffer_size=8192)
    exchange = exchange_for(adapter, scope_for())
    exchange.push({"type": "http.request"})
    for _ in range(5):
        await exchange.pull()
    with caplog.at_level(logging.WARNING):
        exchange.push({"type": "http.disconnect"})
        # Keep taking output so the app is not blocked by backpressure alone.
        for _ in range(200):
            if exchange.task.done():
                break
            exchange.drain()
            await asyncio.sleep(0.01)
        await exchange.finish()
    assert len(closed) == 1
    assert produced < 1000, "kept iterating after the client left"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_send_raising_oserror_stops_and_closes(exchange_for: Any, scope_for: Any) -> None:
    body = TrackedBody([b"chunk"] * 10_000)
    exchange = exchange_for(WsgiToAsgi(app_returning(body), stream_buffer_size=1024), scope_for())
    exchange.send_error = ConnectionResetError("peer gone")
    exchange.push({"type": "http.request"})
    await exchange.finish()
    assert body.closed == 1
    assert body.handed_out < 10_000


async def test_slow_client_applies_backpressure(exchange_for: Any, scope_for: Any) -> None:
    body = TrackedBody([b"x" * 1000] * 1000)
    exchange = exchange_for(WsgiToAsgi(app_returning(body), stream_buffer_size=10_000), scope_for())
    exchange.outbound = asyncio.Queue(maxsize=5)  # a client that reads slowly
    exchange.push({"type": "http.request"})
    await asyncio.sleep(0.3)
    # Queue (5) + in-flight send + ~10 KB of buffer: far from all 1000 chunks.
    assert body.handed_out < 40
    received = 0
    while not (exchange.task.done() and exchange.outbound.empty()):
        message = await exchange.pull()
        received += len(message.get("body", b""))
    assert received == 1_000_000
    assert body.closed == 1


async def test_small_chunks_are_batched_per_thread_handoff(
    exchange_for: Any, scope_for: Any
) -> None:
    # Count how often the app thread wakes the event loop while 5,000 tiny
    # chunks go out: batching means far fewer wake-ups than chunks.
    loop = asyncio.get_running_loop()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        for _ in range(5000):
            yield b"."

    with mock.patch.object(
        loop, "call_soon_threadsafe", wraps=loop.call_soon_threadsafe
    ) as wakeups:
        exchange = exchange_for(WsgiToAsgi(app), scope_for())
        exchange.push({"type": "http.request"})
        await exchange.finish()
    messages = exchange.drain()
    assert b"".join(m.get("body", b"") for m in messages[1:]) == b"." * 5000
    assert wakeups.call_count < 2500, f"{wakeups.call_count} hand-offs for 5000 chunks"


async def test_file_wrapper_streams_without_pathsend(run_asgi: Any, tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"0123456789" * 10_000)
    opened: list[Any] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        handle = target.open("rb")
        opened.append(handle)
        return environ["wsgi.file_wrapper"](handle, 4096)  # type: ignore[no-any-return]

    reply = await run_asgi(WsgiToAsgi(app))
    assert reply.body == target.read_bytes()
    assert opened[0].closed
    assert not any(m["type"] == "http.response.pathsend" for m in reply.messages)


async def test_file_wrapper_uses_pathsend_when_advertised(
    exchange_for: Any, scope_for: Any, tmp_path: Path
) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"abc" * 1000)
    opened: list[Any] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "3000")])
        handle = target.open("rb")
        opened.append(handle)
        return environ["wsgi.file_wrapper"](handle)  # type: ignore[no-any-return]

    scope = scope_for(extensions={"http.response.pathsend": {}})
    exchange = exchange_for(WsgiToAsgi(app), scope)
    exchange.push({"type": "http.request"})
    await exchange.finish()
    # pathsend ends the response by itself: nothing may follow it.
    messages = exchange.drain()
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.pathsend"]
    assert messages[1]["path"] == str(target)
    assert opened[0].closed


async def test_file_wrapper_partial_file_is_streamed_even_with_pathsend(
    scope_for: Any, run_asgi: Any, tmp_path: Path
) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"0123456789")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        handle = target.open("rb")
        handle.seek(4)
        return environ["wsgi.file_wrapper"](handle)  # type: ignore[no-any-return]

    scope = scope_for(extensions={"http.response.pathsend": {}})
    reply = await run_asgi(WsgiToAsgi(app), scope)
    assert reply.body == b"456789"


async def test_file_wrapper_uses_zerocopysend_when_advertised(
    scope_for: Any, tmp_path: Path
) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"0123456789")
    opened: list[Any] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "4")])
        handle = target.open("rb")
        handle.seek(3)
        opened.append(handle)
        return environ["wsgi.file_wrapper"](handle)  # type: ignore[no-any-return]

    scope = scope_for(extensions={"http.response.zerocopysend": {}})
    inbound: asyncio.Queue[Any] = asyncio.Queue()
    inbound.put_nowait({"type": "http.request"})
    sent: list[Any] = []
    open_while_sending: list[bool] = []

    async def slow_server_send(message: Any) -> None:
        sent.append(message)
        if message["type"] == "http.response.zerocopysend":
            # The descriptor must stay open for as long as the server sends it.
            await asyncio.sleep(0.2)
            open_while_sending.append(not message["file"].closed)

    await asyncio.wait_for(WsgiToAsgi(app)(scope, inbound.get, slow_server_send), 10)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.zerocopysend"]
    zero_copy = sent[1]
    assert (zero_copy["offset"], zero_copy["count"]) == (3, 4)
    assert zero_copy["file"] is opened[0]
    assert open_while_sending == [True]
    assert opened[0].closed


async def test_file_wrapper_without_a_real_file_streams(run_asgi: Any, scope_for: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"in memory"), 2)  # type: ignore[no-any-return]

    extensions: dict[str, Any] = {"http.response.pathsend": {}, "http.response.zerocopysend": {}}
    reply = await run_asgi(WsgiToAsgi(app), scope_for(extensions=extensions))
    assert reply.body == b"in memory"


async def test_close_failing_after_client_left_is_logged_not_raised(
    exchange_for: Any, scope_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenClose:
        def __iter__(self) -> Iterator[bytes]:
            for _ in range(100_000):
                yield b"x" * 1024

        def close(self) -> None:
            raise ValueError("cleanup bug")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return BrokenClose()

    exchange = exchange_for(WsgiToAsgi(app, stream_buffer_size=4096), scope_for())
    exchange.push({"type": "http.request"})
    await exchange.pull()
    with caplog.at_level(logging.ERROR, logger="asgiref.wsgi"):
        exchange.push({"type": "http.disconnect"})
        for _ in range(500):
            if exchange.task.done():
                break
            exchange.drain()
            await asyncio.sleep(0.01)
        await exchange.finish()
    logged = [r for r in caplog.records if r.exc_info]
    assert logged
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], ValueError)


async def test_cancelled_request_releases_the_app_thread(exchange_for: Any, scope_for: Any) -> None:
    outcome: list[BaseException] = []
    done = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError as error:
            outcome.append(error)
        finally:
            done.set()
        start_response("200 OK", [])
        return []

    scope = scope_for(method="POST", headers=[(b"content-length", b"100")])
    exchange = exchange_for(WsgiToAsgi(app, body_buffer_size=0), scope)
    exchange.push({"type": "http.request", "body": b"x", "more_body": True})
    await asyncio.sleep(0.1)
    exchange.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await exchange.task
    assert await asyncio.get_running_loop().run_in_executor(None, done.wait, 5)
    assert outcome
