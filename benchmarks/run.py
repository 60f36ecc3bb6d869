"""Benchmark: this tree's asgiref against upstream asgiref 3.13.0, and both against the floor.

Each side is installed from its wheels into a virtual environment of its own
(both provide the import name ``asgiref``; ours is rebuilt from this tree on
every run, so imports are timed as users install them, not as an editable
layout with one source directory per distribution). Every case runs in fresh processes, interleaved
round by round (ours, upstream / upstream, ours, ...), and each process times
its case and the floor alternately, so what is reported are medians of ratios
taken side by side on one machine, with their spread, never absolute times.

    hatch run bench            # full run (a few minutes)
    hatch run bench --quick    # proves every case still runs (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES = HERE.parent / "packages"
UPSTREAM = "asgiref==3.13.0"
SERVER_REQUIREMENTS = ("uvicorn",)

# case -> (what the floor is, target ratio to the floor or None)
CASE_INFO: dict[str, tuple[str, float | None]] = {
    "s2a_sensitive_reused": ("run_in_executor, 1-thread pool", 1.10),
    "s2a_sensitive_inline": ("run_in_executor, 1-thread pool", None),
    "s2a_insensitive_reused": ("run_in_executor, default pool", None),
    "s2a_gather_1000": ("gather of run_in_executor, 1-thread pool", 1.30),
    "a2s_plain_thread": ("run_coroutine_threadsafe into a running loop", 2.0),
    "a2s_nested_in_s2a": ("run_coroutine_threadsafe into the outer loop", 0.87),
    "ping_pong_4": ("4 hops: run_coroutine_threadsafe / run_in_executor", None),
    "local_sync": ("threading.local set+get", 4.0),
    "local_sync_fresh": ("threading.local set+get, a new value each write", None),
    "local_async": ("ContextVar set+get", None),
    "local_across_crossing": ("ContextVar + run_in_executor in a copied context", None),
    "wsgi_in_process": ("raw ASGI app, in process", None),
    "import_sync": ("import asyncio", 1.05),
    "import_typing": ("import typing", 1.05),
    "import_typing_first_use": ("import typing", None),
    "import_wsgi": ("import asyncio", None),
}


@dataclass
class Implementation:
    label: str
    python: Path


@dataclass
class Samples:
    ratios: dict[str, list[float]] = field(default_factory=dict)  # label -> case/floor
    seconds: dict[str, list[float]] = field(default_factory=dict)  # label -> case time

    def add(self, label: str, case: float, floor: float) -> None:
        self.ratios.setdefault(label, []).append(case / floor)
        self.seconds.setdefault(label, []).append(case)


def _clean_env() -> dict[str, str]:
    # Bytecode is cached (outside the source trees), as in a user's install:
    # with PYTHONDONTWRITEBYTECODE set, every import case would also time
    # compiling the sources of whichever asgiref is measured.
    dropped = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PYTHONPYCACHEPREFIX"] = str(HERE / ".venvs" / "pycache")
    return env


def _uv() -> str:
    return shutil.which("uv") or str(Path(sys.executable).with_name("uv"))


def _venv_with(name: str, requirements: Sequence[str | Path], *, rebuild: bool) -> Path:
    """A venv under .venvs/ holding ``requirements`` and the server the
    uvicorn cases need (kept between runs unless ``rebuild``)."""
    venv = HERE / ".venvs" / name
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    if rebuild or not marker.exists():
        marker.unlink(missing_ok=True)
        subprocess.run(
            [_uv(), "venv", "--quiet", "--clear", "--python", sys.executable, venv], check=True
        )
        # --no-cache: uv would otherwise reuse wheels it built from these
        # directories before the sources changed.
        subprocess.run(
            [
                _uv(),
                "pip",
                "install",
                "--quiet",
                "--no-cache",
                "--python",
                python,
                *map(str, requirements),
                *SERVER_REQUIREMENTS,
            ],
            check=True,
            env=_clean_env(),
        )
        marker.write_text("ok")
    return python


def upstream_python(python_version: str) -> Path:
    """A venv holding upstream asgiref (created once, reused by later runs)."""
    return _venv_with(f"upstream-{python_version}", [UPSTREAM], rebuild=False)


def ours_python(python_version: str) -> Path:
    """A venv holding this tree's six distributions, built as wheels now."""
    distributions = sorted(
        path for path in PACKAGES.iterdir() if (path / "pyproject.toml").exists()
    )
    return _venv_with(f"ours-{python_version}", distributions, rebuild=True)


def describe(impl: Implementation) -> str:
    probe = "import asgiref, asgiref.sync; print(asgiref.__version__, asgiref.sync.__file__)"
    out = subprocess.run(
        [impl.python, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE,
        env=_clean_env(),
    )
    return out.stdout.strip()


def run_case(impl: Implementation, case: str, n: int) -> tuple[float, float]:
    proc = subprocess.run(
        [impl.python, str(HERE / "cases.py"), case, "--n", str(n)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=HERE,
        env=_clean_env(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{impl.label} {case} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(result["case"]), float(result["floor"])


# --- HTTP load against uvicorn ------------------------------------------------------------

_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def _connection(port: int, stop_at: float, counts: dict[str, int]) -> None:
    """One keep-alive client; a broken connection is counted and replaced."""
    while time.perf_counter() < stop_at:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                writer.write(_REQUEST)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                counts["ok" if head.startswith(b"HTTP/1.1 200") else "errors"] += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            counts["errors"] += 1
        finally:
            writer.close()


async def _load(port: int, connections: int, seconds: float) -> tuple[float, int]:
    counts = {"ok": 0, "errors": 0}
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(port, started + seconds, counts) for _ in range(connections))
    )
    return counts["ok"] / (time.perf_counter() - started), counts["errors"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_and_load(python: Path, app: str, connections: int, seconds: float) -> tuple[float, int]:
    port = _free_port()
    command = [
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
        str(HERE),
        f"apps:{app}",
    ]
    # The server's own log is not part of the result: failures are counted from
    # the responses (upstream logs a traceback for each of its keep-alive 500s).
    server = subprocess.Popen(command, cwd=HERE, env=_clean_env(), stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"server {command} did not start") from None
                time.sleep(0.05)
        asyncio.run(_load(port, connections, min(0.5, seconds)))  # warm-up
        return asyncio.run(_load(port, connections, seconds))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- report -------------------------------------------------------------------------------


def _spread(values: Sequence[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def report(
    results: dict[str, Samples],
    http: dict[int, dict[str, list[tuple[float, int]]]],
    labels: Sequence[str],
) -> list[str]:
    ours, upstream = labels
    lines = [
        "| case | floor | upstream x floor | ours x floor (spread) | ours time / upstream time"
        " | target (ours x floor) | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case, samples in results.items():
        floor_text, target = CASE_INFO[case]
        up = statistics.median(samples.ratios[upstream])
        our = statistics.median(samples.ratios[ours])
        versus = statistics.median(
            a / b for a, b in zip(samples.seconds[ours], samples.seconds[upstream], strict=True)
        )
        met = "-" if target is None else ("yes" if our <= target else "NO")
        target_text = "-" if target is None else f"<= {target:.2f}x"
        lines.append(
            f"| {case} | {floor_text} | {up:.2f}x | {our:.2f}x ({_spread(samples.ratios[ours])})"
            f" | {versus:.2f} | {target_text} | {met} |"
        )
    if http:
        lines += [
            "",
            "| uvicorn, connections | floor (raw ASGI) req/s | upstream req/s (errors)"
            " | ours req/s (errors) | ours / upstream | target | met |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for connections, by_label in http.items():
            med = {k: statistics.median(r for r, _ in v) for k, v in by_label.items()}
            errors = {k: sum(e for _, e in v) for k, v in by_label.items()}
            ratio = med[ours] / med[upstream] if med[upstream] else float("inf")
            target = 1.6 if connections == 64 else None
            met = "-" if target is None else ("yes" if ratio >= target else "NO")
            lines.append(
                f"| {connections} | {med['floor']:.0f} | {med[upstream]:.0f} ({errors[upstream]})"
                f" | {med[ours]:.0f} ({errors[ours]}) | {ratio:.2f}x"
                f" | {'-' if target is None else f'>= {target:.1f}x'} | {met} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="asgiref benchmark: ours vs upstream vs floor")
    parser.add_argument("--quick", action="store_true", help="few, short rounds (CI smoke run)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--cases", nargs="*", default=None, help="subset of cases to run")
    parser.add_argument("--no-http", action="store_true", help="skip the uvicorn cases")
    parser.add_argument("--json", type=Path, default=None, help="write raw samples here")
    args = parser.parse_args(argv)
    # A runtime check: type checkers evaluate `sys.version_info < ...` statically.
    if (sys.version_info.major, sys.version_info.minor) < (3, 11):
        parser.error("upstream asgiref 3.13.0 needs Python >= 3.11; run the benchmark on 3.11+")

    rounds = args.rounds or (1 if args.quick else 7)
    n = 200 if args.quick else 3000
    # Import cases: n is the number of fresh interpreters per module, per round.
    n_imports = 2 if args.quick else 7
    seconds = 0.5 if args.quick else 3.0
    cases = args.cases or list(CASE_INFO)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"

    impls = [
        Implementation("ours", ours_python(version)),
        Implementation("upstream", upstream_python(version)),
    ]
    for impl in impls:
        print(f"{impl.label:9} {describe(impl)}", flush=True)
    labels = [impl.label for impl in impls]

    results: dict[str, Samples] = {case: Samples() for case in cases}
    http: dict[int, dict[str, list[tuple[float, int]]]] = {}
    for round_number in range(rounds):
        # Alternate who goes first, so neither always meets a warmer machine.
        order = impls if round_number % 2 == 0 else impls[::-1]
        for case in cases:
            for impl in order:
                count = n_imports if case.startswith("import_") else n
                results[case].add(impl.label, *run_case(impl, case, count))
        if not args.no_http:
            for connections in (1, 64):
                row = http.setdefault(connections, {})
                for label, python, app in [
                    *((impl.label, impl.python, "wsgi") for impl in order),
                    ("floor", Path(sys.executable), "raw"),
                ]:
                    row.setdefault(label, []).append(
                        serve_and_load(python, app, connections, seconds)
                    )
        print(f"round {round_number + 1}/{rounds} done", flush=True)

    print(f"\nPython {sys.version.split()[0]}, {rounds} round(s), medians of ratios:\n")
    print("\n".join(report(results, http, labels)))
    if args.json:
        raw = {case: {"ratios": s.ratios, "seconds": s.seconds} for case, s in results.items()}
        args.json.write_text(json.dumps({"cases": raw, "http": http}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
