"""How asgiref-sync's modules depend on each other: one way, no private reach.

Layers, bottom up: asgiref.timeout (alone), asgiref.local, then
asgiref.current_thread_executor, then asgiref.sync and asgiref.compatibility.
A module never imports a package it sits in (its private modules sit beside
what they serve, not above); the home of the CPython/asyncio private touches,
the package asgiref.local._cpython, is the very bottom and imports nothing
of asgiref outside itself. Nothing needs a ``reportPrivateUsage``
suppression: what one module uses of another is an underscore-free function
or method of a private module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from monorepo_testing import fresh_python_output

pytestmark = pytest.mark.timeout(60)

_SOURCES = Path(__file__).resolve().parent.parent / "src" / "asgiref"

# What each module package of this distribution may import of the others.
_MAY_IMPORT = {
    "timeout": set[str](),
    "local": set[str](),
    "current_thread_executor": {"local"},
    "sync": {"local", "current_thread_executor"},
    "compatibility": {"sync", "timeout"},
}


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.startswith("asgiref.")]


def _module_name(path: Path) -> str:
    parts = path.relative_to(_SOURCES.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _enclosing_packages(path: Path) -> list[str]:
    """The packages of this distribution ``path``'s module sits in (for a
    package's ``__init__``, those around the package)."""
    module = _module_name(path).split(".")
    return [".".join(module[:end]) for end in range(2, len(module))]


@pytest.mark.parametrize("package", sorted(_MAY_IMPORT))
def test_imports_flow_one_way(package: str) -> None:
    problems = []
    for path in sorted((_SOURCES / package).rglob("*.py")):
        enclosing = _enclosing_packages(path)
        where = path.relative_to(_SOURCES / package)
        for name in _imports(path):
            target = name.split(".")[1]
            if target in ("mixed_install_check", "_check"):  # the coexistence hook
                continue
            if target != package and target not in _MAY_IMPORT[package]:
                problems.append(f"{where} imports {name}")
            if name in enclosing:
                problems.append(f"{where} imports a package it sits in ({name})")
            holder, _, imported = name.rpartition(".")
            if holder in enclosing and not imported.startswith("_"):
                problems.append(f"{where} imports {name} from a package it sits in")
    assert problems == []


_HOME = "asgiref.local._cpython"


def test_the_private_touch_home_is_the_bottom_layer() -> None:
    modules = sorted((_SOURCES / "local" / "_cpython").rglob("*.py"))
    assert len(modules) >= 2
    problems = [
        f"{path.name} imports {name}"
        for path in modules
        for name in _imports(path)
        if name != _HOME and not name.startswith(f"{_HOME}.")
    ]
    assert problems == []


def test_the_private_touch_home_is_entered_through_its_init() -> None:
    # Its inner modules are its own business: what the rest of the package
    # uses is re-exported by asgiref.local._cpython itself.
    home = _SOURCES / "local" / "_cpython"
    problems = [
        f"{path.relative_to(_SOURCES)} imports {name}"
        for path in sorted(_SOURCES.rglob("*.py"))
        if home not in path.parents
        for name in _imports(path)
        if name.startswith(f"{_HOME}._")
    ]
    assert problems == []


def test_no_private_usage_suppressions() -> None:
    found = [
        f"{path.relative_to(_SOURCES)}:{number}"
        for path in sorted(_SOURCES.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "reportPrivateUsage" in line
    ]
    assert found == []


def test_every_module_says_what_it_is_for() -> None:
    missing = [
        str(path.relative_to(_SOURCES))
        for path in sorted(_SOURCES.rglob("*.py"))
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == []


def _loaded_after(statement: str) -> list[str]:
    (line,) = fresh_python_output(
        f"""
        import sys
        {statement}
        print(sorted(name for name in sys.modules if name.startswith("asgiref.")))
        """
    )
    return [name.strip(" '") for name in line.strip("[]").split(",") if name.strip()]


def test_importing_timeout_loads_only_timeout() -> None:
    loaded = _loaded_after("import asgiref.timeout")
    assert [name for name in loaded if not name.startswith("asgiref.mixed_install_check")] == [
        "asgiref.timeout",
        "asgiref.timeout._error",
    ]


def test_importing_local_loads_no_bridge() -> None:
    loaded = _loaded_after("import asgiref.local")
    assert not [name for name in loaded if name.startswith(("asgiref.sync", "asgiref.current"))]


def test_importing_current_thread_executor_loads_no_bridge() -> None:
    loaded = _loaded_after("import asgiref.current_thread_executor")
    assert not [name for name in loaded if name.startswith("asgiref.sync")]
