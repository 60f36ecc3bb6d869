"""The README's second command: the demo passes, and each of its checks can fail.

Every HTTP check is run against a variant of the demo's app broken in exactly
the way the check is about (tests/demo_faults.py), through the demo's own
server process; the bridge checks against a broken bridge.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from monorepo_testing import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))

from demo import __main__ as demo_main
from demo import bridge_checks, http_checks
from demo.outcome import Check
from demo.servers import Launch

_T = TypeVar("_T")
_TESTS = str(Path(__file__).resolve().parent)


def _run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=REPO_ROOT,
    )


@pytest.mark.timeout(300)
def test_demo_runs_and_every_check_passes() -> None:
    proc = _run_demo("--no-upstream")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("Demo finished: all checks passed."), proc.stdout
    assert "[FAIL]" not in proc.stdout
    report = [line.strip() for line in proc.stdout.splitlines()]
    for label in (*http_checks.LABELS, *bridge_checks.LABELS):
        assert any(line.startswith(f"[ok]   {label}: ") for line in report), (label, proc.stdout)


@pytest.mark.timeout(400)
def test_demo_shows_upstream_beside_each_check_when_it_is_installed() -> None:
    if demo_main.default_upstream() is None:
        pytest.skip(f"no {demo_main.UPSTREAM_VENV} (made by `hatch run bench`)")
    proc = _run_demo()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    upstream_lines = [line.strip() for line in proc.stdout.splitlines() if "upstream" in line]
    checks = len(http_checks.LABELS) + len(bridge_checks.LABELS)
    # One line naming upstream's install, then one under every check.
    assert len(upstream_lines) == 1 + checks + 1, proc.stdout
    # Upstream's WsgiToAsgi raises on the lifespan scope: uvicorn gives up at startup.
    assert upstream_lines[1].startswith("upstream asgiref 3.13.0: [FAIL] uvicorn did not start"), (
        proc.stdout
    )
    assert "upstream asgiref 3.13.0 failed" in proc.stdout.splitlines()[-1]


def test_without_upstream_the_demo_says_in_one_line_how_to_compare(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(demo_main, "UPSTREAM_VENV", tmp_path / "upstream-3.x")
    found = demo_main.choose_upstream(None)
    assert isinstance(found, str)
    assert "\n" not in found
    assert "hatch run bench --quick" in found
    assert "--upstream PYTHON" in found


def test_a_python_importing_this_checkouts_asgiref_is_not_taken_for_upstream() -> None:
    found = demo_main.choose_upstream(Path(sys.executable))
    assert isinstance(found, str)
    assert "imports this checkout's asgiref" in found


def _faulty(app: str) -> Launch:
    """The demo's server process serving ``tests/demo_faults.py``'s ``app``."""
    return Launch(sys.executable, app=f"demo_faults:{app}", append_path=(_TESTS,))


def _against(launch: Launch, check: Callable[[str], Check]) -> Check:
    with launch.running() as server:
        assert server.started, server.log()
        return check(server.base)


@pytest.mark.timeout(60)
def test_the_lifespan_check_fails_for_an_app_that_refuses_lifespan() -> None:
    result = http_checks.check_lifespan(_faulty("refuses_lifespan"))
    assert not result.ok
    assert "ValueError: no lifespan here" in result.detail


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("app", "check", "says"),
    [
        ("wrong_greeting", http_checks.check_get, "Howdy"),
        ("fails_every_tenth", http_checks.check_keep_alive, "answered 500"),
        ("buffers_request_body", http_checks.check_upload, "had not started"),
        ("buffers_response", http_checks.check_streamed_response, "only once the app had"),
        ("serialises_requests", http_checks.check_concurrency, "one at a time: 4.0 s"),
    ],
)
def test_each_http_check_fails_for_an_app_broken_its_way(
    app: str, check: Callable[[str], Check], says: str
) -> None:
    result = _against(_faulty(app), check)
    assert not result.ok, result
    assert says in result.detail, result


@pytest.mark.timeout(60)
def test_a_server_that_does_not_start_fails_every_http_check() -> None:
    results = http_checks.run_all(_faulty("no_such_app"))
    assert [r.label for r in results] == list(http_checks.LABELS)
    assert not any(r.ok for r in results), results


def _to_thread(func: Callable[..., _T]) -> Callable[..., Awaitable[_T]]:
    # A "bridge" that runs sync code in a fresh worker thread with a copy of
    # the context: thread-sensitive code leaves the caller's thread, and what
    # it writes to the context is lost.
    async def call(*args: Any) -> _T:
        return await asyncio.to_thread(func, *args)

    return call


def _off_by_one(func: Callable[[int], Coroutine[Any, Any, int]]) -> Callable[[int], int]:
    def call(n: int) -> int:
        return asyncio.run(func(n)) + 1

    return call


def test_the_bridge_checks_pass_for_asgiref() -> None:
    results = bridge_checks.run_all()
    assert all(result.ok for result in results), results


def test_the_bridge_checks_fail_for_a_bridge_that_leaves_the_thread_and_the_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bridge_checks, "sync_to_async", _to_thread)
    nested = bridge_checks.check_nested_thread_sensitivity()
    context = bridge_checks.check_context_flows_back()
    assert not nested.ok, nested
    assert not context.ok, context


def test_the_per_call_check_fails_for_a_bridge_with_wrong_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bridge_checks, "async_to_sync", _off_by_one)
    result = bridge_checks.check_calls_from_a_plain_thread()
    assert not result.ok, result
    assert result.detail.startswith("WRONG results")
