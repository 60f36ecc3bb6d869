"""The public API of the six distributions, read from their sources without importing them.

Which modules are public and which distribution ships each, the names each
exports (its ``__all__``; without one, its public top-level definitions), the
docstring of each name where it is defined (following re-exports), and the
names the API pages under ``docs/api/`` document. The coverage test and the
Sphinx glue both use it, so "documented" means one thing.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Named without an underscore, yet no API: imported for its side effect (a
# warning) in place of a name the metapackage binds; its docstring says so.
_NOT_API = frozenset({"asgiref.mixed_install_check"})


def public_modules(root: Path = REPO_ROOT) -> tuple[str, ...]:
    """Every module the distributions ship with no ``_``-prefixed part in its name."""
    found: set[str] = set()
    for src in root.glob("packages/*/src"):
        for path in src.glob("asgiref/**/*.py"):
            parts = path.relative_to(src).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if not any(part.startswith("_") for part in parts):
                found.add(".".join(parts))
    return tuple(sorted(found - _NOT_API))


PUBLIC_MODULES = public_modules()

# The metapackage's one public name is not in an ``__all__`` (it has none, so
# that ``from asgiref import *`` stays what upstream's does).
_EXTRA_NAMES = {"asgiref": ("__version__",)}

# ``.. autoclass:: asgiref.sync.SyncToAsync``, the other autodoc directives, and
# ``autoalias`` of this site's extension (docs/_ext/asgiref_docs.py).
_ENTRY = re.compile(
    r"^\.\. auto(?:class|function|exception|data|decorator|alias)::\s+(asgiref[\w.]*)\s*$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Definition:
    """Where a public name is finally defined, and its docstring (None: it has none)."""

    module: str
    name: str
    docstring: str | None


def source_file(module: str, root: Path = REPO_ROOT) -> Path:
    """The file that defines ``module``, in whichever distribution ships it."""
    parts = module.split(".")
    for src in sorted(root.glob("packages/*/src")):
        for candidate in (
            src.joinpath(*parts, "__init__.py"),
            src.joinpath(*parts[:-1], f"{parts[-1]}.py"),
        ):
            if candidate.is_file():
                return candidate
    raise LookupError(f"no source for {module} under {root}/packages")


def distribution_of(module: str, root: Path = REPO_ROOT) -> str:
    """The distribution (``packages/<name>``) whose sources contain ``module``."""
    path = source_file(module, root).relative_to(root / "packages")
    return path.parts[0]


def _tree(module: str, root: Path) -> ast.Module:
    return ast.parse(source_file(module, root).read_text(encoding="utf-8"))


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Top-level statements, including those inside ``if``/``try`` blocks."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If):
            yield from _statements([*statement.body, *statement.orelse])
        elif isinstance(statement, ast.Try):
            yield from _statements([*statement.body, *statement.orelse, *statement.finalbody])


def public_names(module: str, root: Path = REPO_ROOT) -> tuple[str, ...]:
    """``__all__`` of ``module``, else its public top-level classes and functions."""
    tree = _tree(module, root)
    for statement in _statements(tree.body):
        if isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert statement.value is not None
                exported = ast.literal_eval(statement.value)
                return (*exported, *_EXTRA_NAMES.get(module, ()))
    defined = [
        statement.name
        for statement in tree.body
        if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and not statement.name.startswith("_")
    ]
    return (*defined, *_EXTRA_NAMES.get(module, ()))


def assignment_docstrings(body: list[ast.stmt]) -> dict[str, str]:
    """Docstrings written under assignments (the string statement that follows).

    A docstring after an ``if``/``else`` whose branches assign the name (as for
    ``ScopeExtensions``) belongs to it too.
    """
    found: dict[str, str] = {}
    for statement, following in pairwise(body):
        text = _string_of(following)
        if text is not None:
            for name in _assigned_names(statement):
                found.setdefault(name, inspect.cleandoc(text))
    for statement in body:
        if isinstance(statement, ast.If):
            for branch in (statement.body, statement.orelse):
                for name, text in assignment_docstrings(branch).items():
                    found.setdefault(name, text)
    return found


def module_assignment_docstrings(module: str, root: Path = REPO_ROOT) -> dict[str, str]:
    """:func:`assignment_docstrings` of the top level of ``module``."""
    return assignment_docstrings(_tree(module, root).body)


def _string_of(statement: ast.stmt) -> str | None:
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        value = statement.value.value
        if isinstance(value, str):
            return value
    return None


def _assigned_names(statement: ast.stmt) -> list[str]:
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return [statement.target.id]
    if isinstance(statement, ast.Assign):
        return [target.id for target in statement.targets if isinstance(target, ast.Name)]
    if isinstance(statement, ast.If):
        branches = [*statement.body, *statement.orelse]
        return [name for branch in branches for name in _assigned_names(branch)]
    return []


def definition(module: str, name: str, root: Path = REPO_ROOT) -> Definition:
    """Follow ``from x import name`` re-exports to the definition of ``name``."""
    tree = _tree(module, root)
    for statement in _statements(tree.body):
        if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if statement.name == name and not _is_overload(statement):
                return Definition(module, name, ast.get_docstring(statement))
        elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
            for alias in statement.names:
                if (alias.asname or alias.name) == name and statement.module.startswith("asgiref"):
                    return definition(statement.module, alias.name, root)
    assigned = {
        target
        for statement in _statements(tree.body)
        for target in _assigned_names(statement)
        if not isinstance(statement, ast.If)
    }
    if name in assigned:
        return Definition(module, name, assignment_docstrings(tree.body).get(name))
    raise LookupError(f"{module}.{name} is exported but defined nowhere in its sources")


def _is_overload(statement: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A ``@typing.overload`` stub: the implementation below it holds the docstring."""
    return any(
        (isinstance(d, ast.Name) and d.id == "overload")
        or (isinstance(d, ast.Attribute) and d.attr == "overload")
        for d in statement.decorator_list
    )


def alias_value(module: str, name: str, root: Path = REPO_ROOT) -> str:
    """The source text of the type a public alias stands for (``Headers`` -> ``Iterable[...]``)."""
    found = definition(module, name, root)
    for statement in _tree(found.module, root).body:
        if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is None:
            continue
        if name in _assigned_names(statement):
            return ast.unparse(statement.value)
    raise LookupError(f"{module}.{name} is not a plain top-level assignment")


def documented_entries(api_dir: Path) -> dict[str, Path]:
    """Each object an autodoc directive of the API pages documents, with its page."""
    return {
        target: page
        for page in sorted(api_dir.glob("*.rst"))
        for target in _ENTRY.findall(page.read_text(encoding="utf-8"))
    }
