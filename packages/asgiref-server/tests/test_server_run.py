"""StatelessServer.run(): its own event loop, no implicit loop needed, clean Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from asgiref.server import StatelessServer


class OneShotServer(StatelessServer):
    """Starts one instance, lets it answer once, then ends."""

    def __init__(self, application: Any) -> None:
        super().__init__(application)
        self.replies: list[Any] = []
        self.thread_had_loop_before: bool | None = None

    async def handle(self) -> None:
        queue = self.get_or_create_application_instance("only", {"type": "oneshot"})
        await queue.put("ping")
        for _ in range(500):  # bounded: 500 x 10 ms
            if self.replies:
                return
            await asyncio.sleep(0.01)

    async def application_send(self, scope: Any, message: Any) -> None:
        self.replies.append(message)


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    await send(await receive())


@pytest.mark.timeout(20)
def test_run_in_a_thread_without_any_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    # Python 3.14 semantics: there is no implicit loop to fetch, anywhere.
    def no_implicit_loop() -> asyncio.AbstractEventLoop:
        raise AssertionError("run() must not rely on asyncio.get_event_loop()")

    monkeypatch.setattr(asyncio, "get_event_loop", no_implicit_loop)
    server = OneShotServer(echo_app)
    failures: list[BaseException] = []

    def target() -> None:
        try:
            server.run()
        except BaseException as error:  # reported to the test thread below
            failures.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert failures == []
    assert server.replies == ["ping"]
    assert server.application_instances == {}


_CTRL_C_SCRIPT = """
import asyncio, signal
from asgiref.server import StatelessServer

# A shell starts background jobs with SIGINT ignored, and Python then keeps it
# ignored; install what an interactive Python has, so SIGINT means Ctrl-C.
signal.signal(signal.SIGINT, signal.default_int_handler)

async def app(scope, receive, send):
    try:
        await receive()
    finally:
        print("instance cleaned up", flush=True)

class Idle(StatelessServer):
    async def handle(self):
        self.get_or_create_application_instance("x", {"type": "idle"})
        await asyncio.sleep(0)
        print("ready", flush=True)
        await asyncio.Event().wait()

    async def application_send(self, scope, message):
        pass

Idle(app).run()
print("run returned", flush=True)
"""


@pytest.mark.timeout(60)
def test_ctrl_c_stops_run_cleanly(tmp_path: Path) -> None:
    script = tmp_path / "serve.py"
    script.write_text(textwrap.dedent(_CTRL_C_SCRIPT), encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first_line = proc.stdout.readline()  # bounded by the test timeout
        assert first_line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert "instance cleaned up" in out
    assert "run returned" in out
    assert "Traceback" not in err
    assert "Task was destroyed" not in err
