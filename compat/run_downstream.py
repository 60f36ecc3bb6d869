"""Run the test suites of Django, Channels and Daphne against this workspace's asgiref.

Usage (from anywhere)::

    python compat/run_downstream.py [--project channels|daphne|django ...]
                                    [--python 3.12] [--against-upstream]
                                    [--channels-source DIR] [--thorough] [--keep]

Every run starts from nothing, so it works on a fresh machine:

1. ``uv venv`` creates a virtual environment in a temporary directory for the
   requested Python, and ``uv pip install -e`` puts the six distributions of
   ``packages/`` into it (``--against-upstream`` installs asgiref 3.13.0 from
   PyPI instead, as the baseline to compare failures with);
2. pip downloads the pinned, hash-checked sdists of the downstream projects
   into that temporary directory (nothing is committed or cached here);
3. each project is installed from its sdist with ``--no-deps`` (Django
   editable from the unpacked sdist, for runtests.py), so its own
   ``asgiref`` requirement can never replace ours, and its runtime and test
   dependencies are installed by name afterwards;
4. before any suite runs, a probe inside the environment checks where every
   ``asgiref.<module>`` is imported from; the run stops (exit 4) when it is
   not ``packages/`` of this checkout (or, with ``--against-upstream``, when
   it is not the PyPI release);
5. the suites run: Daphne's whole pytest suite, Django's ``tests/runtests.py``
   on the test modules that go through the sync/async bridge (for each pinned
   Django release the Python supports), and Channels' suite.

Channels publishes no tests in its sdists (its MANIFEST.in excludes them), and
only the package registries are reachable here. ``--channels-source DIR``
runs the real suite from a Channels source tree (a checkout or release archive
of the pinned tag, holding ``tests/`` and ``setup.cfg``); without it the
runner falls back to a short smoke suite of its own, and the summary says so.

The exit code is non-zero when any suite fails; a summary line per suite ends
the output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES_DIR = REPO_ROOT / "packages"
OUR_DISTRIBUTIONS = (
    "asgiref-types",
    "asgiref-sync",
    "asgiref-wsgi",
    "asgiref-server",
    "asgiref-testing",
    "asgiref",
)
UPSTREAM_ASGIREF = "asgiref==3.13.0"

# Modules whose origin is checked before anything runs: the ones the upstream
# suite imports (run as a file, this script has compat/ on sys.path).
from run_upstream import CHECKED_MODULES, pip_sdist_download  # noqa: E402

EXIT_WRONG_ASGIREF = 4
# Whole-suite limit (the slowest, Django with --thorough, takes about 2 min).
SUITE_TIMEOUT_S = 900.0
PER_TEST_TIMEOUT_S = 120


@dataclass(frozen=True)
class Sdist:
    """One pinned source release on PyPI."""

    project: str
    version: str
    sha256: str
    requires_python: tuple[int, int] = (3, 10)

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version} --hash=sha256:{self.sha256}"

    @property
    def archive_name(self) -> str:
        return f"{self.project}-{self.version}.tar.gz"


# sha256 values are those of the files published on PyPI.
CHANNELS = Sdist(
    "channels", "4.3.2", "f2bb6bfb73ad7fb4705041d07613c7b4e69528f01ef8cb9fb6c21d9295f15667"
)
DAPHNE = Sdist(
    "daphne", "4.2.3", "1c458f81926b37301cadc8ec1b6316d9a5db53fba061fc4826610395fe5d5c81"
)
DJANGO_RELEASES = (
    Sdist("django", "5.2.19", "ad03d8abc51dbff95ebf34b27123cf0c26a3b62db7ba0cd520783686362533d1"),
    Sdist(
        "django",
        "6.0.10",
        "6005d030df924f85088454c18bd35dcf082b058aa355ad3df520d8de9aef9f41",
        requires_python=(3, 12),
    ),
)
# Channels and Daphne are tested with the first (LTS) Django release.
SUPPORTING_DJANGO = DJANGO_RELEASES[0]

# Runtime and test dependencies, installed by name after the --no-deps
# installs (from setup.cfg/pyproject.toml of each sdist; linters, coverage and
# selenium left out: they test nothing of asgiref).
DJANGO_RUNTIME_DEPS = ("sqlparse>=0.3.1",)
TEST_RUNNER_DEPS = ("pytest>=8", "pytest-asyncio>=0.24", "pytest-timeout>=2.3")
DAPHNE_DEPS = ("autobahn>=22.4.2", "twisted[tls]>=22.4", "hypothesis")
CHANNELS_DEPS = ("pytest-django", "async-timeout")
DJANGO_TEST_DEPS = ("tblib>=1.5.0",)

# Django's own test modules that go through asgiref: the ASGI handler, async
# views, decorators and middleware, AsyncClient, async signals, the async
# session and request APIs (about 15 s on two cores).
DJANGO_TEST_MODULES = (
    "asgi",
    "async",
    "handlers",
    "decorators",
    "middleware_exceptions",
    "middleware",
    "signals",
    "test_client",
    "test_client_regress",
    "view_tests",
    "sessions_tests",
    "requests_tests",
)
# Also asgiref-backed (async auth and cache front ends), but slow for what they
# add: password hashing and cache expiry sleeps take about 110 s. --thorough.
DJANGO_SLOW_TEST_MODULES = ("auth_tests", "cache")

# Tests deselected because they fail identically with upstream asgiref 3.13.0
# (the --against-upstream baseline); the reason is next to each.
BASELINE_DESELECTED: dict[str, dict[str, str]] = {
    "daphne": {},
    "channels": {},
}

PROJECTS = ("channels", "daphne", "django")

# One environment serves every project, so each pytest run switches off the
# plugins that only another project's suite wants (Channels' suite swaps
# sys.modules between tests, which breaks hypothesis' lazy imports).
PYTEST_PLUGINS_OFF: dict[str, tuple[str, ...]] = {
    "daphne": ("django",),
    "channels": ("hypothesispytest",),
    "channels-smoke": ("hypothesispytest", "django"),
}


@dataclass
class SuiteResult:
    """Outcome of one suite: exit code, duration and the runner's own counts."""

    name: str
    returncode: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def summary_line(self) -> str:
        status = "OK" if self.ok else f"FAILED (exit {self.returncode})"
        if not self.counts:
            return f"{self.name}: no test counts in the output -- {status}"
        passed = self.counts.get("passed", 0)
        failed = self.counts.get("failed", 0) + self.counts.get("errors", 0)
        extras = ", ".join(
            f"{count} {kind}"
            for kind, count in sorted(self.counts.items())
            if kind not in ("passed", "failed", "errors") and count
        )
        line = f"{self.name}: {passed} passed, {failed} failed"
        if extras:
            line += f" ({extras})"
        line += f" in {self.seconds:.0f} s -- {status}"
        if self.note:
            line += f" [{self.note}]"
        return line


class Environment:
    """A throw-away virtual environment driven through uv."""

    def __init__(self, root: Path, python: str) -> None:
        self.root = root
        self.venv = root / "venv"
        # Only interpreters already on this machine: a download attempt would
        # fail slowly where only the package registries are reachable.
        os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
        _run(["uv", "venv", "--quiet", "--python", python, str(self.venv)])
        self.python = self.venv / "bin" / "python"
        self.bin = self.venv / "bin"

    def install(self, *arguments: str) -> None:
        _run(["uv", "pip", "install", "--quiet", "--python", str(self.python), *arguments])

    def version_info(self) -> tuple[int, int]:
        output = subprocess.run(
            [str(self.python), "-c", "import sys; print(*sys.version_info[:2])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        return int(output[0]), int(output[1])


_STARTED = time.monotonic()


def _run(command: Sequence[str]) -> None:
    """Run a setup step, stamped with the time since start (setup dominates)."""
    elapsed = time.monotonic() - _STARTED
    print(f"run_downstream: [{elapsed:4.0f} s] $", " ".join(command), flush=True)
    subprocess.run(list(command), check=True, timeout=SUITE_TIMEOUT_S)


def download_sdists(env: Environment, sdists: Sequence[Sdist], into: Path) -> dict[Sdist, Path]:
    """Fetch the hash-pinned sdists with pip (inside the environment, so that
    pip judges Requires-Python for the interpreter under test)."""
    into.mkdir(parents=True, exist_ok=True)
    # pip resolves one requirement file as a whole, so two releases of one
    # project go to separate batches.
    batches: list[list[Sdist]] = []
    for sdist in sdists:
        free = [b for b in batches if all(o.project != sdist.project for o in b)]
        if free:
            free[0].append(sdist)
        else:
            batches.append([sdist])
    for number, batch in enumerate(batches):
        requirement_file = into / f"requirements-{number}.txt"
        requirement_file.write_text(
            "".join(f"{sdist.requirement}\n" for sdist in batch), encoding="utf-8"
        )
        _run([str(env.python), "-m", "pip", *pip_sdist_download(into, requirement_file)])
    found: dict[Sdist, Path] = {}
    for sdist in sdists:
        matches = [path for path in into.iterdir() if path.name.lower() == sdist.archive_name]
        if len(matches) != 1:
            sys.exit(f"run_downstream: pip did not leave {sdist.archive_name} in {into}")
        found[sdist] = matches[0]
    return found


def extract(archive: Path, into: Path) -> Path:
    """Unpack an sdist and return its top directory."""
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tops = {member.name.split("/", 1)[0] for member in tar.getmembers()}
        if len(tops) != 1:
            sys.exit(f"run_downstream: {archive.name} does not have a single top directory")
        tar.extractall(into, filter="data")
    return into / tops.pop()


_ORIGIN_PROBE = """
import importlib, importlib.metadata, json, sys
origins = {}
for name in sys.argv[1:]:
    try:
        origins[name] = importlib.import_module(name).__file__
    except Exception as error:
        origins[name] = "import failed: " + repr(error)
print(json.dumps({"origins": origins, "version": importlib.metadata.version("asgiref")}))
"""


def verify_asgiref(env: Environment, against_upstream: bool) -> None:
    """Refuse to run unless the environment imports the asgiref under test."""
    probe = subprocess.run(
        [str(env.python), "-c", _ORIGIN_PROBE, *CHECKED_MODULES],
        check=True,
        capture_output=True,
        text=True,
        cwd=env.root,
    )
    report = json.loads(probe.stdout)
    origins: dict[str, str | None] = report["origins"]
    problems = []
    for name, origin in origins.items():
        path = Path(origin).resolve() if origin and not origin.startswith("import") else None
        ours = path is not None and path.is_relative_to(PACKAGES_DIR)
        if path is None:
            problems.append(f"{name}: {origin}")
        elif ours == against_upstream:
            expected = "PyPI's asgiref" if against_upstream else str(PACKAGES_DIR)
            problems.append(f"{name} comes from {path}, not from {expected}")
    if against_upstream and report["version"] != UPSTREAM_ASGIREF.split("==")[1]:
        problems.append(f"asgiref {report['version']} installed, not {UPSTREAM_ASGIREF}")
    if problems:
        print("run_downstream: wrong asgiref in the test environment:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(EXIT_WRONG_ASGIREF)
    print(
        f"run_downstream: asgiref {report['version']}; asgiref.sync from {origins['asgiref.sync']}"
    )


_PYTEST_COUNT = re.compile(
    r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)"
)
_DJANGO_RAN = re.compile(r"^Ran (\d+) tests? in ", re.MULTILINE)
_DJANGO_OUTCOME = re.compile(r"^(OK|FAILED)(?: \((.*)\))?\s*$", re.MULTILINE)


def pytest_counts(output: str) -> dict[str, int]:
    """Counts from pytest's closing ``=== ... in 1.23s ===`` line."""
    closing = [line for line in output.splitlines() if line.startswith("=") and " in " in line]
    counts: dict[str, int] = {}
    if closing:
        for number, kind in _PYTEST_COUNT.findall(closing[-1]):
            key = {"error": "errors", "warning": "warnings"}.get(kind, kind)
            counts[key] = counts.get(key, 0) + int(number)
    counts.pop("warnings", None)
    return counts


def django_counts(output: str) -> dict[str, int]:
    """Counts from unittest's ``Ran N tests`` and ``OK``/``FAILED (...)`` lines."""
    ran = _DJANGO_RAN.findall(output)
    outcome = _DJANGO_OUTCOME.findall(output)
    if not ran or not outcome:
        return {}
    counts = {"failed": 0, "errors": 0, "skipped": 0, "xfailed": 0, "xpassed": 0}
    names = {
        "failures": "failed",
        "errors": "errors",
        "skipped": "skipped",
        "expected failures": "xfailed",
        "unexpected successes": "xpassed",
    }
    for part in (outcome[-1][1] or "").split(","):
        if "=" in part:
            kind, number = part.strip().split("=", 1)
            counts[names.get(kind, kind)] = int(number)
    total = int(ran[-1])
    counts["passed"] = total - sum(counts.values())
    return counts


def _kill_group(leader: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader, signal.SIGKILL)


def run_suite(
    env: Environment, name: str, command: Sequence[str], cwd: Path
) -> tuple[int, str, float]:
    """Run one suite, echoing its output, and keep the output for counting."""
    print(f"\nrun_downstream: ===== {name} =====", flush=True)
    print("run_downstream: $", " ".join(command), flush=True)
    private_tmp = env.root / "tmp"
    private_tmp.mkdir(exist_ok=True)
    # Daphne's test server exchanges files under fixed names in the temporary
    # directory: a private one keeps two runs on one machine apart. Nothing
    # from the caller's PYTHONPATH may redirect imports.
    environ = {**os.environ, "TMPDIR": str(private_tmp)}
    environ.pop("PYTHONPATH", None)
    started = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        list(command),
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Its own process group, so that a hung suite is stopped together with
        # the workers it started (Django's --parallel).
        start_new_session=True,
    ) as process:
        # A hung suite may print nothing at all, so the deadline is kept by a
        # timer rather than checked between output lines.
        watchdog = threading.Timer(SUITE_TIMEOUT_S, _kill_group, (process.pid,))
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                sys.stdout.write(line)
                lines.append(line)
            returncode = process.wait()
        finally:
            watchdog.cancel()
    if time.monotonic() - started >= SUITE_TIMEOUT_S:
        lines.append(f"run_downstream: {name} killed after {SUITE_TIMEOUT_S:g} s\n")
        print(lines[-1], end="")
    sys.stdout.flush()
    return returncode, "".join(lines), time.monotonic() - started


def _pytest_command(env: Environment, project: str, extra: Sequence[str]) -> list[str]:
    # bin/pytest rather than ``python -m pytest``: the work directory must not
    # land on sys.path ahead of the installed package.
    command = [
        str(env.bin / "pytest"),
        "-p",
        "no:cacheprovider",
        f"--timeout={PER_TEST_TIMEOUT_S}",
        "-rfE",
    ]
    for plugin in PYTEST_PLUGINS_OFF.get(project, ()):
        command += ["-p", f"no:{plugin}"]
    for node, reason in BASELINE_DESELECTED.get(project, {}).items():
        print(f"run_downstream: deselected {node}: {reason}")
        command += ["--deselect", node]
    return [*command, *extra]


def copy_tests(source: Path, workdir: Path, config_files: Sequence[str]) -> Path:
    """Copy only ``tests/`` and the pytest configuration of a source tree,
    so that the package is imported from the environment, not the tree."""
    workdir.mkdir(parents=True)
    shutil.copytree(source / "tests", workdir / "tests")
    for name in config_files:
        if (source / name).is_file():
            shutil.copy2(source / name, workdir / name)
    return workdir


def run_daphne(env: Environment, sources: dict[Sdist, Path], scratch: Path) -> SuiteResult:
    workdir = copy_tests(sources[DAPHNE], scratch / "daphne-suite", ["pyproject.toml"])
    code, output, seconds = run_suite(
        env, f"daphne {DAPHNE.version}", _pytest_command(env, "daphne", []), workdir
    )
    return SuiteResult(f"daphne {DAPHNE.version}", code, seconds, pytest_counts(output))


def run_channels(env: Environment, channels_source: Path | None, scratch: Path) -> SuiteResult:
    name = f"channels {CHANNELS.version}"
    if channels_source is not None:
        workdir = copy_tests(channels_source, scratch / "channels-suite", ["setup.cfg"])
        # The selenium tests drive a real browser, which this runner does not install.
        extra = ["--ignore=tests/sample_project/tests/test_selenium.py"]
        code, output, seconds = run_suite(
            env, name, _pytest_command(env, "channels", extra), workdir
        )
        return SuiteResult(name, code, seconds, pytest_counts(output))
    workdir = scratch / "channels-smoke"
    workdir.mkdir()
    (workdir / "test_channels_smoke.py").write_text(_CHANNELS_SMOKE, encoding="utf-8")
    (workdir / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n", encoding="utf-8")
    code, output, seconds = run_suite(
        env, f"{name} (smoke)", _pytest_command(env, "channels-smoke", []), workdir
    )
    return SuiteResult(
        f"{name} (smoke)",
        code,
        seconds,
        pytest_counts(output),
        note="the sdist ships no tests; pass --channels-source DIR for Channels' own suite",
    )


def run_django(
    env: Environment, release: Sdist, source: Path, modules: Sequence[str]
) -> SuiteResult:
    # Editable, so that runtests.py and the package are the same tree (a
    # no-op for the release Channels and Daphne were tested with).
    env.install("--no-deps", "-e", str(source))
    name = f"django {release.version}"
    command = [
        str(env.python),
        "runtests.py",
        "--settings=test_sqlite",
        "--noinput",
        "--parallel=2",
        *modules,
    ]
    code, output, seconds = run_suite(env, name, command, source / "tests")
    return SuiteResult(name, code, seconds, django_counts(output))


# Channels' own tests are not on PyPI; this smoke suite drives the parts of
# Channels that are built on asgiref (SyncToAsync subclass, async_to_sync in
# SyncConsumer, ApplicationCommunicator-based testing tools, the in-memory
# layer) through a real Django configuration. Its last tests pin what Channels'
# own suite asserts about a communicator whose application was cancelled (by a
# receive timeout, a wait() timeout or stop()): asyncio.CancelledError.
_CHANNELS_SMOKE = """\
import asyncio
import threading

import django
import pytest
from django.conf import settings

settings.configure(
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "channels"],
    CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
    SECRET_KEY="smoke",
)
django.setup()

from asgiref.sync import async_to_sync, sync_to_async  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402
from channels.exceptions import StopConsumer  # noqa: E402
from channels.consumer import SyncConsumer  # noqa: E402
from channels.generic.http import AsyncHttpConsumer  # noqa: E402
from channels.generic.websocket import JsonWebsocketConsumer, AsyncWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import URLRouter  # noqa: E402
from channels.testing import HttpCommunicator, WebsocketCommunicator  # noqa: E402
from django.urls import path  # noqa: E402

pytestmark = pytest.mark.timeout(30)


class EchoJson(JsonWebsocketConsumer):
    def connect(self):
        self.thread = threading.get_ident()
        self.accept()

    def receive_json(self, content, **kwargs):
        self.send_json({"echo": content, "same_thread": threading.get_ident() == self.thread})


class Grouped(AsyncWebsocketConsumer):
    groups = ["smoke"]

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send("smoke", {"type": "shout", "text": text_data})

    async def shout(self, event):
        await self.send(text_data=event["text"].upper())


class Hello(AsyncHttpConsumer):
    async def handle(self, body):
        user_count = await database_sync_to_async(self._count)()
        await self.send_response(200, f"users={user_count}".encode())

    def _count(self):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0]


class Counter(SyncConsumer):
    def websocket_connect(self, message):
        self.send({"type": "websocket.accept"})

    def websocket_receive(self, message):
        self.send({"type": "websocket.send", "text": str(len(message["text"]))})

    def websocket_disconnect(self, message):
        raise StopConsumer()


async def test_sync_json_consumer_round_trip():
    communicator = WebsocketCommunicator(EchoJson.as_asgi(), "/ws/")
    connected, _ = await communicator.connect()
    assert connected
    for number in range(5):
        await communicator.send_json_to({"n": number})
        reply = await communicator.receive_json_from()
        assert reply == {"echo": {"n": number}, "same_thread": True}
    await communicator.disconnect()


async def test_routed_sync_consumer():
    application = URLRouter([path("count/", Counter.as_asgi())])
    communicator = WebsocketCommunicator(application, "/count/")
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data="hello")
    assert await communicator.receive_from() == "5"
    await communicator.disconnect()


async def test_group_send_through_in_memory_layer():
    first = WebsocketCommunicator(Grouped.as_asgi(), "/g/")
    second = WebsocketCommunicator(Grouped.as_asgi(), "/g/")
    assert (await first.connect())[0]
    assert (await second.connect())[0]
    await first.send_to(text_data="hi")
    assert await first.receive_from() == "HI"
    assert await second.receive_from() == "HI"
    await first.disconnect()
    await second.disconnect()


async def test_http_consumer_uses_database_sync_to_async():
    communicator = HttpCommunicator(Hello.as_asgi(), "GET", "/")
    response = await communicator.get_response()
    assert response["status"] == 200
    assert response["body"] == b"users=1"


class Mute(AsyncWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        pass  # never answers


async def _connected_mute():
    communicator = WebsocketCommunicator(Mute.as_asgi(), "/mute/")
    assert (await communicator.connect())[0]
    return communicator


async def test_disconnect_after_a_receive_timeout_raises_cancelled_error():
    communicator = await _connected_mute()
    await communicator.send_to(text_data="anyone?")
    with pytest.raises(asyncio.TimeoutError):
        await communicator.receive_from(timeout=0.1)
    with pytest.raises(asyncio.CancelledError):
        await communicator.disconnect()


@pytest.mark.parametrize("how", ["receive timeout", "wait timeout", "stop"])
async def test_every_call_after_the_app_was_cancelled_raises_cancelled_error(how):
    communicator = await _connected_mute()
    if how == "receive timeout":
        with pytest.raises(asyncio.TimeoutError):
            await communicator.receive_from(timeout=0.1)
    elif how == "wait timeout":
        await communicator.wait(timeout=0.1)
    else:
        communicator.stop()
        for _ in range(5):
            await asyncio.sleep(0)
    assert communicator.future.cancelled()
    with pytest.raises(asyncio.CancelledError):
        await communicator.send_to(text_data="late")
    with pytest.raises(asyncio.CancelledError):
        await communicator.receive_from(timeout=0.1)
    with pytest.raises(asyncio.CancelledError):
        await communicator.receive_nothing(timeout=0.05)
    with pytest.raises(asyncio.CancelledError):
        communicator.stop()
    communicator.stop(exceptions=False)
    await communicator.wait(timeout=0.1)  # wait() returns normally, as upstream's


async def test_http_communicator_after_a_timeout_raises_cancelled_error():
    class Stalls(AsyncHttpConsumer):
        async def handle(self, body):
            await asyncio.Event().wait()

    communicator = HttpCommunicator(Stalls.as_asgi(), "GET", "/")
    with pytest.raises(asyncio.TimeoutError):
        await communicator.get_response(timeout=0.1)
    with pytest.raises(asyncio.CancelledError):
        await communicator.send_input({"type": "http.disconnect"})


def test_channel_layer_from_sync_code():
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "x.y", "value": 3})
    assert async_to_sync(layer.receive)(channel) == {"type": "x.y", "value": 3}


async def test_database_sync_to_async_is_a_sync_to_async():
    assert isinstance(database_sync_to_async(lambda: None), sync_to_async(lambda: None).__class__)
    assert await database_sync_to_async(lambda: 7)() == 7
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        allow_abbrev=False, description=__doc__.split("\n\n", 1)[0] if __doc__ else None
    )
    parser.add_argument(
        "--project",
        action="append",
        choices=PROJECTS,
        help="suite to run (repeatable; default: all)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="Python for the test environment: a version such as 3.12 or an interpreter "
        "path, as uv understands it (default: the interpreter running this script)",
    )
    parser.add_argument(
        "--against-upstream",
        action="store_true",
        help=f"install {UPSTREAM_ASGIREF} from PyPI instead of packages/ (baseline run)",
    )
    parser.add_argument(
        "--channels-source",
        type=Path,
        metavar="DIR",
        help="Channels source tree (with tests/ and setup.cfg) for its real suite",
    )
    parser.add_argument(
        "--thorough",
        action="store_true",
        help="also run Django's slow asgiref-backed modules: "
        + ", ".join(DJANGO_SLOW_TEST_MODULES),
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory and print its path"
    )
    options = parser.parse_args(argv)
    projects: list[str] = options.project or list(PROJECTS)
    channels_source: Path | None = options.channels_source
    if channels_source is not None:
        channels_source = channels_source.resolve()
        if not (channels_source / "tests").is_dir():
            parser.error(f"--channels-source {channels_source}: no tests/ directory")

    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="asgiref-downstream-"))
    try:
        django_modules = list(DJANGO_TEST_MODULES)
        if options.thorough:
            django_modules += DJANGO_SLOW_TEST_MODULES
        env = Environment(scratch, options.python)
        version = env.version_info()
        python_version = f"{version[0]}.{version[1]}"
        results = _run_all(
            env,
            version,
            projects,
            options.against_upstream,
            channels_source,
            django_modules,
        )
    finally:
        if options.keep:
            print(f"run_downstream: temporary directory kept at {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    baseline = " (baseline: upstream asgiref)" if options.against_upstream else ""
    print(f"\nrun_downstream: summary, Python {python_version}{baseline}")
    for result in results:
        print(f"  {result.summary_line()}")
    print(f"run_downstream: total {time.monotonic() - started:.0f} s")
    passed = sum(result.counts.get("passed", 0) for result in results)
    failed = sum(
        result.counts.get("failed", 0) + result.counts.get("errors", 0) for result in results
    )
    # One closing line in the plain "N passed, N failed" form CI tools read.
    print(f"downstream: {passed} passed, {failed} failed")
    return 0 if all(result.ok for result in results) else 1


def _run_all(
    env: Environment,
    version: tuple[int, int],
    projects: Sequence[str],
    against_upstream: bool,
    channels_source: Path | None,
    django_modules: Sequence[str],
) -> list[SuiteResult]:
    scratch = env.root
    if against_upstream:
        env.install(UPSTREAM_ASGIREF)
    else:
        env.install(*(f"--editable={PACKAGES_DIR / name}" for name in OUR_DISTRIBUTIONS))
    verify_asgiref(env, against_upstream)
    # pip only downloads; everything is installed with uv.
    env.install("pip")

    # channels.testing imports Daphne (Channels' "daphne" extra, which its
    # own test run installs), so Channels brings Daphne along.
    needs_daphne = "daphne" in projects or "channels" in projects
    wanted: list[Sdist] = []
    if needs_daphne:
        wanted += [SUPPORTING_DJANGO, DAPHNE]
    if "channels" in projects:
        wanted.append(CHANNELS)
    djangos = [r for r in DJANGO_RELEASES if version >= r.requires_python]
    if "django" in projects:
        for release in DJANGO_RELEASES:
            if release not in djangos:
                print(
                    f"run_downstream: Django {release.version} needs Python >= "
                    f"{release.requires_python[0]}.{release.requires_python[1]}, skipped"
                )
        wanted += [release for release in djangos if release not in wanted]
    archives = download_sdists(env, wanted, scratch / "sdists")
    sources = {sdist: extract(archive, scratch / "src") for sdist, archive in archives.items()}

    dependencies = [*DJANGO_RUNTIME_DEPS, *TEST_RUNNER_DEPS]
    downstream: list[str] = []
    if needs_daphne:
        dependencies += DAPHNE_DEPS
        downstream.append(str(archives[DAPHNE]))
    if "channels" in projects:
        dependencies += CHANNELS_DEPS
        downstream.append(str(archives[CHANNELS]))
    if "django" in projects:
        dependencies += DJANGO_TEST_DEPS
    env.install(*dependencies)
    if downstream:
        # Django editable from its unpacked sdist: the same tree that
        # runtests.py uses later, and no 11 MB wheel build.
        env.install("--no-deps", "--editable", str(sources[SUPPORTING_DJANGO]), *downstream)
    verify_asgiref(env, against_upstream)

    results: list[SuiteResult] = []
    if "daphne" in projects:
        results.append(run_daphne(env, sources, scratch))
    if "channels" in projects:
        results.append(run_channels(env, channels_source, scratch))
    if "django" in projects:
        for release in djangos:
            results.append(run_django(env, release, sources[release], django_modules))
            verify_asgiref(env, against_upstream)
    return results


if __name__ == "__main__":
    sys.exit(main())
