"""Where a Django request's time goes: a sampling profile of the server.

For each implementation and view, the ``startproject`` site of the
end-to-end rows runs under uvicorn (through ``profile_server.py``, which
counts thread starts and crossings), a keep-alive load runs, and py-spy
samples the server process, keeping only stacks of the thread that holds the
GIL (``--gil``): Python's CPU time, without threads that wait. Each sample is
charged to the innermost frame outside the standard library (its "owner":
asgiref, django, uvicorn, h11, ...), so stdlib work a library asks for counts
as that library's; samples with no such frame (the event loop's own work,
thread bootstrap) are "stdlib". Two overlays cut across owners: thread start
and exit, and cross-thread hand-offs (stdlib synchronisation and wake-ups).

    python benchmarks/profile_django.py [--seconds 10] [--connections 1]
        [--views sync async] [--sides ours upstream] [--no-rebuild]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import django_site
import run
import servers
from httpload import Request, load
from stack import PROFILER

HERE = Path(__file__).resolve().parent
_RATE = 250  # samples per second

_OWNERS = ("asgiref", "django", "uvicorn", "h11", "click")
_THREAD_LIFECYCLE = {"start", "_bootstrap", "_bootstrap_inner", "_delete", "_stop", "join"}
# Functions (any file) that start or retire a worker thread: the executors' own.
_THREAD_LIFECYCLE_ANYWHERE = {"_adjust_thread_count", "OneThreadExecutor._start", "shutdown"}
# Standard-library frames that move work or wake-ups between threads.
_HAND_OFF_FUNCTIONS = {
    "call_soon_threadsafe",
    "_write_to_self",
    "_read_from_self",
    "run_coroutine_threadsafe",
    "run_in_executor",
    "wrap_future",
    "_chain_future",
    "_copy_future_state",
    "_call_check_cancel",
    "_call_set_state",
    "_set_state",
    "_process_self_data",
}
_HAND_OFF_FILES = ("/threading.py", "/queue.py", "/concurrent/futures/")
# asgiref's own hand-off machinery, charged to asgiref as owner and to the
# hand-off overlay as well: the waiting thread's executor and its wake-ups.
_HAND_OFF_ASGIREF = ("current_thread_executor", "wake", "_waiter_for", "_release", "Outcome")


@dataclass(frozen=True)
class _Frame:
    function: str
    path: str

    @property
    def owner(self) -> str:
        if "/site-packages/" not in self.path:
            return "project" if "benchsite" in self.path else "stdlib"
        package = self.path.split("/site-packages/", 1)[1].split("/", 1)[0]
        return package if package in _OWNERS else "other third-party"


@dataclass
class Profile:
    samples: int = 0
    owners: Counter[str] = field(default_factory=Counter)
    asgiref_functions: Counter[str] = field(default_factory=Counter)
    thread_lifecycle: int = 0
    hand_offs: int = 0


def _parse_frame(text: str) -> _Frame:
    # "function (path:line)"; the function name may itself hold spaces.
    function, _, rest = text.rpartition(" (")
    return _Frame(function, rest.rsplit(":", 1)[0])


def _is_lifecycle(frames: Sequence[_Frame]) -> bool:
    for index, frame in enumerate(frames):
        if frame.function in _THREAD_LIFECYCLE_ANYWHERE:
            return True
        if frame.path.endswith("/threading.py") and frame.function in _THREAD_LIFECYCLE:
            deeper = frames[index + 1 : index + 2]
            if frame.function != "_bootstrap_inner" or not deeper or deeper[0].function != "run":
                return True
    return False


def analyse(raw: str) -> Profile:
    """Folds py-spy's raw output (``frame;frame;... count``, outermost first)."""
    profile = Profile()
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_parse_frame(part) for part in stack.split(";") if " (" in part]
        profile.samples += count
        owner_index = next(
            (i for i in range(len(frames) - 1, -1, -1) if frames[i].owner != "stdlib"), None
        )
        owner = "stdlib" if owner_index is None else frames[owner_index].owner
        profile.owners[owner] += count
        if owner == "asgiref" and owner_index is not None:
            frame = frames[owner_index]
            module = frame.path.split("/site-packages/", 1)[1]
            profile.asgiref_functions[f"{module}:{frame.function}"] += count
        if _is_lifecycle(frames):
            profile.thread_lifecycle += count
        below_owner = frames if owner_index is None else frames[owner_index + 1 :]
        own = [] if owner != "asgiref" or owner_index is None else [frames[owner_index]]
        if any(
            f.function in _HAND_OFF_FUNCTIONS or f.path.endswith(_HAND_OFF_FILES)
            for f in below_owner
        ) or any(word in f"{f.path}:{f.function}" for f in own for word in _HAND_OFF_ASGIREF):
            profile.hand_offs += count
    return profile


def _py_spy() -> Path:
    venv = HERE / ".venvs" / "tools"
    binary = venv / "bin" / "py-spy"
    if not binary.exists():
        subprocess.run([run.uv_path(), "venv", "--quiet", "--clear", venv], check=True)
        subprocess.run(
            [
                run.uv_path(),
                "pip",
                "install",
                "--quiet",
                "--python",
                venv / "bin" / "python",
                PROFILER,
            ],
            check=True,
        )
    return binary


@dataclass
class Measured:
    side: str
    view: str
    requests: int
    counts: dict[str, int]
    profile: Profile


def _signal_and_read(server: servers.RunningServer, counts_file: Path) -> dict[str, int]:
    counts_file.unlink(missing_ok=True)
    server.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not counts_file.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not write its counts")
        time.sleep(0.05)
    time.sleep(0.05)  # let the write finish
    return dict(json.loads(counts_file.read_text()))


def measure(
    side: str, python: Path, root: Path, view: str, connections: int, seconds: float
) -> Measured:
    port = servers.free_port()
    counts_file = root / f"counts-{side}-{view}.json"
    command = servers.uvicorn_command(python, port, django_site.ASGI_APP, root)
    command[1:3] = [str(HERE / "profile_server.py"), str(counts_file)]
    request = Request(f"/{view}/")
    with servers.serve(command, port, root) as server:
        load(port, request, connections, 1.0)  # warm-up
        _signal_and_read(server, counts_file)  # start counting here
        raw_file = root / f"profile-{side}-{view}.txt"
        spy = subprocess.Popen(
            [
                str(_py_spy()),
                "record",
                "--pid",
                str(server.process.pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                str(_RATE),
                "--gil",
                "--nonblocking",
                "--full-filenames",
                "--format",
                "raw",
                "--output",
                str(raw_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result = load(port, request, connections, seconds)
        spy.wait(timeout=seconds + 30)
        counts = _signal_and_read(server, counts_file)
    requests = round(result.requests_per_second * seconds)
    return Measured(side, view, requests, counts, analyse(raw_file.read_text()))


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def report(results: Sequence[Measured]) -> list[str]:
    owners = ["asgiref", "django", "uvicorn", "h11", "stdlib", "other third-party"]
    lines = [
        "| side, view | req | GIL ms/req | "
        + " | ".join(owners)
        + " | thread start/exit | hand-offs | thread starts/req | SyncToAsync/req"
        " | AsyncToSync/req |",
        "|" + " --- |" * (len(owners) + 8),
    ]
    for m in results:
        p = m.profile
        per_request = (p.samples / _RATE * 1000 / m.requests) if m.requests else 0.0

        def per(name: str, m: Measured = m) -> str:
            return f"{m.counts.get(name, 0) / max(1, m.requests):.2f}"

        lines.append(
            f"| {m.side}, {m.view} | {m.requests} | {per_request:.2f} | "
            + " | ".join(_share(p.owners[o], p.samples) for o in owners)
            + f" | {_share(p.thread_lifecycle, p.samples)} | {_share(p.hand_offs, p.samples)}"
            f" | {per('thread starts')} | {per('SyncToAsync calls')} | {per('AsyncToSync calls')} |"
        )
    for m in results:
        top = ", ".join(
            f"{name} {_share(n, m.profile.samples)}"
            for name, n in m.profile.asgiref_functions.most_common(6)
        )
        threads = ", ".join(
            f"{k.removeprefix('thread started: ')} {v / max(1, m.requests):.2f}"
            for k, v in sorted(m.counts.items())
            if k.startswith("thread started: ")
        )
        lines.append(
            f"\n{m.side}, {m.view}: asgiref's top: {top or '-'}; threads/req: {threads or '-'}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--views", nargs="*", default=["sync", "async"])
    parser.add_argument("--sides", nargs="*", default=["ours", "upstream"])
    parser.add_argument("--no-rebuild", action="store_true", help="reuse ours' venv as it is")
    args = parser.parse_args(argv)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    pythons = {
        "ours": (
            HERE / ".venvs" / f"ours-{version}" / "bin" / "python"
            if args.no_rebuild
            else run.ours_python(version)
        ),
        "upstream": run.upstream_python(version),
    }
    results = []
    with tempfile.TemporaryDirectory(prefix="asgiref-profile-django-") as directory:
        root = django_site.create(pythons["ours"], Path(directory))
        for view in args.views:
            for side in args.sides:
                results.append(
                    measure(side, pythons[side], root, view, args.connections, args.seconds)
                )
                print(f"profiled {side} {view}", file=sys.stderr, flush=True)
    print(
        f"py-spy {PROFILER.split('==')[1]}, --gil --rate {_RATE}, {args.seconds:.0f} s per row,"
        f" {args.connections} connection(s), Python {sys.version.split()[0]}\n"
    )
    print("\n".join(report(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
