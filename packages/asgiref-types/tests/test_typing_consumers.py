"""Consumer files type-check against the built asgiref-types wheel installed alone.

mypy --strict and pyright strict each see a fresh environment holding only
this distribution (plus typing_extensions on 3.10, its one dependency); the
correct files must be clean, and the file of mistakes must produce errors on
exactly the lines marked ``# expect-error`` (both checkers) or
``# expect-error[<checker>]`` (that checker only).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Protocol

import pytest

CASES = Path(__file__).parent / "typecheck"
OK_FILES = sorted(CASES.glob("ok_*.py"))
MISTAKES = CASES / "mistakes.py"
_MARKER = re.compile(r"#\s*expect-error(?:\[(?P<only>\w+)\])?")


def expected_errors(file: Path, checker: str) -> set[int]:
    """Lines (1-based) where ``checker`` must report an error."""
    lines = file.read_text(encoding="utf-8").splitlines()
    matches = {number: _MARKER.search(line) for number, line in enumerate(lines, 1)}
    return {
        number
        for number, match in matches.items()
        if match is not None and match["only"] in (None, checker)
    }


# The shapes of the repository-level fixtures (conftest.py at the root, which
# mypy does not see when this package's tests are checked on their own).
class Venv(Protocol):
    def run(self, code: str, timeout: float = ...) -> subprocess.CompletedProcess[str]: ...


class MakeVenv(Protocol):
    def __call__(self, *distributions: str) -> Venv: ...


class TypeChecker(Protocol):
    def mypy(self, venv: Venv, *files: Path) -> dict[Path, set[int]]: ...

    def pyright(self, venv: Venv, *files: Path) -> dict[Path, set[int]]: ...


def test_every_scenario_has_a_consumer_file() -> None:
    names = {path.stem for path in OK_FILES}
    wanted = {"ok_http", "ok_streaming_trailers", "ok_websocket_denial", "ok_lifespan_state"}
    assert wanted <= names
    assert "ok_extensions" in names
    assert len(expected_errors(MISTAKES, "mypy")) >= 20
    assert expected_errors(MISTAKES, "mypy") < expected_errors(MISTAKES, "pyright")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_consumer_files_against_the_wheel_alone(
    make_venv: MakeVenv, typecheck: TypeChecker, checker: str
) -> None:
    venv = make_venv("asgiref-types")
    listing = venv.run(
        "import importlib.metadata as m; print(sorted(d.name for d in m.distributions()))"
    )
    installed = listing.stdout
    assert "asgiref-types" in installed or "asgiref_types" in installed
    for sibling in ("'asgiref'", "asgiref-sync", "asgiref_sync"):
        assert sibling not in installed, installed

    run = typecheck.mypy if checker == "mypy" else typecheck.pyright
    found = run(venv, *OK_FILES, MISTAKES)

    for ok_file in OK_FILES:
        assert found[ok_file] == set(), (
            f"{checker} rejected correct code in {ok_file.name} at lines {sorted(found[ok_file])}"
        )
    expected = expected_errors(MISTAKES, checker)
    assert sorted(found[MISTAKES] - expected) == [], f"{checker}: unexpected errors"
    assert sorted(expected - found[MISTAKES]) == [], f"{checker}: mistakes not caught"
