"""Starting and stopping a demo server process, and reading what it logged.

A ``Launch`` says which interpreter serves which app; ``launch.running()``
starts ``python -m demo.serve`` with it on a free port of 127.0.0.1, waits
until it accepts connections or exits, and stops it with Ctrl-C (SIGINT, so
uvicorn runs the lifespan shutdown) when the block ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_STARTUP_SECONDS = 30.0
_STOP_SECONDS = 15.0
# A line of a traceback's last frame, such as "RuntimeError: it broke".
_EXCEPTION_LINE = re.compile(r"^[\w.]*(?:Error|Exception|Exit)\b.*", re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A server process started by ``Launch.running``."""

    base: str
    process: subprocess.Popen[bytes]
    log_file: Path
    started: bool = False
    # The whole log, kept once the process has ended (its file goes with it).
    final_log: bytes | None = None

    def _log_bytes(self) -> bytes:
        return self.log_file.read_bytes() if self.final_log is None else self.final_log

    def log(self) -> str:
        return self._log_bytes().decode("utf-8", errors="replace")

    def log_size(self) -> int:
        return len(self._log_bytes())

    def last_exception(self, since: int = 0) -> str | None:
        """The last exception line the server logged after byte ``since``."""
        found = _EXCEPTION_LINE.findall(self._log_bytes()[since:].decode("utf-8", "replace"))
        return None if not found else str(found[-1])

    def startup_failure(self) -> str:
        """Why the server is not serving, in a few words."""
        status = self.process.poll()
        if status is None:
            return f"not listening after {_STARTUP_SECONDS:.0f} s"
        return self.last_exception() or f"exit status {status}"


@dataclass(frozen=True)
class Launch:
    """How to start a demo server: the interpreter, the app, extra import paths."""

    python: str
    app: str | None = None
    append_path: tuple[str, ...] = ()

    def _serve(self) -> list[str]:
        command = [self.python, "-m", "demo.serve"]
        for directory in self.append_path:
            command += ["--append-path", directory]
        return command

    def describe(self) -> dict[str, str]:
        """The Python, asgiref and uvicorn this launch serves with."""
        proc = run_in_repo([*self._serve(), "--describe"], timeout=60)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"{self.python} cannot serve the demo: {last}")
        return {k: str(v) for k, v in json.loads(proc.stdout.splitlines()[-1]).items()}

    @contextlib.contextmanager
    def running(self, lifespan: str = "auto") -> Iterator[Server]:
        with tempfile.TemporaryDirectory(prefix="asgiref-demo-") as scratch:
            port = free_port()
            command = [*self._serve(), "--port", str(port), "--lifespan", lifespan]
            if self.app:
                command += ["--app", self.app]
            log_file = Path(scratch) / "server.log"
            with log_file.open("wb") as log:
                process = subprocess.Popen(
                    command,
                    cwd=REPO_ROOT,
                    env=server_env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            server = Server(f"http://127.0.0.1:{port}", process, log_file)
            try:
                server.started = _wait_until_serving(process, port)
                yield server
            finally:
                _stop(process)
                server.final_log = log_file.read_bytes()


def server_env() -> dict[str, str]:
    """os.environ without what would make another interpreter import this one's packages."""
    dropped = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    return {k: v for k, v in os.environ.items() if k not in dropped}


def run_in_repo(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a demo module's command from the repository root, output captured."""
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO_ROOT,
        env=server_env(),
    )


def _wait_until_serving(process: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
