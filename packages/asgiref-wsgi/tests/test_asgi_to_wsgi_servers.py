"""AsgiToWsgi under real WSGI servers: gunicorn (sync, gthread), waitress, wsgiref.

Each server runs as its own program on 127.0.0.1 and serves
asgi_to_wsgi_apps:application (a hand-written ASGI app, a Starlette app and
Django's ASGI handler, each behind AsgiToWsgi); httpx and raw sockets are the
clients. What the apps saw after the client left is read from marker files.
"""

from __future__ import annotations

import contextlib
import hashlib
import http
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    # The conftest's server handle; test modules get it (and launch) through
    # fixtures, as a conftest cannot be imported reliably.
    from tests.conftest import Server as WsgiServer

    Launch = Callable[..., contextlib.AbstractContextManager[WsgiServer]]

pytestmark = pytest.mark.timeout(60)

TESTS_DIR = Path(__file__).parent
TARGET = "asgi_to_wsgi_apps:application"
SERVERS = ["gunicorn-sync", "gunicorn-gthread", "waitress", "wsgiref"]
# Servers that run requests on several threads of one process.
THREADED = ["gunicorn-gthread", "waitress"]
MIB = 1 << 20
GIB = 1 << 30

# One client for the module: making one loads the CA store (0.1 s), which would
# outweigh most of these requests. Without keep-alive, as each test's requests
# should not depend on connections an earlier test left open.
_client = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    _client.close()


def _command(kind: str, port: int, target: str, extra: tuple[str, ...]) -> list[str]:
    server, _, worker = kind.partition("-")
    if server == "gunicorn":
        threads = ["--threads", "8"] if worker == "gthread" else []
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
        options = ["--worker-class", worker, *threads, "--graceful-timeout", "5"]
        options += _gunicorn_options()
        return [*command, "--workers", "1", *options, *extra, target]
    runner = str(TESTS_DIR / "asgi_to_wsgi_runner.py")
    return [sys.executable, runner, kind, str(port), target]


def _gunicorn_options() -> list[str]:
    from gunicorn.config import Config  # type: ignore[import-untyped, import-not-found, unused-ignore]

    # gunicorn >= 25 opens a control socket at one path shared by every
    # instance; the tests run several at once.
    settings: dict[str, Any] = Config().settings
    return ["--no-control-socket"] if "control_socket_disable" in settings else []


def _answers_hello(server: WsgiServer) -> bool:
    # Ready once the app answers: the import of Django and Starlette is then
    # behind us, and the timings the tests assert are the adapter's.
    with contextlib.suppress(httpx.TransportError):
        return _client.get(server.url + "/", timeout=5).text == "hello"
    return False


@contextlib.contextmanager
def _start_server(
    launch: Launch, kind: str, tmp_dir: Path, *extra: str, target: str = TARGET, **env: str
) -> Iterator[WsgiServer]:
    def command(port: int) -> list[str]:
        return _command(kind, port, target, extra)

    with launch(kind, command, tmp_dir, _answers_hello, 60, env) as server:
        yield server
    _assert_no_internal_errors(server.output())


# What the adapter must never leave in a server's log, whatever the apps did.
_INTERNAL_ERRORS = (
    "Task was destroyed but it is pending",
    "Exception in callback",
    "was never awaited",
    "WORKER TIMEOUT",
    "Exception ignored in",
)


def _assert_no_internal_errors(output: str) -> None:
    found = [line for line in output.splitlines() if any(e in line for e in _INTERNAL_ERRORS)]
    assert not found, "\n".join(found) + "\n\n" + output[-6000:]


@pytest.fixture(scope="module")
def server_for(
    tmp_path_factory: pytest.TempPathFactory, launch_server: Launch
) -> Iterator[Callable[[str], WsgiServer]]:
    """Starts each kind of server on first use; all stop when the module ends."""
    tmp_dir = tmp_path_factory.mktemp("wsgi-servers")
    with contextlib.ExitStack() as stack:
        started: dict[str, WsgiServer] = {}

        def get(kind: str) -> WsgiServer:
            if kind not in started:
                started[kind] = stack.enter_context(_start_server(launch_server, kind, tmp_dir))
            return started[kind]

        yield get


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, server_for: Callable[[str], WsgiServer]) -> WsgiServer:
    return server_for(request.param)


@pytest.fixture(params=THREADED)
def threaded_server(
    request: pytest.FixtureRequest, server_for: Callable[[str], WsgiServer]
) -> WsgiServer:
    return server_for(request.param)


def _wait_for_lines(marker: Path, seconds: float = 10, until: str = "") -> list[str]:
    """The lines of a marker file an app writes, once it has some (and ``until``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = marker.read_text() if marker.exists() else ""
        if text.endswith("\n") and (not until or until in text.splitlines()):
            return text.splitlines()
        time.sleep(0.05)
    return marker.read_text().splitlines() if marker.exists() else []


def _leave_mid_response(server: WsgiServer, target: str, received: int = 200_000) -> None:
    """Read part of a streamed response on a raw socket, then hang up."""
    with socket.create_connection(("127.0.0.1", server.port), 10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        got = 0
        while got < received:
            chunk = sock.recv(65536)
            assert chunk, "the server ended the response early"
            got += len(chunk)


def _assert_serves(server: WsgiServer, within: float) -> None:
    started = time.monotonic()
    response = _client.get(server.url + "/", timeout=within)
    elapsed = time.monotonic() - started
    assert response.text == "hello", response
    assert elapsed < within, f"the next request waited {elapsed:.2f} s"


# -- request ------------------------------------------------------------------


def test_scope_is_built_from_the_environ(server: WsgiServer) -> None:
    response = _client.post(
        server.url + "/mounted/scope/caf%C3%A9%20x?q=caf%C3%A9&x=1&x=2",
        content=b"hello",
        headers=[(b"Content-Type", b"text/plain"), (b"X-Probe", "café".encode("latin-1"))],
        timeout=10,
    )
    assert response.status_code == 200, response.text
    scope = response.json()["scope"]
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "POST"
    assert scope["scheme"] == "http"
    # As uvicorn does: path is the whole path, root_path the mount point in it.
    assert scope["root_path"] == "/mounted"
    assert scope["path"] == "/mounted/scope/café x"
    assert scope["raw_path"] == "/mounted/scope/caf%C3%A9%20x"
    assert scope["query_string"] == "q=caf%C3%A9&x=1&x=2"
    assert scope["query_string_is_bytes"]
    assert scope["headers_are_bytes"]
    headers = scope["headers"]
    assert ["content-type", "text/plain"] in headers
    assert ["content-length", "5"] in headers
    assert ["x-probe", "caf\xe9"] in headers
    assert ["host", f"127.0.0.1:{server.port}"] in headers
    assert all(name == name.lower() for name, _ in headers)
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"][1] == server.port
    assert scope["has_state"]
    assert response.json()["body"]["total"] == 5


def test_unmounted_app_has_an_empty_root_path(server: WsgiServer) -> None:
    scope = _client.get(server.url + "/scope", timeout=10).json()["scope"]
    assert (scope["root_path"], scope["path"], scope["raw_path"]) == ("", "/scope", "/scope")
    assert (scope["method"], scope["query_string"]) == ("GET", "")


def test_request_body_reaches_receive_in_bounded_chunks(server: WsgiServer) -> None:
    body = os.urandom(6 * MIB)
    summary = _client.post(server.url + "/sink", content=body, timeout=30).json()
    assert summary["total"] == len(body)
    assert summary["sha256"] == hashlib.sha256(body).hexdigest()
    assert summary["chunks"] > 1, "the body was handed over in one piece"
    assert summary["max_chunk"] <= MIB, summary


@pytest.mark.parametrize("kind", ["gunicorn-sync", "gunicorn-gthread", "waitress"])
def test_chunked_request_body(kind: str, server_for: Callable[[str], WsgiServer]) -> None:
    # Not wsgiref: it has no support for chunked request bodies at all.
    piece = b"0123456789abcdef" * 4096

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield piece

    summary = _client.post(server_for(kind).url + "/sink", content=chunks(), timeout=30).json()
    assert summary["total"] == 40 * len(piece)
    assert summary["sha256"] == hashlib.sha256(piece * 40).hexdigest()


def test_disconnect_is_received_once_the_response_is_over(
    server: WsgiServer, tmp_path: Path
) -> None:
    marker = tmp_path / "after.txt"
    assert _client.get(server.url + f"/after?marker={marker}", timeout=10).text == "done"
    assert _wait_for_lines(marker) == ["http.disconnect"]


# -- response -----------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 204, 301, 404, 418, 503])
def test_status_with_its_reason_phrase(server: WsgiServer, code: int) -> None:
    response = _client.get(server.url + f"/status?code={code}", timeout=10)
    assert response.status_code == code
    assert response.reason_phrase == http.HTTPStatus(code).phrase


def test_unknown_status_is_passed_on(server: WsgiServer) -> None:
    assert _client.get(server.url + "/status?code=599", timeout=10).status_code == 599


def test_response_headers(server: WsgiServer) -> None:
    response = _client.get(server.url + "/headers", timeout=10)
    assert response.status_code == 201
    assert response.text == "headers"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.headers["x-first"] == "1"
    assert response.headers["x-mixed-case"] == "kept"
    raw = dict(response.headers.raw)
    assert raw.get(b"x-latin", raw.get(b"X-Latin")) == "café".encode("latin-1")


def test_streamed_response(server: WsgiServer) -> None:
    with _client.stream("GET", server.url + "/stream?chunks=300&size=1000", timeout=10) as response:
        body = b"".join(response.iter_bytes())
    assert body == b"".join(bytes([65 + n % 26]) * 1000 for n in range(300))


@pytest.mark.parametrize("app", ["", "/starlette", "/django"])
def test_server_sent_event_arrives_while_the_app_is_sending(
    server: WsgiServer, app: str, tmp_path: Path
) -> None:
    # The app sends its second event only after this test has seen the first
    # (it waits for the release file), so a buffered first event cannot pass.
    release = tmp_path / "release"
    url = server.url + f"{app}/sse?release={release}"
    with _client.stream("GET", url, timeout=httpx.Timeout(10, read=5)) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = response.iter_raw()
        received = b""
        while b"\n\n" not in received:
            received += next(chunks)
        assert received == b"data: first\n\n"
        release.touch()
        received += b"".join(chunks)
    assert received == b"data: first\n\ndata: released\n\n"


def test_pathsend_is_served_through_file_wrapper(server: WsgiServer) -> None:
    source = Path(__file__)
    response = _client.get(server.url + "/pathsend", params={"file": str(source)}, timeout=10)
    assert response.headers["x-sent-by"] == "pathsend", "the extension was not offered"
    assert response.content == source.read_bytes()
    scope = _client.get(server.url + "/scope", timeout=10).json()["scope"]
    assert "http.response.pathsend" in scope["extensions"]


# -- lifespan -----------------------------------------------------------------


def test_lifespan_state_reaches_each_request_as_a_shallow_copy(server: WsgiServer) -> None:
    first = _client.get(server.url + "/state", timeout=10).json()
    second = _client.get(server.url + "/state", timeout=10).json()
    # A key a request adds stays in its own copy; the list startup made is shared.
    assert first["keys"] == second["keys"] == ["hits", "pid", "started"]
    assert second["hits"] == first["hits"] + 1
    assert first["pid"] in server.workers()


def test_app_without_lifespan_support_is_served(server: WsgiServer) -> None:
    response = _client.get(server.url + "/no-lifespan/", timeout=10)
    assert (response.status_code, response.text) == (200, "served without lifespan")


def test_startup_failure_gives_500s_and_one_log_line(server: WsgiServer) -> None:
    for _ in range(3):
        response = _client.get(server.url + "/startup-fails/", timeout=10)
        assert response.status_code == 500
        assert "served" not in response.text
    lines = [line for line in server.output().splitlines() if "a2w-42" in line]
    assert len(lines) == 1, lines
    assert "database unreachable: a2w-42" in lines[0]


def test_asgi2_app_is_served(server: WsgiServer) -> None:
    response = _client.post(server.url + "/asgi2/", timeout=10)
    assert (response.status_code, response.text) == (200, "asgi2 POST")


@pytest.mark.timeout(90)
def test_lifespan_shutdown_runs_at_process_exit(tmp_path: Path, launch_server: Launch) -> None:
    # Both apps do their shutdown work in a thread (an executor, Starlette's
    # thread pool), as apps that close connection pools do: the adapter must
    # run lifespan.shutdown while the interpreter still lets threads start.
    # CPython 3.12.0 and 3.12.1 let no exit hook start one (gh-113964): there
    # the apps do that work inline, and only the shutdown itself is checked.
    marker = tmp_path / "shutdown.txt"
    env = {"A2W_SHUTDOWN_MARKER": str(marker)}
    if sys.version_info[:3] in ((3, 12, 0), (3, 12, 1)):
        env["A2W_SHUTDOWN_INLINE"] = "1"
    with _start_server(launch_server, "gunicorn-sync", tmp_path, **env) as server:
        (worker,) = server.workers()
        assert _client.get(server.url + "/state", timeout=10).status_code == 200
        assert _client.get(server.url + "/starlette/", timeout=10).status_code == 200
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(15)
    lines = sorted(_wait_for_lines(marker, 1))
    assert lines == [f"shutdown {worker}", f"starlette shutdown {worker}"], server.output()
    assert "Traceback" not in server.output(), server.output()


# -- errors -------------------------------------------------------------------


def test_exception_before_the_response_is_a_logged_500(server: WsgiServer) -> None:
    server.mark_log()
    response = _client.get(server.url + "/error-before", timeout=10)
    assert response.status_code == 500
    deadline = time.monotonic() + 5
    while "Traceback" not in server.new_output() and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = server.new_output()
    assert "Traceback" in logged
    assert "raw app failed before its response" in logged


def test_exception_after_the_response_started_aborts_it(server: WsgiServer) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        _client.get(server.url + "/error-after", timeout=10)
    _assert_serves(server, within=5)


# -- frameworks ---------------------------------------------------------------


def test_starlette(server: WsgiServer) -> None:
    with httpx.Client(base_url=server.url + "/starlette", timeout=10) as client:
        assert client.get("/").text == "hello from the lifespan"
        where = client.get("/where", params={"a": "é"}).json()
        assert where == {
            "url_path": "/starlette/where",
            "root_path": "/starlette",
            "url_for": f"{server.url}/starlette/where",
            "query": {"a": "é"},
        }
        body = os.urandom(3 * MIB + 5)
        echoed = client.post("/echo", content=body).json()
        assert echoed == {"total": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        assert client.get("/stream").text == "".join(f"line {n}\n" for n in range(20))
        assert client.get("/missing").status_code == 404


@pytest.mark.parametrize("view", ["async", "sync"])
def test_django(server: WsgiServer, view: str) -> None:
    response = _client.post(
        server.url + f"/django/{view}",
        params={"q": "é"},
        content=b"x" * 70_000,
        headers={"Content-Type": "application/octet-stream", "X-Probe": "yes"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    del report["thread"]
    assert report == {
        "kind": view,
        "method": "POST",
        "path": f"/django/{view}",
        "path_info": f"/{view}",
        "script_name": "/django",
        "query": "é",
        "body": 70_000,
        "content_type": "application/octet-stream",
        "header": "yes",
    }
    assert _client.get(server.url + "/django/missing", timeout=10).status_code == 404


# -- reliability --------------------------------------------------------------


def test_silent_app_is_answered_after_the_message_timeout(server: WsgiServer) -> None:
    # Under /impatient the server's thread waits 1 s for the app's next message.
    started = time.monotonic()
    response = _client.get(server.url + "/impatient/sleep?seconds=8", timeout=10)
    elapsed = time.monotonic() - started
    assert response.status_code == 500
    assert elapsed < 5, f"a 1 s message timeout answered after {elapsed:.1f} s"
    _assert_serves(server, within=5)


@pytest.mark.parametrize("kind", ["gunicorn-sync", "gunicorn-gthread", "wsgiref"])
def test_client_leaving_mid_upload_is_a_disconnect(
    kind: str, server_for: Callable[[str], WsgiServer], tmp_path: Path
) -> None:
    # Not waitress: it reads the whole body before it calls the application.
    server = server_for(kind)
    marker = tmp_path / "upload.txt"
    with socket.create_connection(("127.0.0.1", server.port), 10) as sock:
        head = f"POST /upload-probe?marker={marker} HTTP/1.1\r\nHost: t\r\n"
        sock.sendall(f"{head}Content-Length: {10 * MIB}\r\n\r\n".encode() + b"x" * MIB)
        time.sleep(0.2)
    lines = _wait_for_lines(marker)
    assert len(lines) == 1, lines
    assert lines[0].startswith("http.disconnect after "), lines
    assert int(lines[0].rsplit(" ", 2)[1]) <= MIB
    _assert_serves(server, within=5)


@pytest.mark.parametrize("mode", ["receive", "send"])
def test_client_leaving_mid_response_runs_the_apps_cleanup(
    server: WsgiServer, mode: str, tmp_path: Path
) -> None:
    # mode=receive: the app listens for http.disconnect and must get it;
    # mode=send: it never calls receive(), so its send() must fail or it is cancelled.
    marker = tmp_path / "cleanup.txt"
    _leave_mid_response(server, f"/cleanup?marker={marker}&mode={mode}")
    lines = _wait_for_lines(marker)
    if mode == "receive":
        assert lines[:1] == ["disconnect"], lines
    else:
        assert len(lines) == 1, lines
        assert lines[0] == "cancelled" or lines[0].startswith("send raised"), lines
    _assert_serves(server, within=5)


def test_app_ignoring_cancellation_does_not_hold_the_worker(
    server: WsgiServer, tmp_path: Path
) -> None:
    # gunicorn-sync (one worker) and wsgiref serve one request at a time: the
    # next request is served only if the adapter let go of the stubborn one.
    marker = tmp_path / "stubborn.txt"
    _leave_mid_response(server, f"/impatient/stubborn?marker={marker}")
    _assert_serves(server, within=5)
    # Cancelled after the disconnect grace of that mount (0.5 s).
    lines = _wait_for_lines(marker, 5, until="CancelledError")
    assert "CancelledError" in lines, f"the app was never cancelled: {lines}"


def test_slow_request_does_not_block_another(threaded_server: WsgiServer) -> None:
    url = threaded_server.url
    with ThreadPoolExecutor(6) as pool:
        started = time.monotonic()
        slow = [pool.submit(_client.get, url + "/sleep?seconds=3", timeout=30) for _ in range(5)]
        time.sleep(0.3)
        # Blocked behind the slow ones it would wait 2.7 s; served, it takes
        # well under 0.5 s even on a loaded machine.
        _assert_serves(threaded_server, within=2)
        assert [future.result().text for future in slow] == ["slept"] * 5
        elapsed = time.monotonic() - started
    # Five 3 s requests one after another would take 15 s.
    assert elapsed < 8, f"the slow requests took {elapsed:.2f} s together"


def test_one_loop_thread_serves_every_request(threaded_server: WsgiServer) -> None:
    with httpx.Client(base_url=threaded_server.url, timeout=10) as client:

        def loop_of_one_request(number: int) -> tuple[int, int, int]:
            if number % 2:
                client.get("/sleep?seconds=0.05")  # so that requests overlap
            report = client.get("/loop").json()
            return report["pid"], report["loop"], report["thread"]

        with ThreadPoolExecutor(8) as pool:
            seen = set(pool.map(loop_of_one_request, range(32)))
    # Not a loop, nor a thread, per request or per server thread.
    assert len(seen) == 1, seen


@pytest.mark.timeout(90)
def test_gunicorn_preload_serves_from_forked_workers(tmp_path: Path, launch_server: Launch) -> None:
    # The app served a request in the arbiter before the fork (see
    # asgi_to_wsgi_apps): its loop thread does not survive into the workers.
    marker = tmp_path / "preload.txt"
    with _start_server(
        launch_server,
        "gunicorn-sync",
        tmp_path,
        "--preload",
        "--workers",
        "2",
        A2W_WARM_UP_BEFORE_FORK="1",
        A2W_PRELOAD_MARKER=str(marker),
    ) as server:
        in_parent = json.loads(marker.read_text())
        assert in_parent["pid"] == server.process.pid
        pids = set()
        for _ in range(10):
            report = _client.get(server.url + "/loop", timeout=10).json()
            pids.add(report["pid"])
        assert pids <= set(server.workers())
        assert server.process.pid not in pids
        assert _client.get(server.url + "/starlette/", timeout=10).text == "hello from the lifespan"
        assert _client.get(server.url + "/django/async", timeout=10).json()["kind"] == "async"
        assert "Traceback" not in server.output(), server.output()
    # On leaving, _start_server checked the log of the workers' exit as well.


# -- memory -------------------------------------------------------------------


def _reset_peaks(server: WsgiServer) -> dict[int, int]:
    """Resets each worker's peak RSS to its current RSS, which it returns (KiB)."""
    pids = server.workers()
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    return {pid: server.status_kib("VmRSS", pid) for pid in pids}


def _peak_growth_mib(server: WsgiServer, before: dict[int, int]) -> float:
    growth = (server.status_kib("VmHWM", pid) - rss for pid, rss in before.items())
    return max(growth) / 1024


def _upload_one_gib(server: WsgiServer) -> int:
    def chunks() -> Iterator[bytes]:
        chunk = b"u" * MIB
        for _ in range(GIB // MIB):
            yield chunk

    headers = {"Content-Length": str(GIB)}
    response = _client.post(server.url + "/sink", content=chunks(), headers=headers, timeout=60)
    total: int = response.json()["total"]
    return total


def _download_one_gib(server: WsgiServer) -> int:
    with _client.stream("GET", server.url + f"/big?size={GIB}", timeout=60) as response:
        return sum(len(chunk) for chunk in response.iter_raw(MIB))


# Under gunicorn only: waitress keeps request and response bodies in temporary
# files of its own (so its peak says little about the adapter), and wsgiref is
# a development server; each 1 GiB transfer costs seconds on every Python.
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["gunicorn-sync", "gunicorn-gthread"])
@pytest.mark.parametrize(
    "transfer", [_upload_one_gib, _download_one_gib], ids=["upload", "response"]
)
def test_one_gib_body_keeps_the_server_small(
    kind: str, transfer: Callable[[WsgiServer], int], server_for: Callable[[str], WsgiServer]
) -> None:
    server = server_for(kind)
    before = _reset_peaks(server)
    assert transfer(server) == GIB
    growth = _peak_growth_mib(server, before)
    assert growth < 50, f"peak RSS grew by {growth:.0f} MiB for 1 GiB ({transfer.__name__})"
