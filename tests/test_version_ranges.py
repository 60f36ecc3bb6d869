"""The shared version satisfies what the main consumers of asgiref declare.

The ranges are copied from each consumer's published metadata (Requires-Dist
of the newest release of each line at the time of writing); a version bump
that leaves one of them out fails here before it reaches a user.
"""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from monorepo_testing import PACKAGES_DIR

DECLARED_RANGES = {
    "Django 5.2": ">=3.8.1",
    "Django 6.0": ">=3.9.1",
    "Channels 4.0-4.2": ">=3.6.0,<4",
    "Channels 4.3": ">=3.9.0,<4",
    "Daphne 4.x": ">=3.5.2,<4",
}


def _our_version() -> Version:
    namespace: dict[str, object] = {}
    init = PACKAGES_DIR / "asgiref" / "src" / "asgiref" / "__init__.py"
    for line in init.read_text("utf-8").splitlines():
        if line.startswith("__version__"):
            exec(line, namespace)
    return Version(str(namespace["__version__"]))


@pytest.mark.parametrize("consumer", sorted(DECLARED_RANGES))
def test_version_is_accepted_by(consumer: str) -> None:
    assert _our_version() in SpecifierSet(DECLARED_RANGES[consumer])


def test_installed_metapackage_reports_the_same_version() -> None:
    import asgiref

    assert Version(asgiref.__version__) == _our_version()
