"""The packaging rules of architecture.md, checked on the built wheels.

Each rule is a function over a description of the wheels, so the same code
checks the real release and, in ``test_rule_catches``, a deliberately broken
one: every guard is shown to fail when its rule is broken.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from email.parser import HeaderParser
from pathlib import Path

import pytest

from monorepo_testing import DISTRIBUTIONS, PACKAGES_DIR, REPO_ROOT, BuiltDists, run_checked

METAPACKAGE = "asgiref"
# The module packages each split owns (architecture.md, "who installs what").
SPLIT_MODULES: dict[str, frozenset[str]] = {
    "asgiref-sync": frozenset(
        {"sync", "local", "current_thread_executor", "compatibility", "timeout"}
    ),
    "asgiref-wsgi": frozenset({"wsgi"}),
    "asgiref-server": frozenset({"server"}),
    "asgiref-testing": frozenset({"testing"}),
    # coexistence and mixed_install_check: the check every module runs (see
    # asgiref.mixed_install_check).
    "asgiref-types": frozenset({"typing", "coexistence", "mixed_install_check"}),
}
# The siblings each split needs (the bridge; asgiref-types for the coexistence
# check); each pins them to the release's own version.
SPLIT_SIBLINGS: dict[str, frozenset[str]] = {
    "asgiref-sync": frozenset({"asgiref-types"}),
    "asgiref-wsgi": frozenset({"asgiref-types"}),
    "asgiref-server": frozenset({"asgiref-sync", "asgiref-types"}),
    "asgiref-testing": frozenset({"asgiref-sync", "asgiref-types"}),
    "asgiref-types": frozenset(),
}
METAPACKAGE_FILES = frozenset({"asgiref/__init__.py", "asgiref/py.typed"})


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    files: frozenset[str]  # paths outside the .dist-info directory
    requires: tuple[str, ...]


def read_wheel(path: Path) -> Wheel:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = HeaderParser().parsestr(archive.read(metadata_name).decode("utf-8"))
    return Wheel(
        name=str(metadata["Name"]),
        version=str(metadata["Version"]),
        files=frozenset(n for n in names if ".dist-info/" not in n),
        requires=tuple(metadata.get_all("Requires-Dist") or ()),
    )


def _pins(wheel: Wheel) -> dict[str, str]:
    """Sibling requirements of a wheel, as name -> version specifier."""
    pins: dict[str, str] = {}
    for requirement in wheel.requires:
        match = re.match(r"^(asgiref(?:-[a-z]+)?)\s*(.*)$", requirement)
        if match:
            pins[match[1]] = match[2].strip()
    return pins


def rule_no_shared_paths(wheels: Mapping[str, Wheel], version: str) -> list[str]:
    owners: dict[str, str] = {}
    problems = []
    for wheel in wheels.values():
        for path in sorted(wheel.files):
            if path in owners:
                problems.append(f"{path} is in both {owners[path]} and {wheel.name}")
            owners[path] = wheel.name
    return problems


def rule_splits_leave_namespace_alone(wheels: Mapping[str, Wheel], version: str) -> list[str]:
    problems = []
    for name, wheel in wheels.items():
        if name == METAPACKAGE:
            continue
        for path in sorted(wheel.files & METAPACKAGE_FILES):
            problems.append(f"split {name} ships {path}, which only the metapackage may ship")
    return problems


def rule_modules_are_packages(wheels: Mapping[str, Wheel], version: str) -> list[str]:
    problems = []
    for name, wheel in wheels.items():
        for path in sorted(wheel.files):
            parts = path.split("/")
            if len(parts) == 2 and path not in METAPACKAGE_FILES:
                problems.append(f"{name} ships {path} directly in asgiref/ (single-file module)")
    return problems


def rule_module_packages_typed(wheels: Mapping[str, Wheel], version: str) -> list[str]:
    problems = []
    for name, wheel in wheels.items():
        for path in sorted(wheel.files):
            parts = path.split("/")
            if len(parts) == 3 and parts[2] == "__init__.py":
                marker = f"asgiref/{parts[1]}/py.typed"
                if marker not in wheel.files:
                    problems.append(f"{name}: module package asgiref.{parts[1]} lacks {marker}")
    return problems


def rule_expected_modules(wheels: Mapping[str, Wheel], version: str) -> list[str]:
    problems = []
    if set(wheels) != set(DISTRIBUTIONS):
        problems.append(f"expected wheels of {sorted(DISTRIBUTIONS)}, got {sorted(wheels)}")
    for name, wheel in wheels.items():
        if name == METAPACKAGE:
            if wheel.files != METAPACKAGE_FILES:
                problems.append(
                    f"metapackage must ship exactly {sorted(METAPACKAGE_FILES)}, "
                    f"ships {sorted(wheel.files)}"
                )
            continue
        shipped = {p.split("/")[1] for p in wheel.files if p.count("/") >= 2}
        expected = SPLIT_MODULES.get(name, frozenset())
        if shipped != expected:
            problems.append(f"{name} ships modules {sorted(shipped)}, expected {sorted(expected)}")
    return problems


def rule_one_version(wheels: Mapping[str, Wheel], version: str) -> list[str]:
    return [
        f"{name} has version {wheel.version}, the release is {version}"
        for name, wheel in wheels.items()
        if wheel.version != version
    ]


def rule_exact_pins(wheels: Mapping[str, Wheel], version: str) -> list[str]:
    problems = []
    for name, wheel in wheels.items():
        expected = set(SPLIT_MODULES) if name == METAPACKAGE else SPLIT_SIBLINGS.get(name, set())
        pins = _pins(wheel)
        if set(pins) != set(expected):
            problems.append(
                f"{name} depends on siblings {sorted(pins)}, expected {sorted(expected)}"
            )
        for sibling, specifier in sorted(pins.items()):
            if specifier != f"=={version}":
                problems.append(f"{name} requires {sibling}{specifier}, expected =={version}")
    return problems


RULES: tuple[Callable[[Mapping[str, Wheel], str], list[str]], ...] = (
    rule_no_shared_paths,
    rule_splits_leave_namespace_alone,
    rule_modules_are_packages,
    rule_module_packages_typed,
    rule_expected_modules,
    rule_one_version,
    rule_exact_pins,
)


def violations(wheels: Mapping[str, Wheel], version: str) -> list[str]:
    return [problem for rule in RULES for problem in rule(wheels, version)]


def source_version() -> str:
    init = (PACKAGES_DIR / METAPACKAGE / "src" / "asgiref" / "__init__.py").read_text("utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', init, re.MULTILINE)
    assert match, "the metapackage's __init__.py must hold __version__"
    return match[1]


# --- the real release ------------------------------------------------------------


def test_release_follows_every_packaging_rule(built_dists: BuiltDists) -> None:
    wheels = {name: read_wheel(path) for name, path in built_dists.wheels.items()}
    problems = violations(wheels, source_version())
    assert not problems, "packaging rules broken:\n" + "\n".join(problems)


def test_build_gives_six_sdists_and_six_wheels(built_dists: BuiltDists) -> None:
    assert len(list(built_dists.directory.glob("*.whl"))) == 6
    assert len(list(built_dists.directory.glob("*.tar.gz"))) == 6


def _archive_contents(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.timeout(600)
def test_wheel_from_sdist_equals_wheel_from_tree(built_dists: BuiltDists, tmp_path: Path) -> None:
    # built_dists made each wheel from its sdist; build them again from the tree.
    from monorepo_testing import uv_binary

    for distribution, from_sdist in built_dists.wheels.items():
        out = tmp_path / distribution
        run_checked(
            [
                uv_binary(),
                "build",
                "--wheel",
                "--quiet",
                "--out-dir",
                out,
                PACKAGES_DIR / distribution,
            ],
            timeout=300,
        )
        (from_tree,) = out.glob("*.whl")
        assert _archive_contents(from_tree) == _archive_contents(from_sdist), distribution


def test_sdists_carry_license_and_readme(built_dists: BuiltDists) -> None:
    license_text = (REPO_ROOT / "LICENSE").read_bytes()
    for distribution, sdist in built_dists.sdists.items():
        with tarfile.open(sdist) as archive:
            members = {m.name.split("/", 1)[1]: m for m in archive.getmembers() if "/" in m.name}
            assert "README.md" in members, distribution
            license_member = members["LICENSE"]
            assert license_member.isfile(), f"{distribution}: LICENSE must be a real file"
            extracted = archive.extractfile(license_member)
            assert extracted is not None
            assert extracted.read() == license_text, f"{distribution}: LICENSE differs from root"


# --- every guard fails when its rule is broken ------------------------------------

VERSION = "9.9.9"


def _good_release() -> dict[str, Wheel]:
    wheels = {
        METAPACKAGE: Wheel(
            METAPACKAGE,
            VERSION,
            METAPACKAGE_FILES,
            tuple(f"{split}=={VERSION}" for split in SPLIT_MODULES),
        )
    }
    for split, modules in SPLIT_MODULES.items():
        files = frozenset(
            f"asgiref/{module}/{leaf}" for module in modules for leaf in ("__init__.py", "py.typed")
        )
        requires = tuple(f"{sibling}=={VERSION}" for sibling in SPLIT_SIBLINGS[split])
        wheels[split] = Wheel(split, VERSION, files, requires)
    return wheels


def _add_files(release: dict[str, Wheel], name: str, *paths: str) -> None:
    release[name] = replace(release[name], files=release[name].files | set(paths))


def _drop_file(release: dict[str, Wheel], name: str, path: str) -> None:
    release[name] = replace(release[name], files=release[name].files - {path})


def _drop_wheel(release: dict[str, Wheel], name: str) -> None:
    del release[name]


BREAKAGES: dict[str, tuple[Callable[[dict[str, Wheel]], None], str]] = {
    "path in two wheels": (
        lambda r: _add_files(r, "asgiref-wsgi", "asgiref/sync/__init__.py"),
        "is in both",
    ),
    "split ships asgiref/__init__.py": (
        lambda r: _add_files(r, "asgiref-types", "asgiref/__init__.py"),
        "only the metapackage may ship",
    ),
    "split ships asgiref/py.typed": (
        lambda r: _add_files(r, "asgiref-sync", "asgiref/py.typed"),
        "only the metapackage may ship",
    ),
    "single-file module": (
        lambda r: _add_files(r, "asgiref-sync", "asgiref/sync.py"),
        "single-file module",
    ),
    "module package without py.typed": (
        lambda r: _drop_file(r, "asgiref-server", "asgiref/server/py.typed"),
        "lacks asgiref/server/py.typed",
    ),
    "metapackage ships a module": (
        lambda r: _add_files(r, METAPACKAGE, "asgiref/extra/__init__.py"),
        "metapackage must ship exactly",
    ),
    "version drift": (
        lambda r: r.update({"asgiref-wsgi": replace(r["asgiref-wsgi"], version="9.9.8")}),
        "has version 9.9.8",
    ),
    "pin drift in the metapackage": (
        lambda r: r.update(
            {
                METAPACKAGE: replace(
                    r[METAPACKAGE],
                    requires=tuple(
                        req.replace("==", ">=") if req.startswith("asgiref-types") else req
                        for req in r[METAPACKAGE].requires
                    ),
                )
            }
        ),
        "requires asgiref-types>=9.9.9",
    ),
    "split loses its pin": (
        lambda r: r.update({"asgiref-testing": replace(r["asgiref-testing"], requires=())}),
        "depends on siblings []",
    ),
    "a distribution is missing": (lambda r: _drop_wheel(r, "asgiref-types"), "expected wheels of"),
}


def test_good_release_passes() -> None:
    assert violations(_good_release(), VERSION) == []


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_rule_catches(breakage: str) -> None:
    release = _good_release()
    mutate, expected_message = BREAKAGES[breakage]
    mutate(release)
    problems = violations(release, VERSION)
    assert any(expected_message in problem for problem in problems), problems
