"""Server processes of the benchmark: start on 127.0.0.1, wait until they
listen, read their peak memory, stop them.

Peak RSS is the kernel's ``VmHWM`` of the process that runs the application,
read just before the server is stopped, so it covers the warm-up and the whole
measured load: the server's own process, or for gunicorn the largest of its
workers. gunicorn's arbiter never imports the application (no ``--preload``),
yet its peak (about 26.6 MiB on 3.11) is above a worker's (about 23 MiB): as
the largest of all the processes it hid every difference between the sides.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without what would make a venv import
    something else than what it installed."""
    # Bytecode is cached (outside the source trees), as in a user's install:
    # with PYTHONDONTWRITEBYTECODE set, every import case would also time
    # compiling the sources of whichever asgiref is measured.
    dropped = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PYTHONPYCACHEPREFIX"] = str(Path(__file__).resolve().parent / ".venvs" / "pycache")
    env.update(extra)
    return env


def uvicorn_command(python: Path, port: int, app: str, app_dir: Path) -> list[str]:
    """uvicorn with its default settings (h11, asyncio loop), quiet."""
    return [
        str(python),
        "-m",
        "uvicorn",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--app-dir",
        str(app_dir),
        app,
    ]


GUNICORN_WORKERS = 1
GUNICORN_THREADS = 8


def gunicorn_command(python: Path, port: int, app: str, app_dir: Path) -> list[str]:
    """gunicorn, gthread worker class, the same workers and threads for every side."""
    return [
        str(python),
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(GUNICORN_WORKERS),
        "--threads",
        str(GUNICORN_THREADS),
        "--log-level",
        "error",
        "--chdir",
        str(app_dir),
        app,
    ]


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for current in found:
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        found.extend(int(child) for child in children)
    return found


def _peak_rss_kib(pid: int) -> int:
    processes = _descendants(pid)
    # A pre-forking server: its workers serve, the parent only supervises them.
    workers = processes[1:] or processes
    peak = 0
    for process in workers:
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak


@dataclass
class RunningServer:
    port: int
    process: subprocess.Popen[bytes]

    def peak_rss_mib(self) -> float:
        return _peak_rss_kib(self.process.pid) / 1024


def _wait_listening(port: int, process: subprocess.Popen[bytes], command: Sequence[str]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"server {list(command)} did not start") from None
            time.sleep(0.05)


@contextmanager
def serve(
    command: Sequence[str], port: int, cwd: Path, env: Mapping[str, str] | None = None
) -> Iterator[RunningServer]:
    # The server's own log is not part of the result: failures are counted from
    # the responses (upstream logs a traceback for each of its keep-alive 500s).
    # BENCH_SERVER_LOG=1 shows it, to find out why a row counts errors.
    log = None if os.environ.get("BENCH_SERVER_LOG") else subprocess.DEVNULL
    # A session of its own: if the server does not stop, its workers are
    # killed with it (gunicorn's arbiter alone would leave them running).
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env or clean_env()),
        stderr=log,
        start_new_session=True,
    )
    try:
        _wait_listening(port, process, command)
        yield RunningServer(port, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
