"""Every module-level name of upstream asgiref 3.13.0's ten modules exists here.

Third-party code imports more than the documented API (``asgiref.sync._restore_context``,
``asgiref.testing.guarantee_single_callable``...). Upstream's sdist is fetched once per
session exactly as ``compat/run_upstream.py`` fetches it (hash-pinned, from PyPI; set
``ASGIREF_UPSTREAM_SDIST`` to an already downloaded copy to work offline). Its modules are
parsed, never imported, and each name they bind must exist in our module of the same
name with a compatible call shape, or be listed, with the reason it is absent or
differs, in the table of ``packages/asgiref-sync/README.md``.
"""

from __future__ import annotations

import ast
import importlib
import os
import tarfile
import textwrap
import types
from pathlib import Path

import pytest

import asgiref.typing
import asgiref.wsgi
import run_upstream
from monorepo_testing import fresh_python_output
from upstream_namespace import (
    binding_problems,
    call_shape_problems,
    deviation_table,
    module_bindings,
    signature_from_ast,
)

README = run_upstream.PACKAGES_DIR / "asgiref-sync" / "README.md"
TABLE_HEADING = "## Upstream names that are absent or differ here"
MODULES = run_upstream.CHECKED_MODULES


@pytest.fixture(scope="session")
def upstream_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Module name -> upstream's source text, for every ``.py`` of its ``asgiref/``."""
    given = os.environ.get("ASGIREF_UPSTREAM_SDIST")
    sdist = run_upstream.fetch_sdist(
        tmp_path_factory.mktemp("upstream-sdist"), Path(given) if given else None
    )
    top = f"asgiref-{run_upstream.UPSTREAM_VERSION}/asgiref/"
    sources: dict[str, str] = {}
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            relative = member.name.removeprefix(top)
            if relative == member.name or "/" in relative or not relative.endswith(".py"):
                continue
            handle = archive.extractfile(member)
            assert handle is not None
            stem = relative.removesuffix(".py")
            name = "asgiref" if stem == "__init__" else f"asgiref.{stem}"
            sources[name] = handle.read().decode("utf-8")
    return sources


@pytest.fixture(scope="session")
def deviations() -> dict[tuple[str, str], str]:
    return deviation_table(README.read_text(encoding="utf-8"), TABLE_HEADING)


@pytest.mark.timeout(660)  # the first test of a session waits for the download
def test_upstream_has_exactly_the_ten_modules(upstream_sources: dict[str, str]) -> None:
    # A module upstream adds (or we forget in CHECKED_MODULES) would go unchecked.
    assert sorted(upstream_sources) == sorted(MODULES)


@pytest.mark.timeout(660)
@pytest.mark.parametrize("module_name", MODULES)
def test_every_upstream_name_is_here(
    module_name: str,
    upstream_sources: dict[str, str],
    deviations: dict[tuple[str, str], str],
) -> None:
    ours = importlib.import_module(module_name)
    upstream = module_bindings(upstream_sources[module_name])
    problems: list[str] = []
    for name in sorted(upstream):
        if (module_name, name) in deviations:
            continue  # listed, with its reason, in the README's table
        problems += binding_problems(upstream[name], ours, upstream)
    assert problems == [], (
        f"{module_name} lacks what upstream's module binds (add it, or list it with the reason"
        f" under {TABLE_HEADING!r} in {README.relative_to(run_upstream.REPO_ROOT)}):\n"
        + "\n".join(problems)
    )


@pytest.mark.timeout(660)
def test_the_table_lists_only_upstream_names(
    upstream_sources: dict[str, str], deviations: dict[tuple[str, str], str]
) -> None:
    unknown = [
        f"{module}.{name}"
        for module, name in deviations
        if module not in upstream_sources or name not in module_bindings(upstream_sources[module])
    ]
    assert unknown == []


# -- the checker itself must catch what it claims to (no download needed) --------


def _signature_of(source: str) -> tuple[ast.arguments, object]:
    """Upstream's ``def`` as parsed source, and the same ``def`` as our live function."""
    (node,) = ast.parse(textwrap.dedent(source)).body
    assert isinstance(node, ast.FunctionDef)
    namespace: dict[str, object] = {}
    exec(textwrap.dedent(source), namespace)  # the test's own literal, nothing fetched
    return node.args, namespace[node.name]


@pytest.mark.parametrize(
    ("upstream", "ours", "problem"),
    [
        ("def f(a, b=1): pass", "def f(a, b=2, c=3): pass", None),
        ("def f(a, /): pass", "def f(renamed, /): pass", None),
        ("def f(a, *, k=1): pass", "def f(a, k=1): pass", None),
        ("def f(a, b): pass", "def f(*args, **kwargs): pass", None),
        ("def f(a, b=1): pass", "def f(a, b): pass", "'b' has no default"),
        ("def f(a, b): pass", "def f(a): pass", "does not accept 'b'"),
        ("def f(a, b): pass", "def f(a, c): pass", "upstream's is 'b'"),
        ("def f(a, b): pass", "def f(a, /, b): pass", "upstream's is 'a'"),
        ("def f(a): pass", "def f(a, extra): pass", "requires 'extra'"),
        ("def f(a): pass", "def f(a, *, extra): pass", "requires 'extra'"),
        ("def f(*, k=1): pass", "def f(*, k): pass", "keyword 'k' has no default"),
        ("def f(*, k): pass", "def f(): pass", "does not accept keyword 'k'"),
        ("def f(*args): pass", "def f(): pass", "variadic positional"),
        ("def f(**kwargs): pass", "def f(): pass", "variadic keyword"),
    ],
)
def test_call_shape_check(upstream: str, ours: str, problem: str | None) -> None:
    upstream_arguments, _ = _signature_of(upstream)
    _, ours_function = _signature_of(ours)
    found = call_shape_problems(signature_from_ast(upstream_arguments), ours_function)
    if problem is None:
        assert found == []
    else:
        assert any(problem in line for line in found), found


_EXECUTOR = "from concurrent.futures import Executor\n"
_GENERIC = "from typing import Generic, TypeVar\nT = TypeVar('T')\n"


@pytest.mark.parametrize(
    ("upstream", "ours", "problem"),
    [
        ("import os", "import os", None),
        ("import os", "os = 'os'", "upstream imports import os"),
        ("import os.path", "import os", None),
        ("from .sync import iscoroutinefunction", "from asgiref.sync import *", None),
        ("from .sync import iscoroutinefunction", "iscoroutinefunction = len", "upstream imports"),
        ("def name(a): pass", "name = 1", "not callable"),
        ("async def name(a): pass", "def name(a): pass", "coroutine function"),
        ("def name(a): pass", "class name:\n def __init__(self, a): pass", None),
        ("class name: pass", "def name(): pass", "upstream defines a class"),
        (
            _EXECUTOR + "class name(Executor):\n def __init__(self, old): pass",
            _EXECUTOR + "class name(Executor):\n def __init__(self, new): pass",
            "upstream's is 'old'",
        ),
        (
            _EXECUTOR + "class name(Executor): pass",
            _EXECUTOR + "class name: pass",
            "does not derive from Executor",
        ),
        (
            _GENERIC + "class name(Generic[T]): pass",
            "from types import GenericAlias\n"
            "class name:\n __class_getitem__ = classmethod(GenericAlias)",
            None,
        ),
        (_GENERIC + "class name(Generic[T]): pass", "class name: pass", "cannot be subscripted"),
        (
            "class Base:\n def __init__(self, a): pass\nclass name(Base): pass",
            "class Base:\n def __init__(self, a): pass\n"
            "class name(Base):\n def __init__(self): pass",
            "does not accept 'a'",
        ),
    ],
)
def test_binding_check(upstream: str, ours: str, problem: str | None) -> None:
    module = types.ModuleType("ours")
    exec(ours, module.__dict__)  # the test's own literal, nothing fetched
    bindings = module_bindings(upstream)
    checked = list(bindings.values())[-1]  # what each case is about comes last
    found = binding_problems(checked, module, bindings)
    if problem is None:
        assert found == []
    else:
        assert any(problem in line for line in found), found


def test_type_checking_only_names_are_told_apart() -> None:
    bindings = module_bindings(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from _typeshed import OptExcInfo
                import os
            else:
                Fallback = 1
            import os
            """
        )
    )
    assert bindings["OptExcInfo"].type_only
    assert not bindings["os"].type_only
    assert not bindings["Fallback"].type_only


# -- names our modules resolve on first use ---------------------------------------


@pytest.mark.timeout(120)
def test_wsgi_borrows_sync_names_without_importing_them_early() -> None:
    lines = fresh_python_output(
        """
        import sys
        import asgiref.wsgi
        print("asgiref.sync" in sys.modules, "tempfile" in sys.modules)
        import asgiref.sync, tempfile
        print(asgiref.wsgi.AsyncToSync is asgiref.sync.AsyncToSync,
              asgiref.wsgi.sync_to_async is asgiref.sync.sync_to_async,
              asgiref.wsgi.SpooledTemporaryFile is tempfile.SpooledTemporaryFile)
        """
    )
    assert lines == ["False False", "True True True"]


@pytest.mark.timeout(120)
def test_wsgi_names_the_distribution_when_asgiref_sync_is_missing() -> None:
    lines = fresh_python_output(
        """
        import sys

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name == "asgiref.sync":
                    raise ModuleNotFoundError("No module named 'asgiref.sync'", name=name)
                return None

        sys.meta_path.insert(0, Blocker())
        import asgiref.wsgi
        for name in ("AsyncToSync", "sync_to_async", "no_such_name"):
            try:
                getattr(asgiref.wsgi, name)
            except AttributeError as error:
                print(error)
        """
    )
    assert len(lines) == 3
    assert all("asgiref-sync" in line for line in lines[:2]), lines
    assert lines[2] == "module 'asgiref.wsgi' has no attribute 'no_such_name'"


def test_borrowed_names_stay_out_of_star_imports() -> None:
    assert "AsyncToSync" not in asgiref.wsgi.__all__
    assert "TypedDict" not in asgiref.typing.__all__
    assert "TypedDict" in dir(asgiref.typing)
