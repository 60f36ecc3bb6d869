"""Adversarial suite: raw-socket clients try to break the promises of the README.

Every test names, in its docstring, the README sentence it attacks. The clients
speak HTTP/1.1 by hand to uvicorn (h11 and httptools parsers) and hypercorn on
127.0.0.1, so they can do what well-behaved clients never do: stop half-way
through the headers or the body, pipeline, send contradicting framing, leave at
any moment. The servers run in subprocesses, which lets the tests count their
threads, open files and memory before and after.

A few README promises depend on scope shapes a raw client cannot produce
through these servers; they are attacked in process instead:
`SCRIPT_NAME`/`PATH_INFO` at a segment boundary and unix-socket `SERVER_NAME`
(test_wsgi_environ.py), every `wsgi.input` read method (test_wsgi_input.py),
`pathsend`/`zerocopysend` (test_wsgi_response.py), waiting threads of your own
`executor` and reading while streaming (test_wsgi_clients.py). That
`from asgiref.wsgi import WsgiToAsgi` works from either distribution is a
packaging promise, checked by the repository's tests/test_isolated_installs.py.
Of the environ details, `asgi.scope` and `wsgi.errors` are checked in
test_wsgi_environ.py; the rows of the options table each have a test here
(named in its docstring) or in test_wsgi_hostile.py / test_wsgi_input.py.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)

SERVERS = ["uvicorn-h11", "uvicorn-httptools", "hypercorn"]
SHORT_TIMEOUT_APP = "wsgi_server_apps:short_timeout_application"
MIB = 1 << 20


# -- a raw HTTP/1.1 client ---------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    # The framing said where the body ends, and all of it arrived.
    complete: bool


class RawClient:
    """One connection; reads responses one after another (pipelining works)."""

    def __init__(self, port: int, timeout: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            return False
        self._buffer += data
        return bool(data)

    def _until(self, marker: bytes) -> bytes | None:
        while marker not in self._buffer:
            if not self._fill():
                return None
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _exactly(self, count: int) -> bytes | None:
        while len(self._buffer) < count:
            if not self._fill():
                return None
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def response(self, *, head_request: bool = False) -> RawResponse:
        head = self._until(b"\r\n\r\n")
        if head is None:
            raise ConnectionError("the server closed without a response")
        status_line, *lines = head.split(b"\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        if head_request or status in (204, 304) or 100 <= status < 200:
            return RawResponse(status, headers, b"", True)
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            return self._chunked(status, headers)
        if b"content-length" in headers:
            length = int(headers[b"content-length"])
            body = self._exactly(length)
            if body is None:
                return RawResponse(status, headers, self._take_rest(), False)
            return RawResponse(status, headers, body, True)
        while self._fill():
            pass
        return RawResponse(status, headers, self._take_rest(), True)

    def _chunked(self, status: int, headers: dict[bytes, bytes]) -> RawResponse:
        parts: list[bytes] = []
        while True:
            size_line = self._until(b"\r\n")
            if size_line is None:
                return RawResponse(status, headers, b"".join(parts) + self._take_rest(), False)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                trailer_end = self._until(b"\r\n")
                return RawResponse(status, headers, b"".join(parts), trailer_end is not None)
            chunk = self._exactly(size + 2)
            if chunk is None:
                return RawResponse(status, headers, b"".join(parts) + self._take_rest(), False)
            parts.append(chunk[:-2])

    def _take_rest(self) -> bytes:
        rest, self._buffer = self._buffer, b""
        return rest

    def closed_by_server(self, timeout: float = 5) -> bool:
        """True if the server closes the connection within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            while data := self.sock.recv(65536):
                self._buffer += data
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        return True


@contextlib.contextmanager
def raw_client(port: int, timeout: float = 10) -> Iterator[RawClient]:
    client = RawClient(port, timeout)
    try:
        yield client
    finally:
        client.close()


def request(method: str, target: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: test"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def get(port: int, target: str = "/hello", timeout: float = 10) -> RawResponse:
    with raw_client(port, timeout) as client:
        client.send(request("GET", target, {"Connection": "close"}))
        return client.response()


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> float:
    """Seconds until ``condition()`` held; raises if it did not within ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - started


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, server_for: Callable[..., Any]) -> Any:
    return server_for(request.param).mark_log()


@pytest.fixture(params=SERVERS)
def short_timeout_server(request: pytest.FixtureRequest, server_for: Callable[..., Any]) -> Any:
    return server_for(request.param, SHORT_TIMEOUT_APP).mark_log()


def server_is_healthy(server: Any, *, app_errors_expected: bool = False) -> None:
    """It still answers, and this test made it log no error (but the app's own, if expected)."""
    response = get(server.port)
    assert (response.status, response.body) == (200, b"hello")
    logged = server.new_output()
    assert "Exception in ASGI application" not in logged
    assert app_errors_expected or "Exception in WSGI application" not in logged


# -- stalled bodies ----------------------------------------------------------


def test_stalled_uploads_never_starve_other_requests(server: Any) -> None:
    """README: "While a thread waits on its client it does not count toward `max_workers`:
    any number of stalled uploads ... leave the other requests answered at once";
    `body_buffer_size`: "bodies up to this size are received completely before the app
    starts, so a slow client does not hold a pool thread"; "idle threads beyond
    `max_workers` end".

    200 uploads (more than max_workers=32) stall, half before the app starts (a few
    bytes sent), half inside the app's read (100 KiB of 10 MiB sent); a GET is
    answered within a second, and once the stalled clients leave, the server is
    back to its thread count.
    """
    server_is_healthy(server)
    baseline_threads = server.threads()
    stalled: list[RawClient] = []
    try:
        for number in range(200):
            client = RawClient(server.port)
            stalled.append(client)
            if number % 2:
                client.send(request("POST", "/upload", {"Content-Length": str(10 * MIB)}))
                client.send(b"x" * 100_000)
            else:
                client.send(request("POST", "/upload", {"Content-Length": "1000"}) + b"x" * 10)
        time.sleep(1.0)  # the server reads what was sent and starts the apps
        started = time.monotonic()
        response = get(server.port, timeout=5)
        elapsed = time.monotonic() - started
        assert response.status == 200
        assert elapsed < 1.0, f"a GET waited {elapsed:.2f} s behind stalled uploads"
    finally:
        for client in stalled:
            client.close()
    # Leaving clients release their threads: at most the idle pool stays.
    wait_for(lambda: server.threads() <= max(baseline_threads, 40), timeout=15)
    server_is_healthy(server)


def test_body_stalled_before_the_app_starts_is_408(short_timeout_server: Any) -> None:
    """README: "a body that makes no progress for `client_timeout` seconds ends cleanly:
    408 before the app started"; the connection is closed after it."""
    with raw_client(short_timeout_server.port) as client:
        started = time.monotonic()
        client.send(request("POST", "/upload", {"Content-Length": "1000"}) + b"x" * 10)
        response = client.response()
        elapsed = time.monotonic() - started
        assert response.status == 408
        assert response.complete
        assert 1.5 < elapsed < 6, elapsed
        assert client.closed_by_server()
    server_is_healthy(short_timeout_server)


def test_body_stalled_inside_the_app_raises_request_timeout(
    short_timeout_server: Any, tmp_path: Path
) -> None:
    """README: "after the app started, `wsgi.input` raises `asgiref.wsgi.RequestTimeout`";
    an app that lets it escape before responding produces a 408; its thread is released."""
    marker = tmp_path / "read-failed.txt"
    baseline_threads = short_timeout_server.threads()
    with raw_client(short_timeout_server.port) as client:
        client.send(request("POST", f"/read-probe?marker={marker}", {"Content-Length": str(MIB)}))
        client.send(b"x" * 100_000)
        response = client.response()
        assert response.status == 408
    assert marker.read_text() == "RequestTimeout"
    wait_for(lambda: short_timeout_server.threads() <= max(baseline_threads, 40), timeout=10)
    server_is_healthy(short_timeout_server)


# -- disconnects -------------------------------------------------------------


def _push_body_until_full(client: RawClient, limit: int, seconds: float) -> int:
    """Send body bytes until the server stops taking them (or ``limit``); bytes sent."""
    client.sock.setblocking(False)
    sent = 0
    block = b"u" * 65536
    deadline = time.monotonic() + seconds
    try:
        while sent < limit and time.monotonic() < deadline:
            try:
                sent += client.sock.send(block)
            except BlockingIOError:
                time.sleep(0.01)
    finally:
        client.sock.setblocking(True)
    return sent


def test_disconnect_is_noticed_while_the_app_ignores_a_large_body(
    server: Any, tmp_path: Path
) -> None:
    """README: "a client disconnect is noticed within a second whatever the app has read;
    the response's `close()` then runs once".

    The app never reads a body far larger than the read-ahead buffer and streams
    an endless response; the client leaves half-way.
    """
    marker = tmp_path / "closed.txt"
    with raw_client(server.port) as client:
        client.send(
            request("POST", f"/close-probe?marker={marker}", {"Content-Length": str(1 << 30)})
        )
        assert _push_body_until_full(client, 8 * MIB, seconds=2) > 512 * 1024
        received = 0
        while received < 300_000:
            received += len(client.sock.recv(65536))
        left = time.monotonic()
    waited = wait_for(marker.exists, timeout=10)
    print(f"close() ran {waited:.3f} s after the client left")
    assert time.monotonic() - left < 1.0 or waited < 1.0
    time.sleep(0.3)
    assert marker.read_text() == "closed\n"
    server_is_healthy(server)


# -- close() that raises -----------------------------------------------------


@pytest.mark.parametrize("query", ["", "length=1", "stop=1"])
def test_close_that_raises_still_delivers_the_whole_response(
    server: Any, query: str, tmp_path: Path
) -> None:
    """README: "a `close()` that raises is logged; a response already complete is still
    delivered whole" (chunked, with a Content-Length, and cut short at it)."""
    marker = tmp_path / "close.txt"
    expected = b"first," if "stop" in query else b"first,second,third"
    with raw_client(server.port) as client:
        client.send(request("GET", f"/close-raises?{query}&marker={marker}"))
        response = client.response()
        assert response.status == 200
        assert response.complete, response
        assert response.body == expected
        # The connection stays usable: the next request on it is answered.
        client.send(request("GET", "/hello"))
        assert client.response().body == b"hello"
    assert marker.read_text() == "close\n"
    wait_for(lambda: "deliberate failure in close()" in server.new_output(), timeout=5)
    assert "Exception in ASGI application" not in server.new_output()


# -- framing -----------------------------------------------------------------


def test_content_length_with_chunked_never_reaches_the_app(server: Any) -> None:
    """README: "`Content-Length` that contradicts the framing (`Transfer-Encoding: chunked`)
    never reaches the app": 400, and the connection is closed."""
    with raw_client(server.port) as client:
        client.send(
            request("POST", "/environ", {"Content-Length": "4", "Transfer-Encoding": "chunked"})
            + b"a\r\n0123456789\r\n0\r\n\r\n"
        )
        response = client.response()
        assert response.status == 400, response
        assert b"CONTENT_LENGTH" not in response.body
        assert client.closed_by_server()
    server_is_healthy(server)


def test_several_content_lengths(server: Any) -> None:
    """README: "several different values" of `Content-Length` never reach the app (400,
    and the connection is closed: where the body ends is unknown); equal values reach
    it as one."""
    with raw_client(server.port) as client:
        client.send(
            b"POST /environ HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n"
            b"\r\nabcde"
        )
        assert client.response().status == 400
        assert client.closed_by_server()
    with raw_client(server.port) as client:
        client.send(
            b"POST /environ HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 4\r\n"
            b"Connection: close\r\n\r\nabcd"
        )
        response = client.response()
        # llhttp (httptools) refuses any repeated Content-Length itself.
        assert response.status in (200, 400)
        if response.status == 200:
            assert json.loads(response.body)["CONTENT_LENGTH"] == "4"
    server_is_healthy(server)


# -- concurrency ---------------------------------------------------------------


def _slow_requests(port: int, count: int, seconds: float) -> list[RawClient]:
    clients = []
    for _ in range(count):
        client = RawClient(port, timeout=seconds + 20)
        client.send(request("GET", f"/sleep?seconds={seconds}"))
        clients.append(client)
    return clients


def test_requests_run_at_the_same_time(server: Any) -> None:
    """README: "requests run at the same time on a bounded thread pool"."""
    started = time.monotonic()
    clients = _slow_requests(server.port, 8, 0.5)
    try:
        assert [c.response().body for c in clients] == [b"slept"] * 8
    finally:
        for client in clients:
            client.close()
    assert time.monotonic() - started < 2.5, "8 requests of 0.5 s were not concurrent"


def test_the_loop_answers_while_every_worker_is_busy(server: Any) -> None:
    """README: "the event loop is never blocked": with all 32 workers busy, a request the
    adapter refuses itself (too many duplicate headers) is answered at once."""
    clients = _slow_requests(server.port, 40, 2.0)
    try:
        time.sleep(0.3)
        started = time.monotonic()
        with raw_client(server.port) as client:
            client.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n" + b"X-Dup: v\r\n" * 150 + b"\r\n")
            assert client.response().status == 400
        elapsed = time.monotonic() - started
    finally:
        for slow in clients:
            slow.close()
    assert elapsed < 1.0, f"the refusal waited {elapsed:.2f} s for a worker"


def test_app_start_response_iteration_and_close_share_one_thread(
    server: Any, tmp_path: Path
) -> None:
    """README: "The application, its `start_response` and the iteration of its response
    (including `close()`) run on one thread per request"."""
    marker = tmp_path / "threads.txt"
    assert get(server.port, f"/thread-probe?marker={marker}").body == b"probed"
    wait_for(marker.exists, timeout=5)
    threads = marker.read_text().split()
    assert len(threads) == 4
    assert len(set(threads)) == 1, threads


def test_clients_that_never_read_the_response_never_starve_others(server: Any) -> None:
    """README: "a request whose thread waits on its client ... gives its place to other
    requests": 40 clients that never read a large response (more than max_workers)."""
    stalled = []
    try:
        for _ in range(40):
            client = RawClient(server.port)
            client.send(request("GET", f"/stream?size={64 * MIB}"))
            stalled.append(client)
        time.sleep(1.0)  # every app has filled its buffers and waits for its client
        started = time.monotonic()
        assert get(server.port, timeout=5).status == 200
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, f"a GET waited {elapsed:.2f} s behind clients not reading"
    finally:
        for client in stalled:
            client.close()
    server_is_healthy(server)


def test_a_client_taking_no_response_is_given_up(short_timeout_server: Any, tmp_path: Path) -> None:
    """README: "a client that takes no response bytes for `client_timeout` seconds: the
    response is abandoned, `close()` runs, the thread is released and the connection
    closed"."""
    marker = tmp_path / "closed.txt"
    with raw_client(short_timeout_server.port) as client:
        client.send(request("GET", f"/close-probe?marker={marker}"))
        started = time.monotonic()
        waited = wait_for(marker.exists, timeout=20)
        print(f"close() ran {waited:.2f} s after the request")
        assert waited < 15
        # The server ends the connection: reading finds its end (after what was in flight).
        assert client.closed_by_server(timeout=10)
        print(f"closed {time.monotonic() - started:.2f} s after the request")
    assert marker.read_text() == "closed\n"
    server_is_healthy(short_timeout_server)


# -- streaming -----------------------------------------------------------------


def test_input_is_read_as_it_arrives(server: Any) -> None:
    """README: "`wsgi.input` reads the body as it arrives": the app echoes the first line
    while the client has not sent the rest of the body yet."""
    first_line = b"a" * 70_000 + b"\n"  # past the 64 KiB the adapter gathers first
    with raw_client(server.port) as client:
        client.send(request("POST", "/echo-lines", {"Transfer-Encoding": "chunked"}))
        client.send(b"%x\r\n%s\r\n" % (len(first_line), first_line))
        head = client._until(b"\r\n\r\n")
        assert head is not None
        assert b" 200 " in head.split(b"\r\n")[0]
        echoed = b""
        while len(echoed) < len(first_line):
            assert client._fill(), "the first line did not come back before the body ended"
            echoed = client._buffer
        client.send(b"2\r\nb\n\r\n0\r\n\r\n")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["uvicorn-h11", "uvicorn-httptools"])
def test_a_gigabyte_unread_upload_keeps_memory_flat(
    kind: str, server_for: Callable[..., Any], tmp_path: Path
) -> None:
    """README: "a client disconnect is noticed within a second whatever the app has read
    ... memory stays bounded" and "A 1 GB upload ... keeps the server's memory flat":
    1 GiB sent to an app that never reads it, then the client leaves."""
    server = server_for(kind).mark_log()
    server_is_healthy(server)
    baseline = server.status_kib("VmHWM")
    marker = tmp_path / "closed.txt"
    with raw_client(server.port, timeout=60) as client:
        client.send(
            request("POST", f"/close-probe?marker={marker}", {"Content-Length": str(1 << 30)})
        )
        block = b"g" * MIB
        for _ in range(1024):
            client.send(block)
        left = time.monotonic()
    wait_for(marker.exists, timeout=10)
    noticed = time.monotonic() - left
    growth = server.status_kib("VmHWM") - baseline
    print(f"{kind}: close() {noticed:.3f} s after leaving, peak RSS +{growth / 1024:.1f} MiB")
    assert noticed < 1.0
    assert growth < 50 * 1024, f"peak RSS grew {growth} KiB"
    assert marker.read_text() == "closed\n"


def test_a_response_the_client_does_not_read_keeps_memory_flat(server: Any) -> None:
    """README: "responses stream with bounded backpressure ... A 1 GB ... download keeps the
    server's memory flat": a client asks for 1 GiB and reads nothing."""
    server_is_healthy(server)
    before = server.status_kib("VmRSS")
    with raw_client(server.port) as client:
        client.send(request("GET", f"/stream?size={1 << 30}"))
        time.sleep(1.5)
        growth = server.status_kib("VmRSS") - before
    assert growth < 50 * 1024, f"RSS grew {growth} KiB while the client read nothing"
    server_is_healthy(server)


def test_tiny_chunks_arrive_batched(server: Any) -> None:
    """README: "bursts of small chunks are batched into one hand-off to the event loop":
    20,000 one-byte chunks arrive whole and quickly."""
    started = time.monotonic()
    response = get(server.port, "/stream?size=20000&chunk=1", timeout=30)
    assert response.complete
    assert response.body == b"s" * 20_000
    assert time.monotonic() - started < 10


# -- PEP 3333 -----------------------------------------------------------------


def test_environ_under_a_real_server(server: Any) -> None:
    """README: "`raw_path` bytes survive (latin-1 strings)", "`SERVER_NAME`/`SERVER_PORT`
    always set", "`CONTENT_LENGTH` is present only when the client sent one",
    "`wsgi.input_terminated` is always `True`", "Repeated headers are joined with `,`,
    except `Cookie`", header names with `_` are dropped."""
    with raw_client(server.port) as client:
        client.send(
            b"POST /environ/%FF%20x?q=1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            b"X-Real: 1\r\nX-Real: 2\r\nCookie: a=1\r\nCookie: b=2\r\nX_Real: spoof\r\n"
            b"Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        )
        environ = json.loads(client.response().body)
    assert environ["PATH_INFO"] == "/environ/\xff x"
    assert environ["QUERY_STRING"] == "q=1"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", str(server.port))
    assert "CONTENT_LENGTH" not in environ
    assert environ["HTTP_X_REAL"] == "1,2"
    assert environ["HTTP_COOKIE"] in ("a=1; b=2", "a=1, b=2")  # h11 joins them itself
    assert environ["REQUEST_METHOD"] == "POST"


def test_write_and_exc_info_under_a_real_server(server: Any) -> None:
    """README: "`write()` from `start_response`, headers held until the first non-empty chunk
    so `exc_info` can still replace them"."""
    response = get(server.port, "/exc-info")
    assert response.status == 503
    assert response.body == b"replaced by exc_info"
    assert b"x-second" in response.headers
    assert b"x-first" not in response.headers


def test_latin1_response_headers(server: Any) -> None:
    """README: "latin-1 response headers"."""
    response = get(server.port, "/latin1")
    expected = 'attachment; filename="caf\u00e9.txt"'.encode("latin-1")
    assert response.headers[b"content-disposition"] == expected


@pytest.mark.parametrize(
    ("target", "expected_body", "complete"),
    [
        ("/close-raises?", b"first,second,third", True),
        ("/close-raises?stop=1&", b"first,", True),
        ("/raise?phase=later-chunk&", b"partial", False),
        ("/raise?phase=first-chunk&", b"Internal Server Error", True),
    ],
)
def test_close_runs_exactly_once_on_every_path(
    server: Any, tmp_path: Path, target: str, expected_body: bytes, complete: bool
) -> None:
    """README: "never more bytes than the app's `Content-Length`", "`close()` exactly once on
    every path" (normal end, early stop at Content-Length, exception before and after
    the headers; the disconnect path is test_disconnect_at_every_phase)."""
    marker = tmp_path / "close.txt"
    with raw_client(server.port) as client:
        client.send(request("GET", f"{target}marker={marker}", {"Connection": "close"}))
        response = client.response()
    assert response.body == expected_body
    assert response.complete is complete
    wait_for(marker.exists, timeout=5)
    time.sleep(0.2)
    assert marker.read_text().count("\n") == 1


# -- hardened ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Dup: v\r\n" * 150,
        b"".join(b"X-H%d: v\r\n" % number for number in range(1100)),
        b"Content-Length: 12abc\r\n",
        b"Content-Length: -1\r\n",
    ],
    ids=["duplicates", "too-many", "malformed-length", "negative-length"],
)
def test_hostile_headers_are_refused_without_the_app(server: Any, headers: bytes) -> None:
    """README: "too many headers / duplicates / malformed names, values or `Content-Length`
    get a 4xx without calling the app, in linear time" (`duplicate_header_limit`,
    `max_headers`: 431)."""
    started = time.monotonic()
    with raw_client(server.port) as client:
        client.send(b"GET /environ HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n")
        try:
            response = client.response()
        except ConnectionError:
            return  # the server's own parser refused it and hung up: also never the app
        assert 400 <= response.status < 500, response
        assert b"REQUEST_METHOD" not in response.body
    assert time.monotonic() - started < 2


def test_body_limit_is_413(short_timeout_server: Any) -> None:
    """README: "an optional body limit answers 413 before the app sees a truncated body";
    the adapter's answers to a request whose body it did not read whole "carry
    `Connection: close`"."""
    with raw_client(short_timeout_server.port) as client:
        client.send(request("POST", "/upload", {"Content-Length": str(5 * MIB)}))
        assert client.response().status == 413
        assert client.closed_by_server()
    with raw_client(short_timeout_server.port, timeout=30) as client:
        client.send(request("POST", "/upload", {"Transfer-Encoding": "chunked"}))
        with contextlib.suppress(OSError):  # the server may close while we still send
            for _ in range(5 * 16):
                client.send(b"10000\r\n" + b"z" * 65536 + b"\r\n")
            client.send(b"0\r\n\r\n")
        assert client.response().status == 413


# -- failures and disconnects --------------------------------------------------


def test_exception_before_the_response_is_a_logged_500(server: Any) -> None:
    """README: "an exception before the response starts is logged (logger `asgiref.wsgi`)
    and answered with a 500"."""
    response = get(server.port, "/raise?phase=call")
    assert (response.status, response.body) == (500, b"Internal Server Error")
    wait_for(lambda: "deliberate failure in the application call" in server.new_output(), 5)
    assert "Exception in ASGI application" not in server.new_output()


def _disconnect_during_headers(server: Any, tmp_path: Path) -> None:
    with raw_client(server.port) as client:
        client.send(b"GET /hello HTTP/1.1\r\nHost: t\r\nX-Partial: ")


def _disconnect_during_body_before_app(server: Any, tmp_path: Path) -> None:
    with raw_client(server.port) as client:
        client.send(request("POST", "/upload", {"Content-Length": "1000"}) + b"x" * 10)
        time.sleep(0.1)


def _disconnect_while_app_reads(server: Any, tmp_path: Path) -> None:
    marker = tmp_path / f"read-{time.monotonic_ns()}.txt"
    with raw_client(server.port) as client:
        client.send(request("POST", f"/read-probe?marker={marker}", {"Content-Length": str(MIB)}))
        client.send(b"x" * 200_000)
        time.sleep(0.2)
    wait_for(marker.exists, timeout=5)
    assert marker.read_text() == "ClientDisconnected"


def _disconnect_while_streaming(server: Any, tmp_path: Path) -> None:
    marker = tmp_path / f"closed-{time.monotonic_ns()}.txt"
    with raw_client(server.port) as client:
        client.send(request("GET", f"/close-probe?marker={marker}"))
        assert client._exactly(200_000) is not None
    wait_for(marker.exists, timeout=2)
    time.sleep(0.2)
    assert marker.read_text() == "closed\n"


def _disconnect_after_response(server: Any, tmp_path: Path) -> None:
    with raw_client(server.port) as client:
        client.send(request("GET", "/hello"))
        assert client.response().body == b"hello"


@pytest.mark.parametrize(
    "leave",
    [
        _disconnect_during_headers,
        _disconnect_during_body_before_app,
        _disconnect_while_app_reads,
        _disconnect_while_streaming,
        _disconnect_after_response,
    ],
    ids=lambda leave: leave.__name__.removeprefix("_disconnect_"),
)
def test_disconnect_at_every_phase(server: Any, tmp_path: Path, leave: Any) -> None:
    """README: "a client that disconnects while the app reads the body raises
    `asgiref.wsgi.ClientDisconnected`", "a client that disconnects mid-response stops the
    iteration and the response's `close()` runs": clients leave at every phase, and
    the server stays healthy, without errors logged and without leaking threads."""
    server_is_healthy(server)
    threads = server.threads()
    for _ in range(3):
        leave(server, tmp_path)
    server_is_healthy(server)
    wait_for(lambda: server.threads() <= max(threads, 34), timeout=10)


def test_lifespan_completes(server: Any) -> None:
    """README: "`lifespan` scopes complete startup and shutdown" (the servers probe lifespan
    at start and would log a failing or unsupported one)."""
    output = server.output()
    assert "lifespan" not in output.lower() or "Application startup complete" in output
    assert "unsupported" not in output.lower()
    assert "ASGI 'lifespan' protocol appears unsupported" not in output


def test_file_wrapper_under_a_real_server(server: Any) -> None:
    """README: "`wsgi.file_wrapper`" (Flask's `send_file` hands the app's file to it)."""
    response = get(server.port, "/flask/file")
    assert response.status == 200
    assert response.complete
    assert response.body == (Path(__file__).parent / "wsgi_server_apps.py").read_bytes()


def test_websocket_is_refused(server: Any) -> None:
    """README: "`websocket` scopes are refused politely (closed before accept, the client
    sees a 403)"."""
    with raw_client(server.port) as client:
        client.send(
            request(
                "GET",
                "/ws",
                {
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version": "13",
                },
            )
        )
        assert client.response().status == 403
    server_is_healthy(server)


# -- framing -------------------------------------------------------------------


def test_partial_headers_hold_nothing(server: Any) -> None:
    """README: "the event loop is never blocked ... by a slow client": 50 clients stop in
    the middle of their headers; a GET is answered at once."""
    stalled = []
    try:
        for number in range(50):
            client = RawClient(server.port)
            client.send(b"GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow-%d: " % number)
            stalled.append(client)
        started = time.monotonic()
        assert get(server.port, timeout=5).status == 200
        assert time.monotonic() - started < 1.0
    finally:
        for client in stalled:
            client.close()


def test_pipelined_requests_are_answered_in_order(server: Any) -> None:
    """README: "`CONTENT_LENGTH` as the client sent it" and bodies end where their framing
    says: three pipelined requests, one of them with a body, in one write."""
    with raw_client(server.port) as client:
        client.send(
            request("GET", "/hello")
            + request("POST", "/upload", {"Content-Length": "5"})
            + b"12345"
            + request("GET", "/environ?third=1", {"Connection": "close"})
        )
        first, second, third = client.response(), client.response(), client.response()
    assert (first.status, first.body) == (200, b"hello")
    assert (second.status, second.body) == (200, b"5")
    assert json.loads(third.body)["QUERY_STRING"] == "third=1"


# -- resources -----------------------------------------------------------------


def test_abuse_leaves_threads_files_and_memory_as_they_were(server: Any, tmp_path: Path) -> None:
    """README: the promises above, together: after a barrage of stalled, vanishing and
    misbehaving clients, the server's threads, open files and memory come back."""
    server_is_healthy(server)
    before = (server.threads(), server.open_files(), server.status_kib("VmRSS"))
    for _ in range(3):
        _disconnect_during_body_before_app(server, tmp_path)
        _disconnect_while_app_reads(server, tmp_path)
        _disconnect_while_streaming(server, tmp_path)
        get(server.port, "/close-raises?")
        get(server.port, "/raise?phase=first-chunk")
    clients = [RawClient(server.port) for _ in range(50)]
    for client in clients:
        client.send(request("POST", "/upload", {"Content-Length": str(MIB)}) + b"x" * 100_000)
    time.sleep(0.5)
    for client in clients:
        client.close()
    server_is_healthy(server, app_errors_expected=True)
    wait_for(lambda: server.threads() <= max(before[0], 34), timeout=10)
    wait_for(lambda: server.open_files() <= before[1] + 2, timeout=10)
    growth = server.status_kib("VmRSS") - before[2]
    assert growth < 30 * 1024, f"RSS grew {growth} KiB"
