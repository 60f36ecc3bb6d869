"""Hostile requests end in a clear 4xx (or a documented environ value), quickly,
without the app seeing a malformed environ and without internal-error logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def no_error_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with caplog.at_level(logging.DEBUG):
        yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


class Recorder:
    def __init__(self) -> None:
        self.environs: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.environs.append(environ)
        start_response("200 OK", [])
        return [b"ok"]


async def reject(
    run_asgi: Any, scope_for: Any, headers: list[Any], **options: Any
) -> tuple[Any, Recorder, float]:
    app = Recorder()
    started = time.monotonic()
    reply = await run_asgi(WsgiToAsgi(app, **options), scope_for(headers=headers))
    return reply, app, time.monotonic() - started


@pytest.mark.usefixtures("no_error_logs")
async def test_hundred_thousand_headers_is_431(run_asgi: Any, scope_for: Any) -> None:
    headers = [(f"x-h{i}".encode(), b"v") for i in range(100_000)]
    reply, app, elapsed = await reject(run_asgi, scope_for, headers)
    assert reply.status == 431
    assert not app.environs
    assert elapsed < 2


@pytest.mark.usefixtures("no_error_logs")
async def test_hundred_thousand_headers_without_caps_is_linear(
    run_asgi: Any, scope_for: Any
) -> None:
    # With every cap lifted the environ is the documented value: one key per
    # name and duplicates joined, built in one pass.
    distinct = [(f"x-h{i}".encode(), b"v") for i in range(100_000)]
    same = [(b"x-same", b"v")] * 100_000
    timings = []
    for headers in (distinct[:10_000], distinct, same):
        reply, app, elapsed = await reject(
            run_asgi, scope_for, headers, max_headers=None, duplicate_header_limit=None
        )
        assert reply.status == 200
        timings.append(elapsed)
    environ = app.environs[0]
    assert environ["HTTP_X_SAME"] == ",".join(["v"] * 100_000)
    assert timings[1] < 5, timings
    assert timings[2] < 5, timings


@pytest.mark.usefixtures("no_error_logs")
async def test_many_duplicates_is_400_without_calling_app(run_asgi: Any, scope_for: Any) -> None:
    reply, app, elapsed = await reject(run_asgi, scope_for, [(b"x-dup", b"v")] * 50_000)
    assert reply.status == 400
    assert reply.body == b"Bad Request: Too many duplicate headers"
    assert not app.environs
    assert elapsed < 2


@pytest.mark.usefixtures("no_error_logs")
async def test_duplicates_up_to_the_limit_are_joined(run_asgi: Any, scope_for: Any) -> None:
    reply, app, _ = await reject(run_asgi, scope_for, [(b"x-dup", b"v")] * 100)
    assert reply.status == 200
    assert app.environs[0]["HTTP_X_DUP"] == ",".join(["v"] * 100)
    reply, app, _ = await reject(run_asgi, scope_for, [(b"x-dup", b"v")] * 101)
    assert reply.status == 400


@pytest.mark.usefixtures("no_error_logs")
async def test_underscore_names_cannot_spoof(run_asgi: Any, scope_for: Any) -> None:
    headers = [(b"x_forwarded_for", b"6.6.6.6")] * 500 + [(b"x-forwarded-for", b"10.0.0.1")]
    reply, app, _ = await reject(run_asgi, scope_for, headers)
    assert reply.status == 200
    assert app.environs[0]["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"


@pytest.mark.usefixtures("no_error_logs")
async def test_non_latin1_bytes_are_documented_latin1(run_asgi: Any, scope_for: Any) -> None:
    raw = "\u2603 snow".encode() + b"\xff\xfe"
    reply, app, _ = await reject(run_asgi, scope_for, [(b"x-weird", raw)])
    assert reply.status == 200
    assert app.environs[0]["HTTP_X_WEIRD"].encode("latin-1") == raw


@pytest.mark.usefixtures("no_error_logs")
@pytest.mark.parametrize(
    "header",
    [
        (b"bad name", b"v"),
        (b"x-\xffname", b"v"),
        (b"", b"v"),
        (b"x-a", b"line\r\nbreak"),
        (b"x-a", b"nul\x00"),
        (b"content-length", b"-1"),
        (b"content-length", b"abc"),
        (b"content-length", b"1e3"),
        (b"content-length", b"99999999999999999999999"),
        (b"content-length", b"5, 6"),
        (b"content-length", "\u0661".encode()),
    ],
)
async def test_malformed_headers_are_400(
    run_asgi: Any, scope_for: Any, header: tuple[bytes, bytes]
) -> None:
    reply, app, _ = await reject(run_asgi, scope_for, [header])
    assert reply.status == 400
    assert not app.environs
    if header[0] == b"content-length":
        # Where the body ends is unknown: the connection must not be reused.
        assert reply.header(b"connection") == b"close"


@pytest.mark.usefixtures("no_error_logs")
@pytest.mark.parametrize(
    ("values", "status", "seen"), [((b"5", b"6"), 400, None), ((b"0", b"0"), 200, "0")]
)
async def test_repeated_content_lengths(
    run_asgi: Any, scope_for: Any, values: tuple[bytes, bytes], status: int, seen: str | None
) -> None:
    # Different values -> 400 without the app, and the connection is not reused
    # (where the body ends is unknown); equal values reach it as one.
    headers = [(b"content-length", value) for value in values]
    reply, app, _ = await reject(run_asgi, scope_for, headers)
    assert reply.status == status
    assert reply.header(b"connection") == (b"close" if status == 400 else None)
    assert [environ["CONTENT_LENGTH"] for environ in app.environs] == ([seen] if seen else [])


@pytest.mark.usefixtures("no_error_logs")
@pytest.mark.parametrize("coding", [b"chunked", b"gzip, chunked", b"identity"])
@pytest.mark.parametrize("first", ["content-length", "transfer-encoding"])
async def test_content_length_with_transfer_encoding_is_400(
    run_asgi: Any, scope_for: Any, coding: bytes, first: str
) -> None:
    # RFC 9112 6.1: the request-smuggling shape. The app never sees a length
    # that contradicts the framing, and the connection is not reused.
    headers = [(b"content-length", b"4"), (b"transfer-encoding", coding)]
    if first == "transfer-encoding":
        headers.reverse()
    reply, app, _ = await reject(run_asgi, scope_for, headers)
    assert reply.status == 400
    assert reply.body == b"Bad Request: Content-Length with Transfer-Encoding"
    assert reply.header(b"connection") == b"close"
    assert not app.environs


@pytest.mark.usefixtures("no_error_logs")
async def test_absurd_length_over_limit_is_413(run_asgi: Any, scope_for: Any) -> None:
    reply, app, _ = await reject(
        run_asgi, scope_for, [(b"content-length", b"9" * 19)], max_body_size=1 << 20
    )
    assert reply.status == 413
    assert not app.environs


@pytest.mark.usefixtures("no_error_logs")
async def test_body_over_limit_is_413(run_asgi: Any, scope_for: Any) -> None:
    app = Recorder()
    adapter = WsgiToAsgi(app, max_body_size=1000)
    scope = scope_for(method="POST", headers=[(b"transfer-encoding", b"chunked")])
    reply = await run_asgi(adapter, scope, [b"a" * 600, b"a" * 600])
    assert reply.status == 413
    assert not app.environs


def test_build_environ_linear_in_header_count(scope_for: Any) -> None:
    instance = WsgiToAsgiInstance(None, duplicate_header_limit=None, max_headers=None)
    small = scope_for(headers=[(b"cookie", b"a=1")] * 20_000)
    large = scope_for(headers=[(b"cookie", b"a=1")] * 200_000)
    started = time.perf_counter()
    instance.build_environ(small, None)
    small_time = time.perf_counter() - started
    started = time.perf_counter()
    environ = instance.build_environ(large, None)
    large_time = time.perf_counter() - started
    assert environ["HTTP_COOKIE"].count("; ") == 199_999
    # 10x the input; quadratic would be ~100x. Very generous for a noisy machine.
    assert large_time < max(small_time * 40, 1.0), (small_time, large_time)
