"""Every ```python example of a README runs with exactly what it says to install.

A runnable example opens with the line a user types to get what it needs::

    # pip install asgiref-wsgi flask httpx uvicorn

Each example runs in a fresh virtual environment holding that and nothing
else (examples needing the same set share one), from a directory of its own.
This checkout's distributions are installed from wheels built from it, in
place of the projects of the same names on PyPI; everything else comes from
the package index, as it would for a user. A block meant only to be read
opens with ``# example only: <reason>``.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from monorepo_testing import (
    DISTRIBUTIONS,
    PACKAGES_DIR,
    REPO_ROOT,
    BuiltDists,
    Venv,
    run_checked,
    uv_binary,
)

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_READ_ONLY = "# example only:"
_NEEDS = "# pip install "
_INSTALL_TIMEOUT = 600


@dataclass(frozen=True)
class Example:
    name: str
    code: str
    requirements: tuple[str, ...]  # empty: the example declares nothing


def _requirements(code: str) -> tuple[str, ...]:
    first = code.lstrip().partition("\n")[0]
    return tuple(shlex.split(first[len(_NEEDS) :])) if first.startswith(_NEEDS) else ()


def _examples() -> list[Example]:
    found = []
    for readme in sorted([REPO_ROOT / "README.md", *PACKAGES_DIR.glob("*/README.md")]):
        for number, code in enumerate(_BLOCK.findall(readme.read_text("utf-8")), 1):
            if not code.lstrip().startswith(_READ_ONLY):
                name = f"{readme.parent.name}-{number}"
                found.append(Example(name, code, _requirements(code)))
    return found


EXAMPLES = _examples()


def test_every_package_readme_has_a_runnable_example() -> None:
    with_examples = {example.name.rsplit("-", 1)[0] for example in EXAMPLES}
    packages = {p.name for p in PACKAGES_DIR.iterdir() if (p / "pyproject.toml").exists()}
    missing = packages - with_examples
    assert not missing, f"READMEs without a runnable example: {sorted(missing)}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_every_example_declares_what_it_needs(example: Example) -> None:
    assert example.requirements, (
        f"{example.name} must open with the line that installs what it needs,"
        f" such as '{_NEEDS}asgiref-sync' (or with '{_READ_ONLY} <reason>')"
    )
    ours = set(example.requirements) & set(DISTRIBUTIONS)
    assert ours, f"{example.name} installs none of this checkout's distributions"


def _project(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


ExampleVenv = Callable[[Sequence[str]], Venv]


@pytest.fixture(scope="session")
def example_venv(built_dists: BuiltDists, tmp_path_factory: pytest.TempPathFactory) -> ExampleVenv:
    """Factory: the shared fresh venv holding exactly ``requirements``."""
    made: dict[frozenset[str], Venv] = {}
    # Wherever one of ours is required (named by an example or by another
    # distribution), the wheel built from this checkout is what gets installed.
    overrides = tmp_path_factory.mktemp("overrides") / "ours.txt"
    overrides.write_text(
        "".join(f"{name} @ {wheel.as_uri()}\n" for name, wheel in built_dists.wheels.items()),
        encoding="utf-8",
    )

    def get(requirements: Sequence[str]) -> Venv:
        key = frozenset(requirements)
        if key not in made:
            path = tmp_path_factory.mktemp("example-venv")
            run_checked(
                [uv_binary(), "venv", "--quiet", "--python", sys.executable, path],
                timeout=_INSTALL_TIMEOUT,
            )
            venv = Venv(path=path, python=path / "bin" / "python")
            command: list[str | Path] = [uv_binary(), "pip", "install", "--quiet"]
            command += ["--python", venv.python, "--override", overrides, *sorted(requirements)]
            run_checked(command, timeout=_INSTALL_TIMEOUT)
            made[key] = venv
        return made[key]

    return get


def _ours_installed(venv: Venv) -> dict[str, str]:
    """This checkout's distributions in ``venv``, each with where it came from."""
    listed = run_checked(
        [uv_binary(), "pip", "freeze", "--python", venv.python], timeout=_INSTALL_TIMEOUT
    )
    lines = (line.strip() for line in listed.splitlines())
    return {_project(line): line for line in lines if _project(line) in DISTRIBUTIONS}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_readme_example_runs_with_what_it_declares(
    example: Example, example_venv: ExampleVenv, built_dists: BuiltDists
) -> None:
    if not example.requirements:
        pytest.fail(f"{example.name} declares nothing to install (see the test above)")
    venv = example_venv(example.requirements)
    ours = _ours_installed(venv)
    assert {_project(r) for r in example.requirements} & set(DISTRIBUTIONS) <= set(ours)
    wheelhouse = built_dists.directory.as_uri()
    assert all(wheelhouse in line for line in ours.values()), ours
    proc = venv.run(example.code, timeout=300)
    assert proc.returncode == 0, f"{example.name} failed:\n{proc.stdout}\n{proc.stderr}"


def test_the_readme_test_command_is_what_ci_runs_last() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"^```console\n(.*?)\n```", readme, re.DOTALL | re.MULTILINE)
    test_command = next(c for c in commands if "tools/test_all.py" in c)
    last = [line for line in ci.splitlines() if line.strip() and not line.startswith("#")][-1]
    assert last == test_command
