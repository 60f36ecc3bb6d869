"""How asgiref-sync's modules depend on each other: one way, no private reach.

Layers, bottom up: asgiref.timeout (alone), asgiref.local, then
asgiref.current_thread_executor, then asgiref.sync and asgiref.compatibility.
A module never imports its own parent package (its private modules sit
beside what they serve, not above), and nothing needs a ``reportPrivateUsage``
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


@pytest.mark.parametrize("package", sorted(_MAY_IMPORT))
def test_imports_flow_one_way(package: str) -> None:
    problems = []
    for path in sorted((_SOURCES / package).glob("*.py")):
        for name in _imports(path):
            target = name.split(".")[1]
            if target in ("mixed_install_check", "_check"):  # the coexistence hook
                continue
            if target != package and target not in _MAY_IMPORT[package]:
                problems.append(f"{path.name} imports {name}")
            if path.name != "__init__.py" and name in (f"asgiref.{package}",):
                problems.append(f"{path.name} imports its parent package ({name})")
            parent_names = name.split(".")
            if (
                path.name != "__init__.py"
                and len(parent_names) == 3
                and parent_names[1] == package
                and not parent_names[2].startswith("_")
            ):
                problems.append(f"{path.name} imports {name} from its parent package")
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
