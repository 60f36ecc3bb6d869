"""AsgiToWsgi's lifespan and process life: startup, state, shutdown, fork, exit."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import wsgiref.util
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from asgiref.wsgi import AsgiToWsgi

pytestmark = pytest.mark.timeout(60)


def _environ(path: str = "/") -> dict[str, Any]:
    environ: dict[str, Any] = {"PATH_INFO": path}
    wsgiref.util.setup_testing_defaults(environ)
    return environ


def _get(adapter: AsgiToWsgi, path: str = "/") -> tuple[str, bytes]:
    statuses: list[str] = []
    result = adapter(_environ(path), lambda status, headers, exc_info=None: statuses.append(status))
    try:
        return statuses[-1] if statuses else "", b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()


class LifespanApp:
    """Records lifespan events; its startup does what ``on_startup`` says."""

    def __init__(self, on_startup: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.events: list[str] = []
        self.on_startup = on_startup
        self.states: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(scope, receive, send)
            return
        self.events.append("request")
        self.states.append(scope["state"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": repr(sorted(scope["state"])).encode()})

    async def lifespan(self, scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            self.events.append(message["type"])
            if message["type"] == "lifespan.startup":
                reply = "lifespan.startup.complete"
                if self.on_startup is not None:
                    reply = await self.on_startup(scope["state"]) or reply
                await send({"type": reply, "message": "database unreachable"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _fill_state(state: dict[str, Any]) -> None:
    state["pool"] = ["connection"]


def test_startup_runs_before_the_first_request_and_state_is_copied() -> None:
    app = LifespanApp(_fill_state)
    adapter = AsgiToWsgi(app)
    assert _get(adapter) == ("200 OK", b"['pool']")
    app.states[0]["added"] = True  # a request's changes stay its own
    assert _get(adapter) == ("200 OK", b"['pool']")
    assert app.states[0] is not app.states[1]
    assert app.states[0]["pool"] is app.states[1]["pool"]  # shallow: same objects
    assert app.events == ["lifespan.startup", "request", "request"]
    adapter.close()
    assert app.events[-1] == "lifespan.shutdown"


def test_after_close_a_request_starts_the_application_again() -> None:
    app = LifespanApp()
    adapter = AsgiToWsgi(app)
    _get(adapter)
    adapter.close()
    adapter.close()  # twice is harmless
    _get(adapter)
    assert app.events == [
        "lifespan.startup",
        "request",
        "lifespan.shutdown",
        "lifespan.startup",
        "request",
    ]
    adapter.close()


def test_concurrent_first_requests_wait_for_one_startup() -> None:
    async def slow_startup(state: dict[str, Any]) -> None:
        await asyncio.sleep(0.3)
        state["ready"] = True

    app = LifespanApp(slow_startup)
    adapter = AsgiToWsgi(app)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _get(adapter), range(8)))
    assert answers == [("200 OK", b"['ready']")] * 8
    assert app.events.count("lifespan.startup") == 1
    adapter.close()


async def _refuse(state: dict[str, Any]) -> str:
    return "lifespan.startup.failed"


def test_startup_failure_makes_every_request_a_500_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = LifespanApp(_refuse)
    adapter = AsgiToWsgi(app)
    with caplog.at_level(logging.ERROR, "asgiref.wsgi"):
        assert _get(adapter) == ("500 Internal Server Error", b"Internal Server Error")
        assert _get(adapter)[0] == "500 Internal Server Error"
    assert "request" not in app.events
    failures = [r for r in caplog.records if "startup failed" in r.getMessage()]
    assert len(failures) == 1
    assert "database unreachable" in failures[0].getMessage()
    adapter.close()


async def _no_lifespan(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        raise RuntimeError("only http here")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served"})


def test_auto_serves_an_app_without_lifespan(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "asgiref.wsgi"):
        assert _get(AsgiToWsgi(_no_lifespan)) == ("200 OK", b"served")
    assert "does not support lifespan" in caplog.text


def test_on_makes_a_failing_lifespan_a_startup_failure(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "asgiref.wsgi"):
        assert _get(AsgiToWsgi(_no_lifespan, lifespan="on"))[0] == "500 Internal Server Error"
    assert "RuntimeError: only http here" in caplog.text


def test_off_never_sends_the_lifespan_scope() -> None:
    app = LifespanApp()
    _get(AsgiToWsgi(app, lifespan="off"))
    assert app.events == ["request"]


def test_a_startup_that_never_answers_is_bounded() -> None:
    async def never(state: dict[str, Any]) -> None:
        await asyncio.sleep(60)

    began = time.monotonic()
    assert (
        _get(AsgiToWsgi(LifespanApp(never), lifespan_timeout=0.3))[0] == "500 Internal Server Error"
    )
    assert time.monotonic() - began < 5  # measured about 0.3 s


# ---------------------------------------------------------------- process life


def _run_python(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


_EXIT_SCRIPT = """
    import asyncio, functools, io
    from asgiref.wsgi import AsgiToWsgi

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    # Shutdown handlers use executors (Django's sync_to_async does):
                    # they must still be usable when this runs at exit.
                    say = functools.partial(print, "shutdown ran", flush=True)
                    await asyncio.get_running_loop().run_in_executor(None, say)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        while True:  # a request still streaming when the process exits
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                print("request cancelled", flush=True)
                raise

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "s",
               "SERVER_PORT": "80", "wsgi.input": io.BytesIO()}
    result = AsgiToWsgi(app)(environ, lambda *args: None)
    assert next(iter(result)) == b"a"
    print("served", flush=True)
"""


def test_shutdown_runs_at_interpreter_exit_and_nothing_is_left_pending() -> None:
    began = time.monotonic()
    proc = _run_python(_EXIT_SCRIPT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["served", "shutdown ran", "request cancelled"], proc.stderr
    assert "destroyed but it is pending" not in proc.stderr, proc.stderr
    assert time.monotonic() - began < 20


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _serve_in_child(adapter: AsgiToWsgi, app: LifespanApp) -> int:
    """In the forked child: the request is served by a loop of the child's own."""
    try:
        # The parent's tasks, copied into the child, must not be reported as
        # "destroyed but pending" there (gunicorn --preload shows such noise).
        records = _Records()
        logging.getLogger("asyncio").addHandler(records)
        status, _ = _get(adapter)
        gc.collect()
        threads = [t.name for t in threading.enumerate() if "AsgiToWsgi" in t.name]
        checks = [
            status == "200 OK",
            app.events.count("lifespan.startup") == 2,
            len(threads) == 1,
            records.messages == [],
        ]
        adapter.close()
        checks.append(app.events[-1] == "lifespan.shutdown")
        return sum(1 << bit for bit, passed in enumerate(checks) if not passed)
    except BaseException:
        return 100


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_an_adapter_started_before_fork_serves_in_the_child() -> None:
    app = LifespanApp()
    adapter = AsgiToWsgi(app)
    assert _get(adapter)[0] == "200 OK"  # the parent's loop and lifespan are running
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "fork() of a multi-threaded process"
        pid = os.fork()
    if pid == 0:
        os._exit(_serve_in_child(adapter, app))
    deadline = time.monotonic() + 30
    while True:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(status) == 0  # else the bits of the checks that failed
    assert _get(adapter)[0] == "200 OK"  # the parent is unaffected
    adapter.close()
