"""The API reference documents every public name, and every public name has a docstring.

Public names are each public module's ``__all__`` (see ``docs/_ext/public_api.py``),
read from the sources, so this needs neither Sphinx nor an import of the
packages. The entries are the autodoc directives of ``docs/api/*.rst``; the
docs build (``hatch run docs:build``, strict) then fails on an entry whose
object has vanished. The last tests show the checks failing on scratch copies
of the sources and pages, one name's docstring or entry removed.
"""

from __future__ import annotations

import ast
import shutil
from itertools import pairwise
from pathlib import Path

import pytest
from public_api import (
    PUBLIC_MODULES,
    REPO_ROOT,
    definition,
    distribution_of,
    documented_entries,
    public_names,
    source_file,
)

API_DIR = REPO_ROOT / "docs" / "api"


def _public(root: Path) -> list[str]:
    return [f"{module}.{name}" for module in PUBLIC_MODULES for name in public_names(module, root)]


def _missing_docstrings(root: Path) -> list[str]:
    missing = []
    for dotted in _public(root):
        module, _, name = dotted.rpartition(".")
        if not (definition(module, name, root).docstring or "").strip():
            missing.append(dotted)
    return missing


def _missing_entries(root: Path, api_dir: Path) -> list[str]:
    documented = documented_entries(api_dir)
    return [dotted for dotted in _public(root) if dotted not in documented]


def test_the_public_modules_are_found_in_every_distribution() -> None:
    assert {distribution_of(module) for module in PUBLIC_MODULES} == {
        path.name for path in (REPO_ROOT / "packages").iterdir() if (path / "src").is_dir()
    }
    assert {"asgiref", "asgiref.typing.validate", "asgiref.coexistence"} <= set(PUBLIC_MODULES)


def test_every_public_name_has_a_docstring() -> None:
    assert _missing_docstrings(REPO_ROOT) == []


def test_every_public_name_has_an_api_entry() -> None:
    assert _missing_entries(REPO_ROOT, API_DIR) == []


def test_the_api_pages_document_only_public_names() -> None:
    assert sorted(set(documented_entries(API_DIR)) - set(_public(REPO_ROOT))) == []


def test_each_entry_is_on_the_page_of_the_distribution_to_install() -> None:
    misplaced = {
        dotted: page.name
        for dotted, page in documented_entries(API_DIR).items()
        if page.stem != distribution_of(dotted.rpartition(".")[0])
    }
    assert misplaced == {}
    for page in API_DIR.glob("asgiref*.rst"):
        assert f"pip install {page.stem}\n" in page.read_text(encoding="utf-8"), page.name


def test_every_distribution_has_a_page() -> None:
    shipped = {path.name for path in (REPO_ROOT / "packages").iterdir() if (path / "src").is_dir()}
    assert {page.stem for page in API_DIR.glob("asgiref*.rst")} == shipped


# --------------------------------------------------------------------------
# The checks fail when they should: scratch copies with one thing removed.


def _scratch_sources(tmp_path: Path) -> Path:
    for src in REPO_ROOT.glob("packages/*/src"):
        shutil.copytree(src, tmp_path / src.relative_to(REPO_ROOT), ignore=_no_bytecode)
    return tmp_path


def _no_bytecode(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]


def _strip_docstring(root: Path, module: str, name: str) -> None:
    """Replace the docstring of ``module.name`` (where it is defined) by ``pass``."""
    where = definition(module, name, root).module
    path = source_file(where, root)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    tree = ast.parse("".join(lines))
    docstring = _docstring_node(tree, name)
    start, end = docstring.lineno - 1, docstring.end_lineno or docstring.lineno
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    lines[start:end] = [f"{indent}pass\n"]
    path.write_text("".join(lines), encoding="utf-8")


def _docstring_node(tree: ast.Module, name: str) -> ast.stmt:
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            return node.body[0]
    for statement, following in pairwise(tree.body):
        if isinstance(statement, ast.AnnAssign) and ast.unparse(statement.target) == name:
            return following
    raise LookupError(name)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("asgiref.testing", "ApplicationCommunicator"),  # a class, re-exported
        ("asgiref.typing.validate", "validate_scope"),  # a function
        ("asgiref.typing", "Headers"),  # an alias, documented under its assignment
    ],
)
def test_a_name_that_loses_its_docstring_is_reported(
    tmp_path: Path, module: str, name: str
) -> None:
    root = _scratch_sources(tmp_path)
    assert f"{module}.{name}" not in _missing_docstrings(root)
    _strip_docstring(root, module, name)
    assert f"{module}.{name}" in _missing_docstrings(root)


def test_a_name_that_loses_its_entry_is_reported(tmp_path: Path) -> None:
    pages = tmp_path / "api"
    shutil.copytree(API_DIR, pages)
    page = pages / "asgiref-wsgi.rst"
    text = page.read_text(encoding="utf-8")
    entry = ".. autoclass:: asgiref.wsgi.WsgiToAsgi\n"
    assert entry in text
    page.write_text(text.replace(entry, ""), encoding="utf-8")
    assert _missing_entries(REPO_ROOT, pages) == ["asgiref.wsgi.WsgiToAsgi"]


def test_a_name_added_to_all_without_an_entry_is_reported(tmp_path: Path) -> None:
    root = _scratch_sources(tmp_path)
    path = source_file("asgiref.timeout", root)
    text = path.read_text(encoding="utf-8")
    exported = '__all__ = ["timeout"]'
    assert exported in text
    text = text.replace(exported, '__all__ = ["timeout", "deadline"]')
    path.write_text(text + '\n\ndef deadline() -> None:\n    """New."""\n', encoding="utf-8")
    assert _missing_docstrings(root) == []
    assert _missing_entries(root, API_DIR) == ["asgiref.timeout.deadline"]
