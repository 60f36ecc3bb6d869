"""Shared helpers for the asgiref-wsgi tests, offered as fixtures.

``drive`` runs an ASGI app in-process against scripted messages; ``Exchange``
gives step-by-step control; ``launch`` (fixture ``launch_server``) starts a real
server in a subprocess on 127.0.0.1 and stops it afterwards, and the
``*_server`` fixtures use it for the ASGI servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

Message = MutableMapping[str, Any]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

TESTS_DIR = Path(__file__).parent


def http_scope(**overrides: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    scope.update(overrides)
    return scope


class Exchange:
    """One ASGI call with a scripted client: push input, pull output."""

    def __init__(self, app: ASGIApp, scope: dict[str, Any]) -> None:
        self.inbound: asyncio.Queue[Message] = asyncio.Queue()
        self.outbound: asyncio.Queue[Message] = asyncio.Queue()
        self.receive_calls = 0
        self.task = asyncio.ensure_future(app(scope, self._receive, self._send))
        self.send_error: BaseException | None = None

    async def _receive(self) -> Message:
        self.receive_calls += 1
        return await self.inbound.get()

    async def _send(self, message: Message) -> None:
        if self.send_error is not None:
            raise self.send_error
        await self.outbound.put(message)

    def push(self, message: Message) -> None:
        self.inbound.put_nowait(message)

    async def pull(self, timeout: float = 5) -> Message:
        getter = asyncio.ensure_future(self.outbound.get())
        done, _ = await asyncio.wait(
            {getter, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()  # re-raise the app's error
            raise AssertionError("the app finished without sending another message")
        raise AssertionError("timed out waiting for the app to send")

    async def finish(self, timeout: float = 5) -> None:
        await asyncio.wait_for(asyncio.shield(self.task), timeout)

    def drain(self) -> list[Message]:
        items = []
        while not self.outbound.empty():
            items.append(self.outbound.get_nowait())
        return items


@dataclass
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    messages: list[Message] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


async def drive(
    app: ASGIApp,
    scope: dict[str, Any] | None = None,
    body: bytes | list[bytes] = b"",
    timeout: float = 10,
) -> Reply:
    """Run a whole request through ``app`` and collect the response."""
    exchange = Exchange(app, scope or http_scope())
    chunks = [body] if isinstance(body, bytes) else body
    for index, chunk in enumerate(chunks):
        exchange.push({"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1})
    await exchange.finish(timeout)
    messages = exchange.drain()
    assert messages, "the app sent nothing"
    start = messages[0]
    assert start["type"] == "http.response.start", messages
    for message in messages[1:-1]:
        assert message["type"] == "http.response.body"
        assert message.get("more_body", False), messages
    assert not messages[-1].get("more_body", False), "response never completed"
    body_bytes = b"".join(m.get("body", b"") for m in messages[1:])
    return Reply(start["status"], list(start["headers"]), body_bytes, messages)


@pytest.fixture
def scope_for() -> Callable[..., dict[str, Any]]:
    return http_scope


@pytest.fixture
def run_asgi() -> Callable[..., Awaitable[Reply]]:
    return drive


@pytest.fixture
def exchange_for() -> type[Exchange]:
    return Exchange


# -- real servers ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A server program started by :func:`launch`, of a ``kind`` such as
    "uvicorn-h11" or "gunicorn-sync"."""

    kind: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    # Where the current test's part of the log begins (servers outlive tests).
    log_start: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status_kib(self, field_name: str, pid: int | None = None) -> int:
        """A number from the /proc status of the server process (or of ``pid``, one
        of its workers): VmRSS, VmHWM (KiB), Threads."""
        path = Path(f"/proc/{self.process.pid if pid is None else pid}/status")
        for line in path.read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise AssertionError(f"{field_name} not in {path}")

    def threads(self) -> int:
        return self.status_kib("Threads")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def workers(self) -> list[int]:
        """The processes that run the app: gunicorn's workers, or the server itself."""
        if not self.kind.startswith("gunicorn"):
            return [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def new_output(self) -> str:
        """What the server logged since ``mark_log()``."""
        return self.output()[self.log_start :]

    def mark_log(self) -> Server:
        self.log_start = len(self.output())
        return self


def _command(kind: str, target: str, port: int) -> list[str]:
    server, _, http = kind.partition("-")
    if server == "uvicorn":
        # uvicorn's default settings: only where to listen is given, and for
        # "uvicorn-h11" / "uvicorn-httptools" which HTTP parser to use.
        command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1"]
        return [*command, "--port", str(port), *(["--http", http] if http else [])]
    if kind == "daphne":
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), target]
    if kind == "hypercorn":
        return [sys.executable, "-m", "hypercorn", target, "--bind", f"127.0.0.1:{port}"]
    raise ValueError(kind)


def _listening(server: Server) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", server.port), 0.2):
        return True
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@contextlib.contextmanager
def launch(
    kind: str,
    command: Callable[[int], list[str]],
    tmp_dir: Path,
    ready: Callable[[Server], bool] = _listening,
    start_seconds: float = 30,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Run the server program ``command(port)`` from this directory (on its
    PYTHONPATH), logging to a file in ``tmp_dir``; yield it once ``ready`` says
    so, and stop it on leaving."""
    port = free_port()
    log = tmp_dir / f"{kind}-{port}.log"
    python_path = [str(TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(python_path),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command(port), cwd=TESTS_DIR, env=environment, stdout=sink, stderr=subprocess.STDOUT
        )
    server = Server(kind, process, port, log)
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{kind} exited early:\n{server.output()}")
            if ready(server):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{kind} did not start:\n{server.output()}")
            time.sleep(0.05)
        yield server
    finally:
        _stop(process)


def start_server(
    kind: str, target: str, tmp_dir: Path, **env: str
) -> contextlib.AbstractContextManager[Server]:
    """An ASGI server of ``kind`` (uvicorn, hypercorn, daphne) serving ``target``."""
    return launch(kind, lambda port: _command(kind, target, port), tmp_dir, env=env)


@pytest.fixture(scope="session")
def launch_server() -> Callable[..., contextlib.AbstractContextManager[Server]]:
    """:func:`launch`, for a test module that runs servers of other kinds."""
    return launch


@pytest.fixture(scope="module")
def server_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="module")
def uvicorn_server(server_tmp: Path) -> Iterator[Server]:
    with start_server("uvicorn", "wsgi_server_apps:application", server_tmp) as server:
        yield server


@pytest.fixture(scope="module")
def hypercorn_server(server_tmp: Path) -> Iterator[Server]:
    with start_server("hypercorn", "wsgi_server_apps:application", server_tmp) as server:
        yield server


@pytest.fixture(scope="module")
def daphne_server(server_tmp: Path) -> Iterator[Server]:
    # Optional: daphne is only a test dependency where it installs cleanly.
    pytest.importorskip("daphne")
    with start_server("daphne", "wsgi_server_apps:application", server_tmp) as server:
        yield server


@pytest.fixture(scope="module")
def server_for(server_tmp: Path) -> Iterator[Callable[..., Server]]:
    """Starts a server of a kind ("uvicorn-h11", "hypercorn", ...) for a target on first use.

    Each (kind, target) runs once per test module and is stopped when the module ends.
    """
    with contextlib.ExitStack() as stack:
        started: dict[tuple[str, str], Server] = {}

        def get(kind: str, target: str = "wsgi_server_apps:application") -> Server:
            if kind == "uvicorn-httptools" and importlib.util.find_spec("httptools") is None:
                pytest.skip("httptools is not installed")
            if (kind, target) not in started:
                started[kind, target] = stack.enter_context(start_server(kind, target, server_tmp))
            return started[kind, target]

        yield get


@pytest.fixture(params=["uvicorn", "hypercorn", "daphne"])
def any_server(request: pytest.FixtureRequest) -> Server:
    server: Server = request.getfixturevalue(f"{request.param}_server")
    return server
