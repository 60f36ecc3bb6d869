"""How far a Django request can go: the end-to-end Django rows served by
upstream, by ours, and by two floors of a bridge, side by side.

Both floors run ours' venv with ``sync_to_async`` / ``ThreadSensitiveContext``
replaced, in the server process only, by the least work a bridge could do
(``django_floor.py``): one ``run_in_executor`` per crossing, no bookkeeping.
``floor`` sends every thread-sensitive call of every request to one
process-wide thread (cheaper than any correct bridge: concurrent requests
share a thread); ``floor-ctx`` starts a thread per ``ThreadSensitiveContext``,
so per request, as upstream and ours do. Issue 22's Django targets are ratios
of ours to upstream; floor/upstream is the most any bridge could reach on this
stack, ours/floor how close ours is to it, and ours/floor-ctx how close ours
is to the least a bridge with upstream's thread per request could do.

First a check that the floors took effect: each view is served once by ours
(through ``profile_server.py``) and once by each floor, with every crossing
counted during a measured load; a floor must take as many crossings per
request as ours, none through ours' ``SyncToAsync``. Then rounds as in
``e2e.run_django``: the same generated ``startproject`` site, one server per
side per round serving every row, the sides' order rotating from round to
round; ratios are taken per round and their median (min-max) reported.

    cd <a private tree> && python benchmarks/django_bound.py [--rounds 5]
        [--seconds 3] [--rows async sync session] [--floors floor floor-ctx]
        [--no-rebuild]

(the interpreter: hatch's ``main`` environment, Python >= 3.11; venvs under
``benchmarks/.venvs/`` as ``run.py``'s, ours rebuilt unless ``--no-rebuild``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import django_floor
import django_site
import e2e
import run
import servers
from e2e_report import _paired, _ratio_text
from httpload import Request, load
from profile_django import _signal_and_read

HERE = Path(__file__).resolve().parent
# side -> django_floor.py's MODE for the floors, None for a plain uvicorn.
_FLOOR_MODES: dict[str, str | None] = {
    "upstream": None,
    "ours": None,
    "floor": "process",
    "floor-ctx": "context",
}
SIDES = tuple(_FLOOR_MODES)
FLOORS = tuple(side for side, mode in _FLOOR_MODES.items() if mode)

# The crossings the floor took over, per request, may differ from ours' by this
# much: requests are counted from req/s and the time around the load.
_COUNT_TOLERANCE = 0.1


def _command(python: Path, port: int, root: Path, script: Sequence[str], out: Path) -> list[str]:
    """uvicorn serving the site; with ``script``, ``python script... OUT
    <uvicorn arguments>`` in place of ``python -m uvicorn``."""
    command = servers.uvicorn_command(python, port, django_site.ASGI_APP, root)
    if script:
        command[1:3] = [*script, str(out)]
    return command


def _script(side: str) -> list[str]:
    mode = _FLOOR_MODES[side]
    return [str(HERE / "django_floor.py"), mode] if mode else []


@dataclass(frozen=True)
class Counted:
    view: str
    side: str
    ours: dict[str, float]
    floor: dict[str, float]


def _counts_per_request(
    python: Path, root: Path, script: Sequence[str], view: str, seconds: float
) -> dict[str, float]:
    port = servers.free_port()
    out = root / f"counts-{view}.json"
    request = Request(f"/{view}/")
    with servers.serve(_command(python, port, root, script, out), port, root) as server:
        load(port, request, 1, 0.5)  # warm-up
        _signal_and_read(server, out)  # counting starts here
        started = time.perf_counter()
        result = load(port, request, 1, seconds)
        # load() reports ok / its own elapsed time, which this brackets.
        requests = max(1.0, result.requests_per_second * (time.perf_counter() - started))
        counts = _signal_and_read(server, out)
    if result.errors:
        raise RuntimeError(f"{script} answered {result.errors} non-200s on /{view}/")
    return {name: count / requests for name, count in counts.items()}


def check_floors(
    ours: Path, root: Path, views: Sequence[str], floors: Sequence[str], seconds: float
) -> list[Counted]:
    """Counts crossings per request on ours and on each floor; raises if a
    floor did not take each one of ours'."""
    counted = []
    for view in views:
        mine = _counts_per_request(ours, root, [str(HERE / "profile_server.py")], view, seconds)
        for side in floors:
            floor = _counts_per_request(ours, root, _script(side), view, seconds)
            counted.append(Counted(view, side, mine, floor))
            taken = floor.get(django_floor.FLOOR_CALLS, 0.0)
            expected = mine.get("SyncToAsync calls", 0.0)
            if abs(taken - expected) > _COUNT_TOLERANCE or floor.get(django_floor.CLASS_CALLS):
                raise RuntimeError(f"{side} did not replace the bridge: {counted[-1]}")
    return counted


def _count_table(counted: Sequence[Counted]) -> list[str]:
    lines = [
        "| view, floor | ours SyncToAsync calls/req | ours AsyncToSync calls/req"
        " | ours thread starts/req | floor crossings/req | floor via SyncToAsync/req"
        " | floor contexts/req | floor AsyncToSync calls/req |",
        "|" + " --- |" * 8,
    ]
    for c in counted:
        values = [
            c.ours.get("SyncToAsync calls", 0.0),
            c.ours.get("AsyncToSync calls", 0.0),
            c.ours.get("thread starts", 0.0),
            c.floor.get(django_floor.FLOOR_CALLS, 0.0),
            c.floor.get(django_floor.CLASS_CALLS, 0.0),
            c.floor.get(django_floor.CONTEXTS, 0.0),
            c.floor.get(django_floor.ASYNC_TO_SYNC_CALLS, 0.0),
        ]
        lines.append(f"| {c.view}, {c.side} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
    return lines


def run_rounds(
    pythons: dict[str, Path],
    root: Path,
    rows: Sequence[e2e.Row],
    sides: Sequence[str],
    rounds: int,
    timing: e2e.Timing,
    progress: Callable[[str], None],
) -> e2e.GroupResult:
    result = e2e.GroupResult("Django startproject under uvicorn: the floor", list(rows), [*sides])
    for round_number in range(rounds):
        # Rotated, so each side takes each place in the order equally often.
        shift = round_number % len(sides)
        for side in (*sides[shift:], *sides[:shift]):
            port = servers.free_port()
            out = root / "counts-round.json"
            command = _command(pythons[side], port, root, _script(side), out)
            with servers.serve(command, port, root) as server:
                for row in rows:
                    result.add(row, side, e2e._measure(server, row, timing))
        progress(f"round {round_number + 1}/{rounds}")
    return result


def _met(ratios: Sequence[float], target: float | None) -> str:
    if target is None:
        return "-"
    return "yes" if statistics.median(ratios) >= target else "NO"


def bound_table(result: e2e.GroupResult) -> list[str]:
    """Per row: medians per side, then each floor and ours against upstream
    (whether each meets issue 22's target) and ours against each floor."""
    sides = result.sides
    floors = [side for side in sides if side in FLOORS]
    versus = [(side, "upstream") for side in [*floors, "ours"]] + [("ours", f) for f in floors]
    header = [
        "row",
        *(f"{side} req/s" for side in sides),
        *(f"{a}/{b}" for a, b in versus),
        "target (x upstream)",
        *(f"{side} meets it" for side in [*floors, "ours"]),
        *(f"{side} p99 ms" for side in sides),
        "errors " + " / ".join(sides),
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in result.rows:
        by_side = result.samples[row.name]
        ratios = {pair: _paired(by_side[pair[0]], by_side[pair[1]], rss=False) for pair in versus}
        target = e2e.DJANGO_TARGETS.get(row.name.split()[0])
        cells = [
            row.name,
            *(f"{statistics.median(m.requests_per_second for m in by_side[s]):.0f}" for s in sides),
            *(_ratio_text(ratios[pair]) for pair in versus),
            f">= {target:.1f}x" if target else "-",
            *(_met(ratios[(side, "upstream")], target) for side in [*floors, "ours"]),
            *(f"{statistics.median(m.p99_ms for m in by_side[s]):.1f}" for s in sides),
            " / ".join(str(sum(m.errors for m in by_side[s])) for s in sides),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="load time per row")
    parser.add_argument(
        "--rows",
        nargs="*",
        choices=["async", "sync", "session"],
        default=["async", "sync", "session"],
    )
    parser.add_argument("--floors", nargs="*", choices=FLOORS, default=list(FLOORS))
    parser.add_argument("--check-seconds", type=float, default=2.0, help="load time per check")
    parser.add_argument("--no-rebuild", action="store_true", help="reuse ours' venv as it is")
    args = parser.parse_args(argv)
    if (sys.version_info.major, sys.version_info.minor) < (3, 11):
        parser.error("upstream asgiref 3.13.0 needs Python >= 3.11")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    ours = (
        HERE / ".venvs" / f"ours-{version}" / "bin" / "python"
        if args.no_rebuild
        else run.ours_python(version)
    )
    sides = ["upstream", "ours", *args.floors]
    pythons = dict.fromkeys(sides, ours) | {"upstream": run.upstream_python(version)}
    rows = [row for row in e2e._DJANGO_ROWS if row.name.split()[0] in args.rows]
    timing = e2e.Timing(warm_up=min(0.5, args.seconds / 2), seconds=args.seconds)
    with tempfile.TemporaryDirectory(prefix="asgiref-django-bound-") as directory:
        root = django_site.create(ours, Path(directory))
        counted = check_floors(ours, root, args.rows, args.floors, args.check_seconds)
        print("\n".join(_count_table(counted)), flush=True)
        result = run_rounds(
            pythons,
            root,
            rows,
            sides,
            args.rounds,
            timing,
            lambda line: print(line, flush=True),
        )
    print(
        f"\nPython {sys.version.split()[0]}, {args.rounds} round(s) of {args.seconds:g} s"
        " per row, medians of paired ratios (min-max):\n"
    )
    print("\n".join(bound_table(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
