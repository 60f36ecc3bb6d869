"""The Python versions we claim are exactly the ones we test.

The hatch-test matrix (the README's test command), the compat matrix
(upstream's suite) and every distribution's classifiers list the same
versions, 3.10 to 3.15. (Read with patterns: tomllib is not in 3.10.)
"""

from __future__ import annotations

import re

import pytest

from monorepo_testing import PACKAGES_DIR, REPO_ROOT

SUPPORTED = ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
_VERSION = re.compile(r'"(3\.\d+)"')


def _matrix(environment: str) -> list[str]:
    hatch = (REPO_ROOT / "hatch.toml").read_text(encoding="utf-8")
    section = re.search(
        rf"^\[\[envs\.{re.escape(environment)}\.matrix\]\]\npython = \[(.*?)\]$", hatch, re.M
    )
    assert section, f"no python matrix for {environment} in hatch.toml"
    return _VERSION.findall(section[1])


@pytest.mark.parametrize("environment", ["hatch-test", "compat"])
def test_the_matrix_is_every_supported_python(environment: str) -> None:
    assert _matrix(environment) == SUPPORTED


_DISTRIBUTIONS = sorted(p.name for p in PACKAGES_DIR.iterdir() if (p / "pyproject.toml").exists())


@pytest.mark.parametrize("distribution", _DISTRIBUTIONS)
def test_the_classifiers_name_exactly_the_tested_pythons(distribution: str) -> None:
    pyproject = (PACKAGES_DIR / distribution / "pyproject.toml").read_text(encoding="utf-8")
    claimed = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)
    assert claimed == SUPPORTED
    assert re.search(r'^requires-python = ">=3\.10"$', pyproject, re.M)
