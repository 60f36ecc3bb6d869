"""Applications type-check against the released wheels, in both checkers, strictly.

The wheels are installed into a fresh environment and the checkers see only
that environment, as a user's CI would; the mistakes file proves the types
are precise enough to catch real errors, line by line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monorepo_testing import MakeVenv, TypeChecker

CASES = Path(__file__).parent / "typecheck"
OK = CASES / "consumer_ok.py"
MISTAKES = CASES / "consumer_mistakes.py"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_consumer_files_against_installed_wheels(
    make_venv: MakeVenv, typecheck: TypeChecker, checker: str
) -> None:
    venv = make_venv("asgiref")
    found = getattr(typecheck, checker)(venv, OK, MISTAKES)
    assert found[OK] == set(), f"{checker} rejected correct code at lines {sorted(found[OK])}"
    assert found[MISTAKES] == typecheck.expected_error_lines(MISTAKES)
