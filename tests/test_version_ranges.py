"""The shared version satisfies what the main consumers of asgiref declare, and is ours.

The ranges are copied from each consumer's published metadata (Requires-Dist
of the newest release of each line at the time of writing); a version bump
that leaves one of them out fails here before it reaches a user. The version
scheme (root README, "Versions") is checked too: a post-release of the upstream
release this one matches, so it sorts above it and no upstream release has it.
"""

from __future__ import annotations

import pytest
from install_testing import UPSTREAM_MATCHED, release_version
from packaging.specifiers import SpecifierSet
from packaging.version import Version

DECLARED_RANGES = {
    "Django 4.2": ">=3.6.0,<4",
    "Django 5.0": ">=3.7.0,<4",
    "Django 5.1": ">=3.8.1,<4",
    "Django 5.2": ">=3.8.1",
    "Django 6.0": ">=3.9.1",
    "Django 6.1": ">=3.9.1",
    "Channels 4.0": ">=3.5.0,<4",
    "Channels 4.1-4.2": ">=3.6.0,<4",
    "Channels 4.3": ">=3.9.0,<4",
    "Daphne 4.x": ">=3.5.2,<4",
}


def _our_version() -> Version:
    return Version(release_version())


@pytest.mark.parametrize("consumer", sorted(DECLARED_RANGES))
def test_version_is_accepted_by(consumer: str) -> None:
    assert _our_version() in SpecifierSet(DECLARED_RANGES[consumer])


def test_version_is_a_post_release_of_the_upstream_release_it_matches() -> None:
    ours, upstream = _our_version(), Version(UPSTREAM_MATCHED)
    assert ours.release == upstream.release
    # pip install -U and a resolver given both pick ours; pip list tells them
    # apart (upstream has never published a post-release).
    assert ours.is_postrelease
    assert ours > upstream
    # What every index accepts, and every resolver installs without --pre.
    assert not ours.is_prerelease
    assert ours.local is None


def test_installed_metapackage_reports_the_same_version() -> None:
    import asgiref

    assert Version(asgiref.__version__) == _our_version()
