"""wsgi.input: streaming request bodies, the size policy and disconnects."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from asgiref.wsgi import ClientDisconnected, RequestBodyTooLarge, WsgiToAsgi

pytestmark = pytest.mark.timeout(30)

StartResponse = Any
Environ = dict[str, Any]


def body_scope(scope_for: Any, length: int | None = None) -> dict[str, Any]:
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope: dict[str, Any] = scope_for(method="POST", headers=headers)
    return scope


def reply_with(start_response: StartResponse, data: bytes) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [data]


def _read_into(stream: Any, size: int) -> bytes:
    buffer = bytearray(size)
    return bytes(buffer[: stream.readinto(buffer)])


def _empty_reply_app() -> tuple[Callable[[Environ, StartResponse], Iterable[bytes]], list[bool]]:
    """An app answering 200 with no body, and the list it records each call in."""
    called: list[bool] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        called.append(True)
        return reply_with(start_response, b"")

    return app, called


@pytest.mark.parametrize(
    ("reader", "expected"),
    [
        (lambda f: f.read(), b"ab\ncd\nef"),
        (lambda f: f.read(-1), b"ab\ncd\nef"),
        (lambda f: f.read(None), b"ab\ncd\nef"),
        (lambda f: b"|".join([f.read(3), f.read(3), f.read(10), f.read(1)]), b"ab\n|cd\n|ef|"),
        (
            lambda f: b"|".join([f.readline(), f.readline(), f.readline(), f.readline()]),
            b"ab\n|cd\n|ef|",
        ),
        (lambda f: b"|".join([f.readline(1), f.readline(5)]), b"a|b\n"),
        (lambda f: b"|".join(f.readlines()), b"ab\n|cd\n|ef"),
        (lambda f: b"|".join(f.readlines(4)), b"ab\n|cd\n"),
        (lambda f: b"|".join(line for line in f), b"ab\n|cd\n|ef"),
        (
            lambda f: b"|".join([_read_into(f, 3), _read_into(f, 10), _read_into(f, 1)]),
            b"ab\n|cd\nef|",
        ),
        (lambda f: b"|".join([f.readline(), _read_into(f, 4), f.read()]), b"ab\n|cd\ne|f"),
    ],
)
@pytest.mark.parametrize("with_length", [True, False])
async def test_read_methods_across_chunk_boundaries(
    run_asgi: Any, scope_for: Any, reader: Any, expected: bytes, with_length: bool
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return reply_with(start_response, reader(environ["wsgi.input"]))

    chunks = [b"a", b"b\nc", b"", b"d\ne", b"f"]
    scope = body_scope(scope_for, 8 if with_length else None)
    reply = await run_asgi(WsgiToAsgi(app, body_buffer_size=0), scope, chunks)
    assert reply.body == expected


async def test_readinto(run_asgi: Any, scope_for: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        buffer = bytearray(4)
        count = environ["wsgi.input"].readinto(buffer)
        return reply_with(start_response, bytes(buffer[:count]))

    reply = await run_asgi(WsgiToAsgi(app), body_scope(scope_for), [b"xy", b"zw"])
    assert reply.body == b"xyzw"


async def test_read_stops_at_content_length(run_asgi: Any, scope_for: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        assert environ["CONTENT_LENGTH"] == "3"
        return reply_with(start_response, environ["wsgi.input"].read(100))

    # A sloppy server delivering more than declared must not leak it to the app.
    reply = await run_asgi(WsgiToAsgi(app), body_scope(scope_for, 3), [b"abcdef"])
    assert reply.body == b"abc"


async def test_body_without_length_reads_to_eof(run_asgi: Any, scope_for: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        assert "CONTENT_LENGTH" not in environ
        assert environ["wsgi.input_terminated"] is True
        return reply_with(start_response, environ["wsgi.input"].read())

    reply = await run_asgi(
        WsgiToAsgi(app, body_buffer_size=0), body_scope(scope_for), [b"x" * 1000] * 50
    )
    assert reply.body == b"x" * 50_000


async def test_app_starts_before_the_body_is_complete(exchange_for: Any, scope_for: Any) -> None:
    first_read = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        head = stream.read(5)
        first_read.set()
        return reply_with(start_response, head + b"+" + stream.read())

    exchange = exchange_for(WsgiToAsgi(app, body_buffer_size=0), body_scope(scope_for))
    exchange.push({"type": "http.request", "body": b"hello", "more_body": True})
    for _ in range(200):
        if first_read.is_set():
            break
        await asyncio.sleep(0.01)
    assert first_read.is_set(), "the app did not get the first chunk before the rest arrived"
    exchange.push({"type": "http.request", "body": b" world", "more_body": False})
    await exchange.finish()
    bodies = [m.get("body", b"") for m in exchange.drain()[1:]]
    assert b"".join(bodies) == b"hello+ world"


async def test_small_bodies_are_buffered_before_the_app_runs(
    exchange_for: Any, scope_for: Any
) -> None:
    called = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        called.set()
        return reply_with(start_response, environ["wsgi.input"].read())

    exchange = exchange_for(WsgiToAsgi(app, body_buffer_size=1024), body_scope(scope_for))
    exchange.push({"type": "http.request", "body": b"part1", "more_body": True})
    await asyncio.sleep(0.2)
    assert not called.is_set(), "app ran while a small body was still arriving"
    exchange.push({"type": "http.request", "body": b"part2", "more_body": False})
    await exchange.finish()
    assert called.is_set()
    assert b"".join(m.get("body", b"") for m in exchange.drain()[1:]) == b"part1part2"


async def test_read_ahead_is_bounded_when_the_app_does_not_read(
    exchange_for: Any, scope_for: Any
) -> None:
    release = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        release.wait(10)
        total = sum(len(chunk) for chunk in iter(lambda: environ["wsgi.input"].read(4096), b""))
        return reply_with(start_response, str(total).encode())

    adapter = WsgiToAsgi(app, body_buffer_size=0, stream_buffer_size=4096)
    exchange = exchange_for(adapter, body_scope(scope_for))
    for _ in range(100):
        exchange.push({"type": "http.request", "body": b"z" * 1024, "more_body": True})
    exchange.push({"type": "http.request", "body": b"", "more_body": False})
    await asyncio.sleep(0.2)
    # 4 KiB of buffer holds about four 1 KiB messages; the other ~96 stay with the server.
    assert exchange.receive_calls <= 8
    release.set()
    await exchange.finish()
    assert b"".join(m.get("body", b"") for m in exchange.drain()[1:]) == b"102400"


async def test_declared_length_over_limit_is_413_without_calling_app(
    run_asgi: Any, scope_for: Any
) -> None:
    app, called = _empty_reply_app()
    adapter = WsgiToAsgi(app, max_body_size=10)
    reply = await run_asgi(adapter, body_scope(scope_for, 11), [b"x" * 11])
    assert reply.status == 413
    assert not called
    reply = await run_asgi(adapter, body_scope(scope_for, 10), [b"x" * 10])
    assert reply.status == 200


async def test_undeclared_small_body_over_limit_is_413_without_calling_app(
    run_asgi: Any, scope_for: Any
) -> None:
    app, called = _empty_reply_app()
    adapter = WsgiToAsgi(app, max_body_size=10, body_buffer_size=1024)
    reply = await run_asgi(adapter, body_scope(scope_for), [b"x" * 6, b"x" * 6])
    assert reply.status == 413
    assert not called


async def test_undeclared_large_body_over_limit_fails_the_read(
    run_asgi: Any, scope_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[bytes] = []
    errors: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        try:
            while chunk := stream.read(100):
                seen.append(chunk)
        except RequestBodyTooLarge as error:
            errors.append(error)
            raise
        return reply_with(start_response, b"never")

    adapter = WsgiToAsgi(app, max_body_size=1000, body_buffer_size=0, stream_buffer_size=100)
    with caplog.at_level(logging.WARNING):
        reply = await run_asgi(adapter, body_scope(scope_for), [b"y" * 100] * 30)
    assert reply.status == 413
    assert errors
    assert sum(map(len, seen)) <= 1000, "the app saw more than the limit"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_disconnect_during_read_raises_oserror_in_app(
    exchange_for: Any, scope_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    raised: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError as error:
            raised.append(error)
            raise
        return reply_with(start_response, b"unreachable")

    exchange = exchange_for(WsgiToAsgi(app, body_buffer_size=0), body_scope(scope_for, 100))
    exchange.push({"type": "http.request", "body": b"partial", "more_body": True})
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.WARNING):
        exchange.push({"type": "http.disconnect"})
        await exchange.finish()
    assert raised
    assert isinstance(raised[0], ClientDisconnected)
    assert exchange.drain() == [], "nothing should be sent to a client that left"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_disconnect_before_app_starts_skips_the_app(
    exchange_for: Any, scope_for: Any
) -> None:
    app, called = _empty_reply_app()
    exchange = exchange_for(WsgiToAsgi(app), body_scope(scope_for, 100))
    exchange.push({"type": "http.request", "body": b"abc", "more_body": True})
    exchange.push({"type": "http.disconnect"})
    await exchange.finish()
    assert not called
    assert exchange.drain() == []


async def test_body_shorter_than_content_length_is_400(run_asgi: Any, scope_for: Any) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return reply_with(start_response, environ["wsgi.input"].read())

    reply = await run_asgi(WsgiToAsgi(app), body_scope(scope_for, 10), [b"short"])
    assert reply.status == 400
