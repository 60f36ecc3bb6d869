"""Benchmark: this tree's asgiref against upstream asgiref 3.13.0, and both against the floor.

Each side is installed from its wheels into a virtual environment of its own
(both provide the import name ``asgiref``; ours is rebuilt from this tree on
every run, so imports are timed as users install them, not as an editable
layout with one source directory per distribution). Every case runs in fresh processes, interleaved
round by round (ours, upstream / upstream, ours, ...), and each process times
its case and the floor alternately, so what is reported are medians of ratios
taken side by side on one machine, with their spread, never absolute times.

    hatch run bench                 # full run
    hatch run bench --quick         # proves every row still runs (CI)
    hatch run bench --only e2e      # row groups: see --help

The modules beside this one each do one job: ``cases.py`` (in-process cases),
``e2e.py`` / ``e2e_report.py`` (whole requests through real servers),
``servers.py``, ``httpload.py``, ``stack.py`` (every third-party pin),
``django_site.py``, ``apps*.py``, ``profile_django.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import e2e
import e2e_report
import servers
from httpload import Request, load
from stack import STACK, UPSTREAM, fingerprint

HERE = Path(__file__).resolve().parent
PACKAGES = HERE.parent / "packages"
# Row groups for --only; "e2e" stands for every end-to-end group.
GROUPS = ("cases", "http", *e2e.GROUPS)

# case -> (what the floor is, target ratio to the floor or None)
CASE_INFO: dict[str, tuple[str, float | None]] = {
    "s2a_sensitive_reused": ("run_in_executor, 1-thread pool", 1.10),
    "s2a_sensitive_inline": ("run_in_executor, 1-thread pool", None),
    "s2a_insensitive_reused": ("run_in_executor, default pool", None),
    "s2a_gather_1000": ("gather of run_in_executor, 1-thread pool", 1.30),
    "s2a_gather_1000_insensitive": ("gather of run_in_executor, default pool", 1.20),
    "a2s_plain_thread": ("run_coroutine_threadsafe into a running loop", 2.0),
    "a2s_nested_in_s2a": ("run_coroutine_threadsafe into the outer loop", 0.87),
    "ping_pong_4": ("4 hops: run_coroutine_threadsafe / run_in_executor", None),
    "local_sync": ("threading.local set+get, a new value each write", 4.0),
    "local_sync_same": ("threading.local set+get, the same value each write", None),
    "local_sync_shared_name": (
        "threading.local set+get, a new value each write; another Local uses the name",
        None,
    ),
    "local_async": ("ContextVar set+get", None),
    "local_across_crossing": ("ContextVar + run_in_executor in a copied context", None),
    "wsgi_in_process": ("raw ASGI app, in process", None),
    # Issue 21: plain code may cost up to 1.10x `import asyncio` (was 1.05x).
    "import_sync": ("import asyncio", 1.10),
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


def uv_path() -> str:
    return shutil.which("uv") or str(Path(sys.executable).with_name("uv"))


def _venv_with(name: str, requirements: Sequence[str | Path], *, rebuild: bool) -> Path:
    """A venv under .venvs/ holding ``requirements`` and the pinned stack
    (kept between runs unless ``rebuild`` or the pins changed)."""
    venv = HERE / ".venvs" / name
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    pins = fingerprint(STACK)
    if rebuild or not marker.exists() or marker.read_text() != pins:
        marker.unlink(missing_ok=True)
        subprocess.run(
            [uv_path(), "venv", "--quiet", "--clear", "--python", sys.executable, venv], check=True
        )
        # --no-cache: uv would otherwise reuse wheels it built from these
        # directories before the sources changed.
        subprocess.run(
            [
                uv_path(),
                "pip",
                "install",
                "--quiet",
                "--no-cache",
                "--python",
                python,
                *map(str, requirements),
                *STACK,
            ],
            check=True,
            env=servers.clean_env(),
        )
        marker.write_text(pins)
    return python


def upstream_python(python_version: str) -> Path:
    """A venv holding upstream asgiref (created once, reused by later runs)."""
    return _venv_with(f"upstream-{python_version}", [UPSTREAM], rebuild=False)


def ours_python(python_version: str, packages: Path = PACKAGES) -> Path:
    """A venv holding the six distributions under ``packages`` (this tree's,
    unless told otherwise), built as wheels now."""
    distributions = sorted(
        path for path in packages.iterdir() if (path / "pyproject.toml").exists()
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
        env=servers.clean_env(),
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
        env=servers.clean_env(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{impl.label} {case} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(result["case"]), float(result["floor"])


# --- WsgiToAsgi(hello) under uvicorn ----------------------------------------------------


def serve_and_load(python: Path, app: str, connections: int, seconds: float) -> tuple[float, int]:
    port = servers.free_port()
    command = servers.uvicorn_command(python, port, f"apps:{app}", HERE)
    with servers.serve(command, port, HERE):
        load(port, Request(), connections, min(0.5, seconds))  # warm-up
        result = load(port, Request(), connections, seconds)
    return result.requests_per_second, result.errors


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


def _groups(only: Sequence[str] | None, no_http: bool) -> list[str]:
    chosen = set(only or GROUPS)
    if "e2e" in chosen:
        chosen = (chosen - {"e2e"}) | set(e2e.GROUPS)
    if no_http:
        chosen -= {"http", *e2e.GROUPS}
    return [group for group in GROUPS if group in chosen]


def _run_cases(
    impls: Sequence[Implementation], cases: Sequence[str], rounds: int, quick: bool
) -> dict[str, Samples]:
    n = 200 if quick else 3000
    # Import cases: n is the number of fresh interpreters per module, per round.
    n_imports = 2 if quick else 7
    results: dict[str, Samples] = {case: Samples() for case in cases}
    for round_number in range(rounds):
        # Alternate who goes first, so neither always meets a warmer machine.
        order = impls if round_number % 2 == 0 else impls[::-1]
        for case in cases:
            for impl in order:
                count = n_imports if case.startswith("import_") else n
                results[case].add(impl.label, *run_case(impl, case, count))
        print(f"cases round {round_number + 1}/{rounds} done", flush=True)
    return results


def _run_http(
    impls: Sequence[Implementation], rounds: int, seconds: float
) -> dict[int, dict[str, list[tuple[float, int]]]]:
    http: dict[int, dict[str, list[tuple[float, int]]]] = {}
    for round_number in range(rounds):
        order = impls if round_number % 2 == 0 else impls[::-1]
        for connections in (1, 64):
            row = http.setdefault(connections, {})
            for label, python, app in [
                *((impl.label, impl.python, "wsgi") for impl in order),
                ("floor", Path(sys.executable), "raw"),
            ]:
                row.setdefault(label, []).append(serve_and_load(python, app, connections, seconds))
        print(f"http round {round_number + 1}/{rounds} done", flush=True)
    return http


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="asgiref benchmark: ours vs upstream vs floor")
    parser.add_argument("--quick", action="store_true", help="few, short rounds (CI smoke run)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--cases", nargs="*", default=None, help="subset of cases to run")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=[*GROUPS, "e2e"],
        default=None,
        help="row groups to run (default: all); e2e = django flask asgitowsgi",
    )
    parser.add_argument("--no-http", action="store_true", help="skip every row that runs a server")
    parser.add_argument(
        "--e2e-seconds", type=float, default=None, help="load time per end-to-end row"
    )
    parser.add_argument("--json", type=Path, default=None, help="write raw samples here")
    parser.add_argument(
        "--packages",
        type=Path,
        default=PACKAGES,
        help="where ours' distributions are (e.g. an export of a commit: `git archive`)",
    )
    args = parser.parse_args(argv)
    # A runtime check: type checkers evaluate `sys.version_info < ...` statically.
    if (sys.version_info.major, sys.version_info.minor) < (3, 11):
        parser.error("upstream asgiref 3.13.0 needs Python >= 3.11; run the benchmark on 3.11+")

    groups = _groups(args.only, args.no_http)
    rounds = args.rounds or (1 if args.quick else 7)
    seconds = 0.5 if args.quick else 3.0
    e2e_seconds = args.e2e_seconds or (1.0 if args.quick else 3.0)
    timing = e2e.Timing(warm_up=min(0.5, e2e_seconds / 2), seconds=e2e_seconds)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"

    impls = [
        Implementation("ours", ours_python(version, args.packages)),
        Implementation("upstream", upstream_python(version)),
    ]
    for impl in impls:
        print(f"{impl.label:9} {describe(impl)}", flush=True)
    labels = [impl.label for impl in impls]

    results = (
        _run_cases(impls, args.cases or list(CASE_INFO), rounds, args.quick)
        if "cases" in groups
        else {}
    )
    http = _run_http(impls, rounds, seconds) if "http" in groups else {}
    end_to_end = {
        group: e2e.RUNNERS[group](
            impls[0].python, impls[1].python, rounds, timing, lambda line: print(line, flush=True)
        )
        for group in e2e.GROUPS
        if group in groups
    }

    print(f"\nPython {sys.version.split()[0]}, {rounds} round(s), medians of ratios:\n")
    if results or http:
        print("\n".join(report(results, http, labels)))
    for group, result in end_to_end.items():
        print("\n" + "\n".join(e2e_report.table(group, result)))
    if args.json:
        raw = {case: {"ratios": s.ratios, "seconds": s.seconds} for case, s in results.items()}
        e2e_raw = {group: e2e.to_json(result) for group, result in end_to_end.items()}
        args.json.write_text(json.dumps({"cases": raw, "http": http, "e2e": e2e_raw}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
