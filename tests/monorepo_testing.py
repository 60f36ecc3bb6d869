"""Fixtures and helpers shared by every test of the monorepo (a pytest plugin).

They give tests what users get: wheels built from this checkout, installed into
fresh virtual environments, and the type checkers run against those installs.
Building and installing goes through ``uv`` (a test dependency) because it is
fast enough to do per test on a 2-core machine. Also the one bounded
"call this in a new thread" helper of the thread-sensitive tests.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES_DIR = REPO_ROOT / "packages"
DISTRIBUTIONS = (
    "asgiref",
    "asgiref-sync",
    "asgiref-wsgi",
    "asgiref-server",
    "asgiref-testing",
    "asgiref-types",
)
_T = TypeVar("_T")
_EXPECT_ERROR = re.compile(r"#\s*expect-error\b")
_BUILD_TIMEOUT = 300
_INSTALL_TIMEOUT = 300


def uv_binary() -> str:
    found = shutil.which("uv")
    if found:
        return found
    # `uv` installed as a Python package in this environment without a bin on PATH.
    candidate = Path(sys.executable).with_name("uv")
    if candidate.exists():
        return str(candidate)
    pytest.fail("uv is required by the packaging tests (pip install uv)")


def run_checked(
    args: Sequence[str | os.PathLike[str]],
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run a command; on failure, fail the test showing its whole output."""
    proc = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        cwd=cwd,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"command failed ({proc.returncode}): {' '.join(map(str, args))}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return str(proc.stdout)


def fresh_python_output(code: str, cwd: Path | None = None, timeout: float = 20) -> list[str]:
    """Run ``code`` (dedented) in a fresh interpreter of this environment (which
    has this checkout installed editable; PYTHONPATH, if set, is passed on) and
    return the lines it printed. The program must exit with 0."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=cwd,
            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"the program did not exit within {timeout} s\n"
            f"--- stdout ---\n{exc.stdout!r}\n--- stderr ---\n{exc.stderr!r}"
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def python_program_output(code: str, cwd: Path, timeout: float = 20) -> list[str]:
    """:func:`fresh_python_output` of ``code`` run after ``import asgiref.sync``,
    whose file is checked to be this checkout's."""
    program = "import asgiref.sync\nprint(asgiref.sync.__file__, flush=True)\n"
    lines = fresh_python_output(program + textwrap.dedent(code), cwd, timeout)
    import asgiref.sync

    assert lines[0] == asgiref.sync.__file__, "the program imported another asgiref"
    return lines[1:]


def run_in_thread(
    target: Callable[[], _T], context: contextvars.Context | None = None, timeout: float = 20
) -> _T:
    """``target()`` in a new plain thread, inside ``context`` if given: what it
    returned, or what it raised raised again here. Fails the test if the thread
    has not finished within ``timeout`` seconds."""
    outcome: list[_T] = []
    raised: list[BaseException] = []

    def main() -> None:
        try:
            outcome.append(target() if context is None else context.run(target))
        except BaseException as exc:  # every kind is the target's outcome
            raised.append(exc)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the thread did not finish within {timeout} s"
    if raised:
        raise raised[0]
    return outcome[0]


@dataclass(frozen=True)
class BuiltDists:
    """The sdists and wheels of every distribution, built the way a release is."""

    directory: Path
    wheels: dict[str, Path]
    sdists: dict[str, Path]


def _dist_file(directory: Path, distribution: str, suffix: str) -> Path:
    stem = distribution.replace("-", "_")
    matches = sorted(directory.glob(f"{stem}-*{suffix}"))
    if len(matches) != 1:
        pytest.fail(f"expected one {suffix} of {distribution} in {directory}, found {matches}")
    return matches[0]


@pytest.fixture(scope="session")
def built_dists(tmp_path_factory: pytest.TempPathFactory) -> BuiltDists:
    """Build each distribution as a release does: sdist first, wheel from the sdist."""
    out = tmp_path_factory.mktemp("dist")
    for distribution in DISTRIBUTIONS:
        run_checked(
            [uv_binary(), "build", "--quiet", "--out-dir", out, PACKAGES_DIR / distribution],
            timeout=_BUILD_TIMEOUT,
        )
    return BuiltDists(
        directory=out,
        wheels={d: _dist_file(out, d, ".whl") for d in DISTRIBUTIONS},
        sdists={d: _dist_file(out, d, ".tar.gz") for d in DISTRIBUTIONS},
    )


@pytest.fixture(scope="session")
def wheelhouse(built_dists: BuiltDists) -> Path:
    """A directory holding the six wheels of this checkout (and their sdists)."""
    return built_dists.directory


@dataclass(frozen=True)
class Venv:
    path: Path
    python: Path

    def run(self, code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``python -c code`` in this environment, from a neutral directory."""
        return subprocess.run(
            [str(self.python), "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.path,
            env=_clean_env(),
        )

    def site_packages(self) -> Path:
        out = self.run("import sysconfig; print(sysconfig.get_paths()['purelib'])")
        return Path(out.stdout.strip())


def _clean_env() -> dict[str, str]:
    # Editable installs of the workspace must not leak into a fresh environment.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


MakeVenv = Callable[..., Venv]


@pytest.fixture
def make_venv(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> MakeVenv:
    """Factory: a fresh venv holding only the named distributions from the wheelhouse.

    ``extra`` requirements come from PyPI and are installed first, so the
    distributions of this checkout are then resolved from the wheelhouse alone
    (``--no-index``): a same-named project on PyPI can never stand in for ours.
    """

    def make(
        *distributions: str,
        extra: Sequence[str] = (),
        seed: bool = False,
        python: str = sys.executable,
    ) -> Venv:
        path = tmp_path_factory.mktemp("venv")
        command = [uv_binary(), "venv", "--quiet", "--python", python]
        if seed:
            command.append("--seed")
        run_checked([*command, path], timeout=_INSTALL_TIMEOUT, env=_clean_env())
        venv = Venv(path=path, python=path / "bin" / "python")
        third_party = list(extra)
        if sys.version_info < (3, 11):
            # Where a split needs typing_extensions, it is the only third-party dependency.
            third_party.append("typing_extensions>=4.6")
        if third_party:
            install(venv, third_party)
        if distributions:
            install(venv, distributions, no_index=True, find_links=wheelhouse)
        return venv

    return make


def install(
    venv: Venv,
    requirements: Sequence[str | Path],
    *,
    no_index: bool = False,
    find_links: Path | None = None,
) -> None:
    command: list[str | Path] = [uv_binary(), "pip", "install", "--quiet", "--python", venv.python]
    if no_index:
        command.append("--no-index")
    if find_links is not None:
        command += ["--find-links", find_links]
    run_checked([*command, *requirements], timeout=_INSTALL_TIMEOUT, env=_clean_env())


def expected_error_lines(file: Path) -> set[int]:
    """Line numbers (1-based) that carry an ``# expect-error`` marker."""
    lines = file.read_text(encoding="utf-8").splitlines()
    return {number for number, line in enumerate(lines, 1) if _EXPECT_ERROR.search(line)}


class TypeChecker:
    """Runs mypy and pyright in strict mode against a venv's installed packages."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir

    def _stage(self, files: Sequence[Path]) -> tuple[Path, dict[str, Path]]:
        # Checked from a directory of their own, so nothing of this checkout is
        # importable except through the venv's site-packages.
        stage = Path(tempfile.mkdtemp(prefix="typecheck-", dir=self._workdir))
        staged: dict[str, Path] = {}
        for file in files:
            target = stage / file.name
            shutil.copyfile(file, target)
            staged[file.name] = file
        return stage, staged

    def mypy(self, venv: Venv, *files: Path) -> dict[Path, set[int]]:
        stage, staged = self._stage(files)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--strict",
                "--no-incremental",
                "--show-error-codes",
                "--no-error-summary",
                "--python-executable",
                str(venv.python),
                "--cache-dir",
                str(stage / ".mypy_cache"),
                *staged,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=stage,
            env={**_clean_env(), "MYPYPATH": ""},
        )
        if proc.returncode not in (0, 1):
            pytest.fail(f"mypy crashed:\n{proc.stdout}\n{proc.stderr}")
        found: dict[Path, set[int]] = {original: set() for original in staged.values()}
        for line in proc.stdout.splitlines():
            match = re.match(r"^(?P<file>[^:]+):(?P<line>\d+): error:", line)
            if match:
                found[staged[Path(match["file"]).name]].add(int(match["line"]))
            elif ": error:" in line:
                pytest.fail(f"mypy reported an error outside the checked files: {line}")
        return found

    def pyright(self, venv: Venv, *files: Path) -> dict[Path, set[int]]:
        stage, staged = self._stage(files)
        errors = _pyright_errors(venv, stage, include=".")
        found: dict[Path, set[int]] = {original: set() for original in staged.values()}
        for diagnostic in errors:
            name = Path(diagnostic["file"]).name
            if name not in staged:
                pytest.fail(f"pyright reported an error outside the checked files: {diagnostic}")
            found[staged[name]].add(int(diagnostic["range"]["start"]["line"]) + 1)
        return found

    expected_error_lines = staticmethod(expected_error_lines)


@pytest.fixture
def typecheck(tmp_path: Path) -> TypeChecker:
    return TypeChecker(tmp_path)


def _pyright_errors(venv: Venv, workdir: Path, include: str) -> list[dict[str, Any]]:
    """Run pyright (strict) from ``workdir`` over ``include``; its error diagnostics.

    Fails the test if pyright gives no report or analyses no file at all (it
    silently ignores "include" paths it cannot use, absolute ones among them).
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    config = {"typeCheckingMode": "strict", "pythonVersion": version, "include": [include]}
    (workdir / "pyrightconfig.json").write_text(json.dumps(config), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", str(venv.python)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=workdir,
        env=_clean_env(),
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"pyright gave no report:\n{proc.stdout}\n{proc.stderr}")
    if not report["summary"]["filesAnalyzed"]:
        pytest.fail(f"pyright analysed no file of {include} in {workdir}:\n{proc.stderr}")
    return [d for d in report.get("generalDiagnostics", []) if d.get("severity") == "error"]


def pyright_installed_package(venv: Venv, workdir: Path) -> list[str]:
    """pyright (strict) over the ``asgiref`` package as installed in ``venv``.

    Returns one line per error, so a failing test shows them all.
    """
    include = os.path.relpath(venv.site_packages() / "asgiref", workdir)
    return [
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']} ({d.get('rule', '')})"
        for d in _pyright_errors(venv, workdir, include)
    ]
