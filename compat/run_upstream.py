"""Run upstream asgiref's own test suite against this workspace's packages.

Usage (from anywhere; ``hatch run compat:upstream`` calls it)::

    python compat/run_upstream.py [--exclude FILE ...] [--sdist PATH] [--keep]
                                  [--per-test-timeout S] [pytest args / test files ...]

What it does, every run:

1. downloads the asgiref sdist of the reference release from PyPI with pip into
   a temporary directory (hash-pinned; nothing is committed or cached here);
2. copies ONLY its ``tests/`` directory into a fresh work directory, so
   upstream's ``asgiref/`` package can never be imported;
3. writes a pytest configuration translated from upstream's ``setup.cfg``
   ``[tool:pytest]`` section, plus a ``conftest.py`` that refuses to run (exit
   code 4) unless ``asgiref`` and every ``asgiref.<module>`` come from
   ``packages/`` of this repository;
4. runs pytest on it and exits with pytest's exit code.

Arguments it does not know go to pytest unchanged (``-k``, ``-x``, ``-v`` ...);
a bare upstream file name such as ``test_server.py`` (optionally with
``::test_name``) is resolved inside the copied ``tests/``. ``--exclude
test_wsgi.py`` ignores a file. On Python 3.10 the tests listed in
``PY310_DESELECTED`` are deselected, each for the reason written next to it.

Needs, in the running environment: our packages installed (editable is fine),
pytest, pytest-asyncio, packaging (upstream's test_timeout imports it) and pip
(used only to download the sdist). pytest-timeout is used when present.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import importlib.util
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

UPSTREAM_VERSION = "3.13.0"
# sha256 of asgiref-3.13.0.tar.gz as published on PyPI.
UPSTREAM_SDIST_SHA256 = "034cc8cbf72d00553b4be256703ac545120b4e50af13b49dec99da899aeeecb4"

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES_DIR = REPO_ROOT / "packages"

# Run as a file, this script has compat/ on sys.path, not the repository root
# that holds tools/, the helpers it shares with the other developer scripts.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
from tools.installed_tool import tool_command  # noqa: E402

# Every module the upstream suite imports, all of which must be ours.
CHECKED_MODULES = (
    "asgiref",
    "asgiref.compatibility",
    "asgiref.current_thread_executor",
    "asgiref.local",
    "asgiref.server",
    "asgiref.sync",
    "asgiref.testing",
    "asgiref.timeout",
    "asgiref.typing",
    "asgiref.wsgi",
)

# Upstream 3.13.0 requires Python 3.11; these tests use 3.11-only standard
# library features in the test code itself, so they cannot run on 3.10.
PY310_DESELECTED: dict[str, str] = {
    "test_sync.py::test_sync_to_async_with_blocker_thread_sensitive": (
        "the test body uses asyncio.timeout (new in 3.11)"
    ),
    "test_sync.py::test_sync_to_async_with_blocker_non_thread_sensitive": (
        "the test body uses asyncio.timeout (new in 3.11)"
    ),
    "test_sync.py::test_two_nested_tasks_with_asyncio_run": (
        "the test body uses asyncio.Barrier (new in 3.11)"
    ),
    "test_sync_thread_sensitive_context.py::test_executor_context_siblings_are_isolated": (
        "the test body uses asyncio.Barrier (new in 3.11)"
    ),
    "test_sync_executor_context_scenario.py::"
    "test_force_new_context_keeps_executor_bindings_local_to_each_task": (
        "its scenario uses asyncio.TaskGroup (new in 3.11)"
    ),
    "test_testing.py::test_receive_output_timeout_restores_cancellation_count": (
        "the test calls Task.cancelling()/Task.uncancel() (new in 3.11)"
    ),
}

_CONFTEST = '''\
"""Written by compat/run_upstream.py: the suite must exercise OUR asgiref."""

import importlib
from pathlib import Path

import pytest

_PACKAGES_DIR = Path({packages_dir!r})
_MODULES = {modules!r}


def _origin(name):
    module = importlib.import_module(name)
    origin = getattr(module, "__file__", None)
    return Path(origin).resolve() if origin else None


def _check():
    problems = []
    origins = {{}}
    for name in _MODULES:
        try:
            origin = _origin(name)
        except Exception as error:  # any import failure is a broken workspace
            problems.append(f"{{name}}: cannot be imported ({{error!r}})")
            continue
        origins[name] = origin
        if origin is None or not origin.is_relative_to(_PACKAGES_DIR):
            problems.append(f"{{name}} comes from {{origin}}, not from {{_PACKAGES_DIR}}")
    if problems:
        raise pytest.UsageError(
            "upstream conformance run refused: " + "; ".join(problems)
        )
    return origins


_ORIGINS = _check()


def pytest_report_header(config):
    return [f"compat: {{name}} from {{path}}" for name, path in _ORIGINS.items()]
'''


def _pip_command() -> list[str]:
    missing = "run_upstream: pip is needed to download the upstream sdist (install pip)"
    return tool_command("pip", missing)


def pip_sdist_download(dest: Path, requirements: Path, *options: str) -> list[str]:
    """pip's arguments fetching the hash-pinned sdists of ``requirements`` (sources
    only, no dependencies) into ``dest``."""
    download = ["download", "--quiet", "--no-binary", ":all:", "--no-deps", "--require-hashes"]
    return [*download, *options, "--dest", str(dest), "-r", str(requirements)]


def download_sdist(into: Path) -> Path:
    requirement = into / "requirement.txt"
    requirement.write_text(
        f"asgiref=={UPSTREAM_VERSION} --hash=sha256:{UPSTREAM_SDIST_SHA256}\n", encoding="utf-8"
    )
    # Only the tests are used; on 3.10 pip would refuse the release itself
    # (it requires >= 3.11), though its tests run here with deselections.
    command = [*_pip_command(), *pip_sdist_download(into, requirement, "--ignore-requires-python")]
    subprocess.run(command, check=True, timeout=600)
    (sdist,) = into.glob(f"asgiref-{UPSTREAM_VERSION}.tar.gz")
    return sdist


def verify_sdist(sdist: Path) -> None:
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != UPSTREAM_SDIST_SHA256:
        sys.exit(f"run_upstream: {sdist} has sha256 {digest}, expected {UPSTREAM_SDIST_SHA256}")


def fetch_sdist(into: Path, given: Path | None = None) -> Path:
    """The hash-checked upstream sdist in ``into``: a copy of ``given``, or downloaded."""
    if given is not None:
        sdist = into / given.name
        shutil.copyfile(given, sdist)
    else:
        sdist = download_sdist(into)
    verify_sdist(sdist)
    return sdist


def extract_tests_and_config(sdist: Path, workdir: Path) -> configparser.ConfigParser:
    """Copy the sdist's tests/ into ``workdir`` and return its parsed setup.cfg."""
    top = f"asgiref-{UPSTREAM_VERSION}/"
    setup_cfg = configparser.ConfigParser(interpolation=None)
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            if not member.name.startswith(top):
                continue
            relative = member.name[len(top) :]
            if relative == "setup.cfg":
                handle = archive.extractfile(member)
                assert handle is not None
                setup_cfg.read_string(handle.read().decode("utf-8"))
            elif relative.startswith("tests/") and member.isfile():
                target = workdir / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                handle = archive.extractfile(member)
                assert handle is not None
                target.write_bytes(handle.read())
    if not (workdir / "tests").is_dir():
        sys.exit(f"run_upstream: {sdist.name} has no tests/ directory")
    if not setup_cfg.has_section("tool:pytest"):
        sys.exit(f"run_upstream: {sdist.name} has no [tool:pytest] section in setup.cfg")
    return setup_cfg


def write_pytest_config(setup_cfg: configparser.ConfigParser, workdir: Path) -> Path:
    """Upstream's [tool:pytest] options, as a standalone pytest.ini."""
    ini = configparser.ConfigParser(interpolation=None)
    ini["pytest"] = dict(setup_cfg["tool:pytest"])
    path = workdir / "pytest.ini"
    with path.open("w", encoding="utf-8") as handle:
        ini.write(handle)
    (workdir / "conftest.py").write_text(
        _CONFTEST.format(packages_dir=str(PACKAGES_DIR), modules=CHECKED_MODULES),
        encoding="utf-8",
    )
    return path


def _resolve_test_file(argument: str, workdir: Path) -> str:
    """Let callers name upstream files as ``test_x.py[::name]`` without a directory."""
    file_part = argument.split("::", 1)[0]
    if (
        file_part.endswith(".py")
        and "/" not in file_part
        and (workdir / "tests" / file_part).is_file()
    ):
        return f"tests/{argument}"
    return argument


def pytest_command(
    ini: Path, workdir: Path, excluded: Sequence[str], per_test_timeout: float, extra: Sequence[str]
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(ini),
        "--rootdir",
        str(workdir),
        "-p",
        "no:cacheprovider",
    ]
    for name in excluded:
        if not (workdir / "tests" / name).is_file():
            sys.exit(f"run_upstream: --exclude {name}: no such upstream test file")
        command.append(f"--ignore=tests/{name}")
    if sys.version_info < (3, 11):
        for node, reason in PY310_DESELECTED.items():
            print(f"run_upstream: deselected on 3.10: {node} ({reason})")
            command += ["--deselect", f"tests/{node}"]
    if per_test_timeout > 0 and importlib.util.find_spec("pytest_timeout") is not None:
        # A guard for CI only: upstream sets no timeout, and no test needs one to pass.
        command.append(f"--timeout={per_test_timeout:g}")
    command += [_resolve_test_file(argument, workdir) for argument in extra]
    return command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog="Unknown arguments are passed to pytest.",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="FILE",
        help="upstream test file to skip entirely (repeatable), e.g. test_wsgi.py",
    )
    parser.add_argument(
        "--sdist",
        type=Path,
        help="use this already downloaded sdist instead of downloading (hash still checked)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory and print its path"
    )
    parser.add_argument(
        "--per-test-timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="pytest-timeout per test when that plugin is installed (0 disables)",
    )
    options, extra = parser.parse_known_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="asgiref-upstream-"))
    try:
        download_dir = scratch / "download"
        download_dir.mkdir()
        workdir = scratch / "suite"
        workdir.mkdir()
        sdist = fetch_sdist(download_dir, options.sdist)
        setup_cfg = extract_tests_and_config(sdist, workdir)
        # Nothing of the download stays next to the suite.
        shutil.rmtree(download_dir)
        ini = write_pytest_config(setup_cfg, workdir)
        command = pytest_command(ini, workdir, options.exclude, options.per_test_timeout, extra)
        print("run_upstream:", " ".join(command), flush=True)
        return subprocess.run(command, cwd=workdir, check=False).returncode
    finally:
        if options.keep:
            print(f"run_upstream: work directory kept at {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
