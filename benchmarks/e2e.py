"""End-to-end rows: whole requests through a real server, side by side.

Three groups, each a set of rows measured on several sides (which asgiref or
which peer adapter serves the request):

- ``django``: a ``startproject`` Django site under uvicorn, ours against
  upstream; an async view, the same view sync, a sync view reading and
  writing a session row; 1 and 32 keep-alive connections. One server per side
  per round serves all six rows.
- ``flask``: a Flask app under uvicorn through ours' ``WsgiToAsgi``,
  upstream's, and ``a2wsgi.WSGIMiddleware`` (in ours' venv: it does not use
  asgiref); hello, 1 MiB streamed, 10 MiB upload; 64 connections. A fresh
  server per row and side, so its peak RSS belongs to that row alone.
- ``asgitowsgi``: an ASGI app under gunicorn gthread through ours'
  ``AsgiToWsgi`` and ``a2wsgi.ASGIMiddleware``; hello and 1 MiB streamed.
  Skipped, with a line saying so, while ``AsgiToWsgi`` does not exist.

Sides alternate which goes first from round to round; ratios are taken per
round (paired) and their median reported.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import django_site
import servers
from httpload import LoadResult, Request, load

HERE = Path(__file__).resolve().parent
GROUPS = ("django", "flask", "asgitowsgi")

_MIB = 1 << 20


@dataclass(frozen=True)
class Row:
    name: str
    request: Request
    connections: int


@dataclass(frozen=True)
class Side:
    label: str
    python: Path
    app: str


@dataclass
class Measurement:
    requests_per_second: float
    p99_ms: float
    errors: int
    peak_rss_mib: float


@dataclass
class GroupResult:
    title: str
    rows: list[Row]
    sides: list[str]
    # row name -> side label -> one measurement per round
    samples: dict[str, dict[str, list[Measurement]]] = field(default_factory=dict)
    skipped: str | None = None

    def add(self, row: Row, side: str, measurement: Measurement) -> None:
        self.samples.setdefault(row.name, {}).setdefault(side, []).append(measurement)


@dataclass(frozen=True)
class Timing:
    warm_up: float
    seconds: float


_DJANGO_ROWS = [
    Row(f"{view} view, {connections} conn", Request(f"/{view}/"), connections)
    for view in ("async", "sync", "session")
    for connections in (1, 32)
]
# ours / upstream req/s targets of issue 22
DJANGO_TARGETS = {"async": 1.4, "sync": 1.5}

_FLASK_ROWS = [
    Row("hello", Request("/hello"), 64),
    Row("1 MiB streamed", Request("/stream"), 64),
    Row("10 MiB upload", Request("/upload", "POST", b"u" * (10 * _MIB)), 64),
]
_ASGITOWSGI_ROWS = [
    Row("hello", Request("/hello"), 16),
    Row("1 MiB streamed", Request("/stream"), 16),
]


def _measure(server: servers.RunningServer, row: Row, timing: Timing) -> Measurement:
    load(server.port, row.request, row.connections, timing.warm_up)
    result: LoadResult = load(server.port, row.request, row.connections, timing.seconds)
    return Measurement(
        result.requests_per_second, result.p99_ms, result.errors, server.peak_rss_mib()
    )


def _ordered(sides: Sequence[Side], round_number: int) -> Sequence[Side]:
    # Alternate who goes first, so neither always meets a warmer machine.
    return sides if round_number % 2 == 0 else sides[::-1]


def run_django(
    ours: Path, upstream: Path, rounds: int, timing: Timing, progress: Callable[[str], None]
) -> GroupResult:
    result = GroupResult("Django startproject under uvicorn", _DJANGO_ROWS, ["ours", "upstream"])
    sides = [
        Side("ours", ours, django_site.ASGI_APP),
        Side("upstream", upstream, django_site.ASGI_APP),
    ]
    with tempfile.TemporaryDirectory(prefix="asgiref-bench-django-") as directory:
        root = django_site.create(ours, Path(directory))
        for round_number in range(rounds):
            for side in _ordered(sides, round_number):
                port = servers.free_port()
                command = servers.uvicorn_command(side.python, port, side.app, root)
                with servers.serve(command, port, root) as server:
                    for row in _DJANGO_ROWS:
                        result.add(row, side.label, _measure(server, row, timing))
            progress(f"django round {round_number + 1}/{rounds}")
    return result


def _run_per_row(
    result: GroupResult,
    sides: Sequence[Side],
    rounds: int,
    timing: Timing,
    command: Callable[[Path, int, str, Path], list[str]],
    progress: Callable[[str], None],
    name: str,
) -> GroupResult:
    for round_number in range(rounds):
        for row in result.rows:
            for side in _ordered(sides, round_number):
                port = servers.free_port()
                with servers.serve(
                    command(side.python, port, side.app, HERE), port, HERE
                ) as server:
                    result.add(row, side.label, _measure(server, row, timing))
        progress(f"{name} round {round_number + 1}/{rounds}")
    return result


def run_flask(
    ours: Path, upstream: Path, rounds: int, timing: Timing, progress: Callable[[str], None]
) -> GroupResult:
    sides = [
        Side("ours", ours, "apps_flask:wsgitoasgi"),
        Side("upstream", upstream, "apps_flask:wsgitoasgi"),
        Side("a2wsgi", ours, "apps_flask:a2wsgi"),
    ]
    result = GroupResult(
        "Flask under uvicorn: WsgiToAsgi vs a2wsgi.WSGIMiddleware",
        _FLASK_ROWS,
        [side.label for side in sides],
    )
    return _run_per_row(result, sides, rounds, timing, servers.uvicorn_command, progress, "flask")


def _asgitowsgi_missing(ours: Path) -> str | None:
    probe = subprocess.run(
        [str(ours), "-c", "from asgiref.wsgi import AsgiToWsgi"],
        capture_output=True,
        text=True,
        check=False,
        env=servers.clean_env(),
    )
    if probe.returncode == 0:
        return None
    return "skipped: asgiref.wsgi.AsgiToWsgi is not importable in this tree yet"


def run_asgitowsgi(
    ours: Path, upstream: Path, rounds: int, timing: Timing, progress: Callable[[str], None]
) -> GroupResult:
    sides = [Side("ours", ours, "apps_asgi:asgitowsgi"), Side("a2wsgi", ours, "apps_asgi:a2wsgi")]
    result = GroupResult(
        f"ASGI app under gunicorn gthread ({servers.GUNICORN_WORKERS} worker,"
        f" {servers.GUNICORN_THREADS} threads): AsgiToWsgi vs a2wsgi.ASGIMiddleware",
        _ASGITOWSGI_ROWS,
        [side.label for side in sides],
    )
    result.skipped = _asgitowsgi_missing(ours)
    if result.skipped:
        progress(f"asgitowsgi {result.skipped}")
        return result
    return _run_per_row(
        result, sides, rounds, timing, servers.gunicorn_command, progress, "asgitowsgi"
    )


RUNNERS: dict[str, Callable[[Path, Path, int, Timing, Callable[[str], None]], GroupResult]] = {
    "django": run_django,
    "flask": run_flask,
    "asgitowsgi": run_asgitowsgi,
}


def to_json(result: GroupResult) -> dict[str, object]:
    return {
        "title": result.title,
        "skipped": result.skipped,
        "samples": {
            row: {side: [asdict(m) for m in ms] for side, ms in by_side.items()}
            for row, by_side in result.samples.items()
        },
    }
