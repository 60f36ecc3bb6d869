"""``python -m demo`` (``hatch run demo``): run the demo's checks and print the report.

    hatch run demo                      # this checkout, and upstream when it is installed
    hatch run demo --upstream PYTHON    # compare with the asgiref that PYTHON imports
    hatch run demo --no-upstream        # this checkout only
    hatch run demo --serve              # serve http://127.0.0.1:8000/ until Ctrl-C

Each line is a check of this checkout; when upstream asgiref 3.13.0 is
available (by default the benchmark's side environment for this Python,
``benchmarks/.venvs/upstream-X.Y``), the same scenario runs against it and
its outcome is printed under each line. The exit status is 1 when a check of
this checkout fails; upstream's results only inform.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from demo import bridge_checks, http_checks
from demo.outcome import Check
from demo.servers import REPO_ROOT, Launch, run_in_repo

_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
# Where benchmarks/run.py installs upstream asgiref (and uvicorn) for this Python.
UPSTREAM_VENV = REPO_ROOT / "benchmarks" / ".venvs" / f"upstream-{_VERSION}"
_INDENT = " " * 9


@dataclass(frozen=True)
class Side:
    name: str
    launch: Launch
    identity: dict[str, str]


def default_upstream() -> Path | None:
    python = UPSTREAM_VENV / "bin" / "python"
    return python if (UPSTREAM_VENV / ".complete").exists() and python.exists() else None


def _upstream_side(python: Path) -> Side | str:
    """The upstream side, or why it cannot be compared."""
    # The upstream environment has asgiref and uvicorn only: Flask comes from
    # this environment's site-packages, appended after its own.
    paths = sysconfig.get_paths()
    launch = Launch(
        str(python), append_path=tuple(dict.fromkeys((paths["purelib"], paths["platlib"])))
    )
    try:
        identity = launch.describe()
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        return f"not compared: {error}"
    if Path(identity["asgiref_file"]).is_relative_to(REPO_ROOT / "packages"):
        return f"not compared: {python} imports this checkout's asgiref"
    return Side(f"upstream asgiref {identity['asgiref']}", launch, identity)


def _run_bridge(side: Side) -> list[Check]:
    proc = run_in_repo([side.launch.python, "-m", "demo.bridge_checks"], timeout=300)
    checks = [Check.from_json(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or len(checks) != len(bridge_checks.LABELS):
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return [Check(label, False, f"not run: {last}") for label in bridge_checks.LABELS]
    return checks


def _print_section(
    title: str, sides: Sequence[Side], run: Callable[[Side], list[Check]]
) -> list[list[Check]]:
    print(title, flush=True)
    results = [run(side) for side in sides]
    for ours, *others in zip(*results, strict=True):
        print(f"  {'[ok]  ' if ours.ok else '[FAIL]'} {ours.label}: {ours.detail}")
        for side, other in zip(sides[1:], others, strict=True):
            print(f"{_INDENT}{side.name}: {other.line()}")
    return results


def _shown(path: Path) -> Path:
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path


def _describe(side: Side) -> str:
    where = _shown(Path(side.identity["asgiref_file"]).parent)
    return (
        f"  {side.name}: Python {side.identity['python']}, asgiref {side.identity['asgiref']}"
        f" from {where}, uvicorn {side.identity['uvicorn']}"
    )


def choose_upstream(upstream: Path | None) -> Side | str:
    """The upstream side to compare with, or one line saying why there is none."""
    python = upstream or default_upstream()
    if python is None:
        return (
            f"upstream asgiref 3.13.0: not compared (no {_shown(UPSTREAM_VENV)};"
            " `hatch run bench --quick` creates it, or pass --upstream PYTHON of an"
            " environment with asgiref==3.13.0 and uvicorn)"
        )
    found = _upstream_side(python)
    return found if isinstance(found, Side) else f"upstream asgiref 3.13.0: {found}"


def run_checks(upstream: Path | None, compare: bool) -> int:
    ours_launch = Launch(sys.executable)
    sides = [Side("this checkout", ours_launch, ours_launch.describe())]
    found = choose_upstream(upstream) if compare else None
    if isinstance(found, Side):
        sides.append(found)
    print("Flask through asgiref.wsgi.WsgiToAsgi under uvicorn on 127.0.0.1, and the bridge")
    for side in sides:
        print(_describe(side))
    if isinstance(found, str):
        print(f"  {found}")
    http = _print_section(
        "HTTP (uvicorn's defaults; the first check with lifespan on)",
        sides,
        lambda side: http_checks.run_all(side.launch),
    )
    bridge = _print_section("Sync/async bridge (asgiref.sync, asgiref.local)", sides, _run_bridge)
    per_side = [h + b for h, b in zip(http, bridge, strict=True)]
    failed = sum(not check.ok for check in per_side[0])
    total = len(per_side[0])
    verdict = "all checks passed" if not failed else f"{failed} of {total} checks FAILED"
    summary = f"Demo finished: {verdict}."
    for side, checks in zip(sides[1:], per_side[1:], strict=True):
        side_failed = sum(not check.ok for check in checks)
        summary += f" {side.name} failed {side_failed} of the same {total}."
    print(summary)
    return 1 if failed else 0


def serve(port: int) -> int:
    import uvicorn

    from demo.webapp import application

    print(f"Serving the Flask demo through WsgiToAsgi on http://127.0.0.1:{port}/")
    uvicorn.run(application, host="127.0.0.1", port=port)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo", description="Run the demo's checks and print the report."
    )
    parser.add_argument("--serve", action="store_true", help="serve until Ctrl-C instead")
    parser.add_argument("--port", type=int, default=8000, help="port of --serve (8000)")
    parser.add_argument("--upstream", type=Path, help="a Python with upstream asgiref and uvicorn")
    parser.add_argument("--no-upstream", action="store_true", help="do not compare with upstream")
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.port)
    return run_checks(args.upstream, compare=not args.no_upstream)


if __name__ == "__main__":
    sys.exit(main())
