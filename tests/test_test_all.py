"""tools/test_all.py, the README's test command: it runs the matrix's
interpreters that exist, names the others in one line, and never prints after
pytest's summary."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from monorepo_testing import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))

from tools import test_all

MATRIX = ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
_ENVIRONMENTS = {
    "default": {},
    "compat.py3.9": {"python": "3.9"},
    **{f"hatch-test.py{version}": {"python": version} for version in MATRIX},
    "downstream": {"python": "3.12"},
}


def _fake_hatch(tmp_path: Path, exit_status: int = 0) -> tuple[list[str], Path]:
    """A stand-in for hatch: answers `env show --json`, records `test`'s arguments."""
    calls = tmp_path / "calls.jsonl"
    script = tmp_path / "fake_hatch.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, sys
            if sys.argv[1:4] == ["env", "show", "--json"]:
                print(json.dumps({_ENVIRONMENTS!r}))
                sys.exit(0)
            with open({str(calls)!r}, "a") as calls:
                calls.write(json.dumps(sys.argv[1:]) + "\\n")
            print("==== 3 passed in 0.01s ====")
            sys.exit({exit_status})
            """
        ),
        encoding="utf-8",
    )
    return [sys.executable, str(script)], calls


def _recorded(calls: Path) -> list[list[str]]:
    return [json.loads(line) for line in calls.read_text(encoding="utf-8").splitlines()]


def test_the_matrix_is_read_from_hatch(tmp_path: Path) -> None:
    hatch, _ = _fake_hatch(tmp_path)
    assert test_all.matrix_versions(hatch) == MATRIX


def _main(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    found: Callable[[str], bool],
    args: Sequence[str] = (),
    exit_status: int = 0,
) -> tuple[int, list[list[str]]]:
    """test_all.main with a fake hatch and ``found`` deciding which Pythons exist;
    its exit status and the arguments hatch test was called with."""
    hatch, calls = _fake_hatch(tmp_path, exit_status)
    monkeypatch.setattr(test_all, "hatch_command", lambda: hatch)
    monkeypatch.setattr(test_all, "interpreter_finder", lambda: found)
    status = test_all.main(args)
    return status, _recorded(calls) if calls.exists() else []


@pytest.mark.timeout(60)
def test_missing_interpreters_are_named_in_one_line_and_the_rest_are_tested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    status, calls = _main(tmp_path, monkeypatch, lambda v: v == "3.11", ["-k", "x"], 3)
    out = capfd.readouterr().out.splitlines()
    assert status == 3
    assert calls == [["test", "--python", "3.11", "--", "-k", "x"]]
    assert out == [
        "test_all: skipping Python 3.10, 3.12, 3.13, 3.14, 3.15 (not found on this machine);"
        " testing on Python 3.11",
        "==== 3 passed in 0.01s ====",
    ]


@pytest.mark.timeout(60)
def test_with_every_interpreter_all_six_are_tested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    status, calls = _main(tmp_path, monkeypatch, lambda v: True)
    assert status == 0
    assert calls == [["test", "--python", ",".join(MATRIX)]]
    assert capfd.readouterr().out.splitlines()[-1] == "==== 3 passed in 0.01s ===="


def test_without_any_interpreter_it_says_so_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    status, calls = _main(tmp_path, monkeypatch, lambda v: False)
    assert status == 1
    assert calls == []
    (line,) = capfd.readouterr().out.splitlines()
    assert "none of Python 3.10, 3.11, 3.12, 3.13, 3.14, 3.15 was found" in line


def _executable(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.timeout(60)
def test_the_path_search_runs_each_candidate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pyenv shim for a version .python-version does not select is on PATH
    # but does not run; a real interpreter answers with its version.
    _executable(
        tmp_path / "python3.14", 'echo "pyenv: python3.14: command not found" >&2; exit 127'
    )
    _executable(tmp_path / "python3.13", "echo 3.13")
    _executable(tmp_path / "python3.12", "echo 3.11")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3.13"))
    found = {v for v in ("3.12", "3.13", "3.14", "3.15") if test_all._found_on_path(v)}
    assert found == {"3.13"}


@pytest.mark.timeout(60)
def test_hatchs_own_discovery_is_used_when_it_can_be_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("python_discovery")
    monkeypatch.setenv("PATH", os.pathsep.join([str(tmp_path), "/nonexistent"]))
    exists = test_all.interpreter_finder()
    assert exists is not test_all._found_on_path
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert exists(running)  # the running interpreter counts, as for hatch
    assert not exists("3.99")
