"""Compare what upstream asgiref's modules bind with what ours bind.

Upstream's source is only parsed, never imported: :func:`module_bindings`
lists the top-level names a module's source binds (``def``, ``class``,
assignments and imports, inside ``if``/``try`` too), and :func:`binding_problems`
says how our live module falls short of one of them: the name is missing, an
imported name is another object, a class is not a class or lost a base, or a
callable does not accept every call upstream's accepts (:func:`call_shape_problems`).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Generic

_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_Empty = inspect.Parameter.empty
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
# Stands for "has a default" in signatures rebuilt from source: only presence matters.
_HAS_DEFAULT = object()
# Upstream's modules all live directly in this package; relative imports resolve here.
_PACKAGE = "asgiref"


@dataclass(frozen=True)
class Binding:
    """One top-level name of a module's source and the statement that binds it.

    ``alias`` is set for names bound by an import. ``type_only`` is true when
    every binding of the name sits under ``if TYPE_CHECKING:``, so the module
    never has it at runtime.
    """

    name: str
    node: ast.stmt
    alias: ast.alias | None
    type_only: bool


def module_bindings(source: str) -> dict[str, Binding]:
    """Every top-level name ``source`` binds; a later binding replaces an earlier one."""
    found: dict[str, Binding] = {}
    runtime: set[str] = set()
    for binding in _walk(ast.parse(source).body, type_only=False):
        found[binding.name] = binding
        if not binding.type_only:
            runtime.add(binding.name)
    # A name bound at runtime anywhere is a runtime name, whichever binding came last.
    return {
        name: Binding(b.name, b.node, b.alias, type_only=name not in runtime)
        for name, b in found.items()
    }


def _walk(body: Sequence[ast.stmt], type_only: bool) -> Iterator[Binding]:
    for node in body:
        if isinstance(node, _Definition):
            yield Binding(node.name, node, None, type_only)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                yield Binding(bound, node, alias, type_only)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        yield Binding(name.id, node, None, type_only)
        elif isinstance(node, ast.If):
            yield from _walk(node.body, type_only or _is_type_checking(node.test))
            yield from _walk(node.orelse, type_only)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _walk(block, type_only)
            for handler in node.handlers:
                yield from _walk(handler.body, type_only)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def source_bindings(module: ModuleType) -> dict[str, Binding]:
    """The names our module's own source binds (``TYPE_CHECKING`` blocks included)."""
    path = inspect.getsourcefile(module)
    assert path is not None, f"{module.__name__} has no source file"
    return module_bindings(Path(path).read_text(encoding="utf-8"))


# -- what an upstream binding should be here ---------------------------------


class _UnresolvableError(Exception):
    """The imported object does not exist on this Python (upstream needs 3.11+)."""


def imported_candidates(binding: Binding) -> list[object]:
    """The objects an upstream import binds, looked up on this interpreter.

    Relative imports name our own modules. ``from typing import X`` also
    accepts ``typing_extensions.X``: on Python 3.10 that backport is what
    provides (or fixes) X. Raises :class:`_UnresolvableError` when nothing does.
    """
    node, alias = binding.node, binding.alias
    assert alias is not None
    if isinstance(node, ast.Import):
        return [importlib.import_module(alias.name if alias.asname else binding.name)]
    assert isinstance(node, ast.ImportFrom)
    module_name = importlib.util.resolve_name("." * node.level + (node.module or ""), _PACKAGE)
    sources = [module_name] + (["typing_extensions"] if module_name == "typing" else [])
    candidates: list[object] = []
    for source in sources:
        try:
            candidates.append(getattr(importlib.import_module(source), alias.name))
        except (ImportError, AttributeError):
            continue
    if not candidates:
        raise _UnresolvableError(f"{module_name}.{alias.name}")
    return candidates


def binding_problems(binding: Binding, ours: ModuleType, upstream: dict[str, Binding]) -> list[str]:
    """How ``ours`` fails to provide what upstream's ``binding`` binds ([] if it does)."""
    name = binding.name
    if binding.type_only:
        # Only type checkers ever see it upstream; a TYPE_CHECKING import here suffices.
        if hasattr(ours, name) or name in source_bindings(ours):
            return []
        return [f"{name}: missing (upstream binds it for type checkers only)"]
    if not hasattr(ours, name):
        return [f"{name}: missing"]
    value: Any = getattr(ours, name)
    node = binding.node
    if binding.alias is not None:
        try:
            candidates = imported_candidates(binding)
        except _UnresolvableError:
            return []
        if not any(value is candidate for candidate in candidates):
            return [f"{name}: is {value!r}, upstream imports {ast.unparse(node)}"]
        return []
    if isinstance(node, ast.ClassDef):
        return [f"{name}: {problem}" for problem in _class_problems(node, value, ours, upstream)]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return [f"{name}: {problem}" for problem in _function_problems(node, value)]
    # Other assignments (constants, TypeVars, loggers): being there is the contract.
    return []


def _function_problems(node: ast.FunctionDef | ast.AsyncFunctionDef, value: Any) -> list[str]:
    if not callable(value):
        return [f"is {value!r}, not callable"]
    problems = call_shape_problems(signature_from_ast(node.args), value)
    if isinstance(node, ast.AsyncFunctionDef) and not inspect.iscoroutinefunction(value):
        problems.append("upstream's is a coroutine function, ours is not")
    return problems


def _class_problems(
    node: ast.ClassDef, value: Any, ours: ModuleType, upstream: dict[str, Binding]
) -> list[str]:
    if not inspect.isclass(value):
        return [f"is {value!r}, upstream defines a class"]
    problems: list[str] = []
    for base in _resolved_bases(node, ours, upstream):
        if base is Generic:
            # What programs do with a Generic class at runtime is subscript it
            # (SyncToAsync[..., int]); which base provides that is not the contract.
            if not hasattr(value, "__class_getitem__"):
                problems.append("cannot be subscripted, upstream's is Generic")
        elif base not in value.__mro__:
            problems.append(f"does not derive from {base.__qualname__}")
    constructor = _constructor(node, upstream)
    if constructor is not None:
        problems += call_shape_problems(signature_from_ast(constructor.args, method=True), value)
    return problems


def _resolved_bases(
    node: ast.ClassDef, ours: ModuleType, upstream: dict[str, Binding]
) -> list[type]:
    """The classes upstream's bases name, as this interpreter and our module have them."""
    import builtins

    bases: list[type] = []
    for base in node.bases:
        expression = base.value if isinstance(base, ast.Subscript) else base  # Generic[_P, _R]
        if not isinstance(expression, ast.Name):
            continue
        binding = upstream.get(expression.id)
        found: list[object]
        if binding is None:
            found = [getattr(builtins, expression.id, None)]
        elif binding.alias is None:
            found = [getattr(ours, expression.id, None)]  # a class of the same module
        else:
            try:
                found = imported_candidates(binding)
            except _UnresolvableError:
                continue
        # typing.TypedDict is no class; what derives from it has no such MRO entry.
        bases += [candidate for candidate in found[:1] if isinstance(candidate, type)]
    return bases


def _constructor(node: ast.ClassDef, upstream: dict[str, Binding]) -> ast.FunctionDef | None:
    """``__init__`` (or ``__new__``) of the class or of the nearest base upstream defines."""
    for method in ("__init__", "__new__"):
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef) and statement.name == method:
                return statement
    for base in node.bases:
        if isinstance(base, ast.Name) and base.id in upstream:
            parent = upstream[base.id].node
            if isinstance(parent, ast.ClassDef) and parent is not node:
                return _constructor(parent, upstream)
    return None


# -- call shapes ----------------------------------------------------------------


def signature_from_ast(arguments: ast.arguments, method: bool = False) -> inspect.Signature:
    """The signature a ``def`` declares (defaults only marked), minus ``self`` if a method."""
    positional = [*arguments.posonlyargs, *arguments.args]
    first_default = len(positional) - len(arguments.defaults)
    parameters: list[inspect.Parameter] = []
    for index, argument in enumerate(positional):
        kind = (
            inspect.Parameter.POSITIONAL_ONLY
            if index < len(arguments.posonlyargs)
            else inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        default = _HAS_DEFAULT if index >= first_default else _Empty
        parameters.append(inspect.Parameter(argument.arg, kind, default=default))
    if arguments.vararg is not None:
        parameters.append(inspect.Parameter(arguments.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
    for argument, default_node in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        default = _Empty if default_node is None else _HAS_DEFAULT
        parameters.append(
            inspect.Parameter(argument.arg, inspect.Parameter.KEYWORD_ONLY, default=default)
        )
    if arguments.kwarg is not None:
        parameters.append(inspect.Parameter(arguments.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
    if method:
        parameters = parameters[1:]
    return inspect.Signature(parameters)


def call_shape_problems(upstream: inspect.Signature, ours: Any) -> list[str]:
    """Ways a call that ``upstream`` accepts would fail against ``ours`` ([] if none).

    Every positional slot must be there, with the same name where upstream's
    can be passed by keyword; every keyword upstream accepts must be accepted;
    what upstream lets callers omit must have a default here; and whatever we
    add must be optional. ``*args``/``**kwargs`` here accept what they can.
    """
    try:
        signature = ours if isinstance(ours, inspect.Signature) else inspect.signature(ours)
    except (TypeError, ValueError) as error:
        return [f"has no inspectable signature ({error})"]
    theirs = list(signature.parameters.values())
    slots = [p for p in theirs if p.kind in _POSITIONAL]
    kinds = {p.kind for p in theirs}
    star_args = inspect.Parameter.VAR_POSITIONAL in kinds
    star_kwargs = inspect.Parameter.VAR_KEYWORD in kinds
    by_keyword = {p.name: p for p in theirs if p.kind not in _VARIADIC}
    problems: list[str] = []
    used: set[str] = set()
    upstream_parameters = list(upstream.parameters.values())
    for index, wanted in enumerate(p for p in upstream_parameters if p.kind in _POSITIONAL):
        slot = slots[index] if index < len(slots) else None
        if slot is None:
            if not star_args or (
                wanted.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and not star_kwargs
            ):
                problems.append(f"does not accept {wanted.name!r} (positional {index + 1})")
            continue
        used.add(slot.name)
        if wanted.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and (
            slot.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD or slot.name != wanted.name
        ):
            problems.append(
                f"positional {index + 1} is {slot.name!r} ({slot.kind.description}),"
                f" upstream's is {wanted.name!r} (positional or keyword)"
            )
        if wanted.default is not _Empty and slot.default is _Empty:
            problems.append(f"{slot.name!r} has no default, upstream's {wanted.name!r} has one")
    for wanted in upstream_parameters:
        if wanted.kind is inspect.Parameter.KEYWORD_ONLY:
            match = by_keyword.get(wanted.name)
            if match is None or match.kind is inspect.Parameter.POSITIONAL_ONLY:
                if not star_kwargs:
                    problems.append(f"does not accept keyword {wanted.name!r}")
                continue
            used.add(match.name)
            if wanted.default is not _Empty and match.default is _Empty:
                problems.append(f"keyword {wanted.name!r} has no default, upstream's has one")
        elif wanted.kind in _VARIADIC and wanted.kind not in kinds:
            problems.append(f"does not accept {wanted.kind.description} like upstream's")
    problems += [
        f"requires {p.name!r}, which upstream does not have"
        for p in theirs
        if p.name not in used and p.kind not in _VARIADIC and p.default is _Empty
    ]
    return problems


# -- the table of deliberate deviations -----------------------------------------

_ROW = re.compile(
    r"^\|\s*`(?P<module>asgiref[\w.]*)`\s*\|(?P<names>[^|]*)\|(?P<reason>[^|]*)\|\s*$"
)


def deviation_table(readme: str, heading: str) -> dict[tuple[str, str], str]:
    """The rows of the table under ``heading``: (module, name) -> reason.

    A row is ``| `module` | `name`, `name` | reason |``; a reason may not be empty.
    """
    section = readme.split(heading, 1)
    assert len(section) == 2, f"no {heading!r} section"
    rows: dict[tuple[str, str], str] = {}
    for line in section[1].split("\n## ", 1)[0].splitlines():
        match = _ROW.match(line.strip())
        if match is None:
            continue
        reason = match["reason"].strip()
        assert reason, f"a row without a reason: {line}"
        for name in re.findall(r"`([^`]+)`", match["names"]):
            rows[(match["module"], name)] = reason
    return rows
