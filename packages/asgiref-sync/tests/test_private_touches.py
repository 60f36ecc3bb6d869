"""CPython/asyncio private names: one home, each with a public fallback that works.

The package asgiref.local._cpython is the only place in asgiref-sync that
touches them; ``ASGIREF_SYNC_PUBLIC_API=all`` forces every fallback. The
bridge's own tests run again in a child process that way, on whichever Python
runs this file (the test matrix runs it on every supported version).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monorepo_testing import fresh_python_output

_TESTS = Path(__file__).resolve().parent
_SOURCES = _TESTS.parent / "src" / "asgiref"
_HOME = _SOURCES / "local" / "_cpython"

# Private names of CPython and asyncio that asgiref-sync has used or might be
# tempted to use, read as attributes or by name; only their home may do that.
_PRIVATE_NAMES = re.compile(
    r"[.\"']_(get_running_loop|ready|scheduled|asyncgens|current_tasks|scheduled_tasks|"
    r"all_tasks|eager_tasks|is_coroutine|event_loop_policy|selector|fd_to_key|"
    r"default_executor|executor_shutdown_called|asyncgens_shutdown_called|"
    r"thread_name_prefix|condition|waiters|callback|args|context)\b"
)

# The bridge's behaviour, rerun with every fallback forced. Tests that check
# a touch's own effect skip themselves then (see their skipif markers).
_FALLBACK_SUITE = (
    "test_sync_contract.py",
    "test_sync_defects.py",
    "test_sync_fresh_loop.py",
    "test_sync_loop_pool.py",
    "test_sync_outer_loop_tasks.py",
    "test_sync_main_task_cancelled.py",
    "test_sync_abandoned_calls.py",
    "test_sync_readme_promises.py",
    "test_sync_default_executor.py",
    "test_thread_sensitive_context_exit.py",
    "test_local_behaviour.py",
    "test_current_thread_executor.py",
    "test_compatibility.py",
)


def _private_touches(sources: Path, home: Path) -> list[str]:
    """``path:line: code`` of every private name read outside ``home`` (a
    package directory: every module in it, and only those, may)."""
    offenders = []
    for path in sorted(sources.rglob("*.py")):
        if home in path.parents:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if _PRIVATE_NAMES.search(code):
                offenders.append(f"{path.relative_to(sources)}:{number}: {line.strip()}")
    return offenders


def test_only_the_home_package_names_private_internals() -> None:
    assert _HOME.is_dir()
    assert _private_touches(_SOURCES, _HOME) == []


def test_the_home_holds_the_touches() -> None:
    # Without the exemption the home's own modules are reported: the scan
    # sees them, and the exemption is what keeps them out.
    found = {line.split(":", 1)[0] for line in _private_touches(_SOURCES, _SOURCES / "none")}
    assert found == {
        str(Path("local/_cpython/__init__.py")),
        str(Path("local/_cpython/_future.py")),
    }


@pytest.mark.parametrize(
    ("where", "code"),
    [
        ("sync/_example.py", "queue = loop._ready\n"),
        ("local/_store_example.py", 'getattr(asyncio.events, "_get_running_loop")\n'),
        # Beside the home is not in it.
        ("local/_cpython_example.py", "future._condition.notify_all()\n"),
    ],
)
def test_a_touch_outside_the_home_is_caught(tmp_path: Path, where: str, code: str) -> None:
    home = tmp_path / "local" / "_cpython"
    home.mkdir(parents=True)
    (home / "__init__.py").write_text("queue = loop._ready\n", encoding="utf-8")
    module = tmp_path / where
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text(code, encoding="utf-8")
    assert _private_touches(tmp_path, home) == [f"{Path(where)}:1: {code.strip()}"]


def test_the_switch_turns_every_touch_off() -> None:
    os.environ["ASGIREF_SYNC_PUBLIC_API"] = "all"
    try:
        output = fresh_python_output(
            """
            import asyncio
            from asgiref.local import _cpython
            print(sorted(name for name in _cpython.TOUCHES if _cpython.uses_private(name)))
            print(_cpython.get_running_loop is _cpython._running_loop_public)
            print(_cpython.new_outcome.__module__)
            print(_cpython.snapshot(asyncio.new_event_loop()))
            """
        )
    finally:
        del os.environ["ASGIREF_SYNC_PUBLIC_API"]
    assert output == ["[]", "True", "concurrent.futures._base", "None"]


def test_a_partial_switch_turns_off_only_what_it_names() -> None:
    os.environ["ASGIREF_SYNC_PUBLIC_API"] = "loop_state, future_fields"
    try:
        output = fresh_python_output(
            """
            from asgiref.local import _cpython
            print(sorted(name for name in _cpython.TOUCHES if not _cpython.uses_private(name)))
            """
        )
    finally:
        del os.environ["ASGIREF_SYNC_PUBLIC_API"]
    assert output == ["['future_fields', 'loop_state']"]


@pytest.mark.timeout(600)
def test_the_bridge_behaves_the_same_on_public_api_only() -> None:
    env = dict(os.environ, ASGIREF_SYNC_PUBLIC_API="all", PYTHONDONTWRITEBYTECODE="1")
    pytest_options = ("-q", "-p", "no:randomly", "-p", "no:cacheprovider")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_options, *_FALLBACK_SUITE],
        cwd=_TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=570,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout
