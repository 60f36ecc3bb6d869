"""The adapter under real ASGI servers (uvicorn, hypercorn) with a real client (httpx)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.timeout(120)


def test_plain_request(any_server: Any) -> None:
    response = httpx.get(any_server.url + "/hello", timeout=10)
    assert response.status_code == 200
    assert response.text == "hello"


def test_lifespan_is_supported(uvicorn_server: Any, hypercorn_server: Any) -> None:
    # Both servers probe lifespan by default; a failing app makes them log it.
    httpx.get(uvicorn_server.url + "/hello", timeout=10)
    httpx.get(hypercorn_server.url + "/hello", timeout=10)
    assert "Application startup complete" in uvicorn_server.output()
    assert "unsupported" not in uvicorn_server.output().lower()
    assert "lifespan" not in hypercorn_server.output().lower()


def test_environ_from_a_real_server(any_server: Any) -> None:
    response = httpx.get(
        any_server.url + "/environ?q=caf%C3%A9",
        headers=[("X-Real", "1"), ("X-Real", "2"), ("Cookie", "a=1")],
        timeout=10,
    )
    environ = response.json()
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["PATH_INFO"] == "/environ"
    assert environ["QUERY_STRING"] == "q=caf%C3%A9"
    assert environ["SERVER_PORT"] == str(any_server.port)
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["HTTP_X_REAL"] == "1,2"
    assert environ["HTTP_COOKIE"] == "a=1"


def test_non_utf8_path_bytes_survive(any_server: Any) -> None:
    with socket.create_connection(("127.0.0.1", any_server.port), 10) as sock:
        sock.sendall(b"GET /environ/%FF%20x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n", 1)[0]
    assert json.loads(body)["PATH_INFO"] == "/environ/\xff x"


def test_underscore_header_dropped_and_duplicates_limited(any_server: Any) -> None:
    response = httpx.get(
        any_server.url + "/environ",
        headers=[("X-User", "alice"), ("X_User", "eve")],
        timeout=10,
    )
    assert response.json()["HTTP_X_USER"] == "alice"
    response = httpx.get(any_server.url + "/hello", headers=[("X-Dup", "v")] * 150, timeout=10)
    assert response.status_code == 400
    assert response.text == "Bad Request: Too many duplicate headers"


def test_keep_alive_two_thousand_requests_under_uvicorn(uvicorn_server: Any) -> None:
    uvicorn_server.mark_log()
    errors = 0
    with httpx.Client(base_url=uvicorn_server.url, timeout=10) as client:
        for number in range(2000):
            if number % 4 == 3:
                response = client.post("/upload", content=b"x" * number)
                expected = str(number)
            else:
                response = client.get("/hello")
                expected = "hello"
            if response.status_code != 200 or response.text != expected:
                errors += 1
    assert errors == 0
    logged = uvicorn_server.new_output()
    assert "Exception" not in logged, logged[-4000:]


def test_keep_alive_under_hypercorn(hypercorn_server: Any) -> None:
    with httpx.Client(base_url=hypercorn_server.url, timeout=10) as client:
        statuses = {client.get("/hello").status_code for _ in range(300)}
    assert statuses == {200}


def test_streamed_request_body_without_length(any_server: Any) -> None:
    def chunks() -> Any:
        for _ in range(64):
            yield b"c" * 10_000

    response = httpx.post(any_server.url + "/upload", content=chunks(), timeout=30)
    assert response.text == str(640_000)


def test_streamed_response(any_server: Any) -> None:
    with httpx.stream("GET", any_server.url + "/stream?size=5000000&chunk=1000", timeout=30) as r:
        total = sum(len(chunk) for chunk in r.iter_bytes())
    assert total == 5_000_000


async def test_slow_requests_overlap_and_trivial_one_is_fast(any_server: Any) -> None:
    async with httpx.AsyncClient(base_url=any_server.url, timeout=30) as client:
        await client.get("/hello")  # warm up the pool and the connection
        started = time.monotonic()
        slow = [asyncio.ensure_future(client.get("/sleep?seconds=0.5")) for _ in range(8)]
        await asyncio.sleep(0.1)
        quick_started = time.monotonic()
        quick = await client.get("/hello")
        quick_time = time.monotonic() - quick_started
        responses = await asyncio.gather(*slow)
        elapsed = time.monotonic() - started
    assert [r.text for r in responses] == ["slept"] * 8
    assert quick.text == "hello"
    assert elapsed < 2.5, f"8 concurrent 0.5 s requests took {elapsed:.2f} s"
    assert quick_time < 0.4, f"a trivial request waited {quick_time:.2f} s"


def test_client_disconnect_mid_response_closes_iterable(any_server: Any, tmp_path: Path) -> None:
    marker = tmp_path / "closed.txt"
    with socket.create_connection(("127.0.0.1", any_server.port), 10) as sock:
        sock.sendall(f"GET /close-probe?marker={marker} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        received = 0
        while received < 200_000:
            received += len(sock.recv(65536))
    deadline = time.monotonic() + 15
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "close() was not called after the client disconnected"
    assert httpx.get(any_server.url + "/hello", timeout=10).text == "hello"


@pytest.mark.parametrize("kind", ["uvicorn", "hypercorn"])
def test_client_disconnect_mid_upload_raises_oserror_in_app(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Not daphne: it receives the whole body before it calls any application.
    any_server = request.getfixturevalue(f"{kind}_server")
    marker = tmp_path / "read-failed.txt"
    with socket.create_connection(("127.0.0.1", any_server.port), 10) as sock:
        sock.sendall(
            f"POST /read-probe?marker={marker} HTTP/1.1\r\nHost: t\r\n"
            "Content-Length: 1000000\r\n\r\n".encode()
            + b"x" * 200_000
        )
        time.sleep(0.3)
    deadline = time.monotonic() + 15
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the app's read did not fail when the client left"
    assert marker.read_text() == "ClientDisconnected"
    assert httpx.get(any_server.url + "/hello", timeout=10).text == "hello"
    assert "Exception in WSGI application" not in any_server.output()


# -- Flask ------------------------------------------------------------------


def test_flask_routes(any_server: Any) -> None:
    with httpx.Client(base_url=any_server.url + "/flask", timeout=10) as client:
        assert client.get("/hello").text == "Hello from Flask"
        info = client.get("/info", params={"a": "é"}).json()
        assert info == {"script_root": "/flask", "path": "/info", "args": {"a": "é"}}
        assert client.post("/echo", content=b"ping" * 1000).content == b"ping" * 1000
        form = client.post(
            "/form", data={"name": "report"}, files={"file": ("r.bin", b"\0" * 300_000)}
        ).json()
        assert form == {"name": "report", "size": 300_000}
        assert client.get("/stream").text == "".join(f"line {n}\n" for n in range(5))
        served = client.get("/file")
        assert served.content == Path(__file__).with_name("wsgi_server_apps.py").read_bytes()
        assert client.get("/error").status_code == 500
        assert client.get("/missing").status_code == 404


def test_flask_chunked_upload(any_server: Any) -> None:
    def chunks() -> Any:
        for _ in range(10):
            yield b"z" * 1000

    response = httpx.post(any_server.url + "/flask/echo", content=chunks(), timeout=10)
    assert response.content == b"z" * 10_000


def test_no_internal_errors_logged(any_server: Any) -> None:
    with httpx.Client(base_url=any_server.url, timeout=10) as client:
        assert client.get("/hello").status_code == 200
        assert client.get("/hello", headers=[("X-Dup", "v")] * 150).status_code == 400
        # Flask turns its own view's exception into a 500 page: not the adapter's error.
        assert client.get("/flask/error").status_code == 500
    output = any_server.output()
    assert "Exception in ASGI application" not in output
    assert "Exception in WSGI application" not in output
