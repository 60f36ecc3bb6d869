"""Real-world consumer code: our types give no error that upstream 3.13.0's do not.

The corpus in ``typecheck/corpus/`` is written the way projects write ASGI code
against ``asgiref.typing`` (middleware reading scopes, WebSocket consumers
building events, lifespan handlers, test clients). mypy --strict and pyright
strict check it twice: against the built asgiref-types wheel, and against
upstream asgiref 3.13.0 installed from PyPI into a separate environment. Every
statement where ours errs must also err with upstream's types, except the
allow-listed ones below; each of those is a documented consequence of
following the spec (an optional key read directly, or pyright's precise
``extensions`` type), and the README entry giving its fix must exist.

Errors are compared per statement, not per line: the two runs may place one
error on different lines of a statement spread over several.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

import asgiref.typing as types_module

HERE = Path(__file__).parent
CORPUS = sorted((HERE / "typecheck" / "corpus").glob("corpus_*.py"))
README = HERE.parent / "README.md"
UPSTREAM = "asgiref==3.13.0"

# Upstream's asgiref.typing imports NotRequired from typing, new in 3.11.
pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="upstream asgiref 3.13.0's typing module needs 3.11"
)


# The shapes of the repository-level fixtures (see test_typing_consumers.py).
class Venv(Protocol):
    def run(self, code: str, timeout: float = ...) -> subprocess.CompletedProcess[str]: ...


class MakeVenv(Protocol):
    def __call__(self, *distributions: str, extra: tuple[str, ...] = ...) -> Venv: ...


class TypeChecker(Protocol):
    def mypy(self, venv: Venv, *files: Path) -> dict[Path, set[int]]: ...

    def pyright(self, venv: Venv, *files: Path) -> dict[Path, set[int]]: ...


@dataclass(frozen=True)
class Known:
    """A statement of the corpus, found by text that occurs on exactly one line."""

    file: str
    text: str
    checkers: tuple[str, ...] = ("pyright",)
    # For an allowance: the README text that documents it.
    documented: str = ""


_OPTIONAL = "## Optional keys"
_EXTENSIONS = "**A plain dict as `extensions` (pyright).**"

# Where ours errs and upstream does not. Everything here reads a key the spec
# makes optional (pyright's reportTypedDictNotRequiredAccess; also mypy where
# the value may be None) or gives pyright's precise extensions type a plain dict.
ALLOWED = [
    Known(
        "corpus_lifespan.py", 'RuntimeError(message["message"])', documented='`message["message"]`'
    ),
    Known("corpus_middleware.py", 'client = scope["client"]', documented='`scope["client"]`'),
    Known(
        "corpus_middleware.py",
        'scope["root_path"] + scope["path"]',
        documented='`scope["root_path"]`',
    ),
    Known("corpus_middleware.py", 'body = message["body"]', documented='`message["body"]`'),
    Known("corpus_middleware.py", 'message["more_body"]:', documented='`message["more_body"]`'),
    Known("corpus_middleware.py", 'in start["headers"]', documented='`message["headers"]`'),
    Known("corpus_testclient.py", 'scope["extensions"] = extensions', documented=_EXTENSIONS),
    Known("corpus_testclient.py", 'list(message["headers"])', documented='`message["headers"]`'),
    Known("corpus_testclient.py", '+= message["body"]', documented='`message["body"]`'),
    Known("corpus_testclient.py", 'not message["more_body"]', documented='`message["more_body"]`'),
    Known("corpus_testclient.py", 'answer["subprotocol"]', documented='`message["subprotocol"]`'),
    Known("corpus_testclient.py", 'return message["text"]', documented='`message["text"]`'),
    Known("corpus_testclient.py", 'return message["bytes"]', documented='`message["bytes"]`'),
    Known(
        "corpus_websocket.py", 'self.scope["subprotocols"]', documented='`scope["subprotocols"]`'
    ),
    Known("corpus_websocket.py", 'if message["text"] is not None', documented='`message["text"]`'),
    Known("corpus_websocket.py", 'json.loads(message["text"])', documented='`message["text"]`'),
    Known("corpus_websocket.py", 'message["reason"])', documented='`message["reason"]`'),
    Known(
        "corpus_websocket.py",
        'scope["query_string"].decode',
        checkers=("mypy", "pyright"),
        documented='`scope["query_string"]`',
    ),
]

# Where upstream errs and ours does not (keys upstream wrongly requires): proof
# that both runs really checked the corpus against their own asgiref.typing.
UPSTREAM_ONLY = [
    Known("corpus_app.py", '(b"content-type", b"text/plain")]', checkers=("mypy", "pyright")),
    Known("corpus_app.py", 'b"Hello, world!"', checkers=("mypy", "pyright")),
    Known("corpus_app.py", 'send({"type": "http.response.body"})', checkers=("mypy", "pyright")),
    Known("corpus_testclient.py", '"code": code})', checkers=("mypy", "pyright")),
]


def _statement_starts(file: Path) -> dict[int, int]:
    """Line -> first line of the innermost statement spanning it."""
    spans: dict[int, tuple[int, int]] = {}
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.stmt):
            first, last = node.lineno, node.end_lineno or node.lineno
            for line in range(first, last + 1):
                if line not in spans or last - first < spans[line][1] - spans[line][0]:
                    spans[line] = (first, last)
    return {line: span[0] for line, span in spans.items()}


def _statements(file: Path, lines: set[int]) -> set[int]:
    starts = _statement_starts(file)
    return {starts.get(line, line) for line in lines}


def _locate(known: Known) -> tuple[Path, int]:
    file = HERE / "typecheck" / "corpus" / known.file
    lines = file.read_text(encoding="utf-8").splitlines()
    found = [number for number, line in enumerate(lines, 1) if known.text in line]
    assert len(found) == 1, f"{known.text!r} must occur on exactly one line of {known.file}"
    return file, _statement_starts(file).get(found[0], found[0])


def _by_file(entries: list[Known], checker: str) -> dict[Path, set[int]]:
    located: dict[Path, set[int]] = {file: set() for file in CORPUS}
    for entry in entries:
        if checker in entry.checkers:
            file, statement = _locate(entry)
            located[file].add(statement)
    return located


def _upstream_venv(make_venv: MakeVenv) -> Venv:
    venv = make_venv(extra=(UPSTREAM,))
    probe = venv.run("import asgiref, asgiref.typing as t; print(asgiref.__version__, t.__file__)")
    version, _, location = probe.stdout.strip().partition(" ")
    assert version == "3.13.0", probe.stdout + probe.stderr
    assert "/site-packages/asgiref/typing.py" in location, location
    return venv


def test_allow_list_is_documented_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    for entry in ALLOWED:
        assert entry.documented, entry
        assert entry.documented in readme, f"README does not document {entry.documented}"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_corpus_gets_no_error_upstream_does_not_also_give(
    make_venv: MakeVenv, typecheck: TypeChecker, checker: str
) -> None:
    assert len(CORPUS) >= 5
    run = typecheck.mypy if checker == "mypy" else typecheck.pyright
    ours = run(make_venv("asgiref-types"), *CORPUS)
    theirs = run(_upstream_venv(make_venv), *CORPUS)
    allowed = _by_file(ALLOWED, checker)
    upstream_only = _by_file(UPSTREAM_ONLY, checker)

    report: list[str] = []
    for file in CORPUS:
        our_errors = _statements(file, ours[file])
        their_errors = _statements(file, theirs[file])
        new = our_errors - their_errors
        if new - allowed[file]:
            report.append(f"{file.name}: new errors at {sorted(new - allowed[file])}")
        if allowed[file] - new:
            report.append(f"{file.name}: allowed but not ours alone {sorted(allowed[file] - new)}")
        if upstream_only[file] - (their_errors - our_errors):
            missing = sorted(upstream_only[file] - (their_errors - our_errors))
            report.append(f"{file.name}: upstream-only errors not seen at {missing}")
    assert report == [], f"{checker}:\n" + "\n".join(report)


# ``scope["asgi"]["spec_version"]`` is documented as that; the table's first
# column names a key by its last subscript.
_KEY = re.compile(r'\["(\w+)"\]`')
_NAME = re.compile(r"`([A-Z]\w+)`")


def _documented_keys(readme: str) -> set[tuple[str, str]]:
    """(TypedDict, key) pairs the optional-keys table of the README covers."""
    assert f"\n{_OPTIONAL}\n" in readme, f"the README has no {_OPTIONAL!r} section"
    section = readme.split(f"\n{_OPTIONAL}\n", 1)[1].split("\n## ", 1)[0]
    covered: set[tuple[str, str]] = set()
    for row in section.splitlines():
        cells = row.split("|")
        if len(cells) < 4 or not _KEY.search(cells[1]):
            continue
        keys = set(_KEY.findall(cells[1]))
        covered |= {(name, key) for name in _NAME.findall(cells[2]) for key in keys}
    return covered


@pytest.mark.timeout(900)
def test_the_optional_keys_table_lists_exactly_what_upstream_requires_and_we_do_not(
    make_venv: MakeVenv,
) -> None:
    probe = _upstream_venv(make_venv).run(
        "import json, typing, asgiref.typing as t\n"
        "print(json.dumps({n: sorted(getattr(t, n).__required_keys__) for n in dir(t)"
        " if typing.is_typeddict(getattr(t, n))}))"
    )
    upstream_required: dict[str, list[str]] = json.loads(probe.stdout)
    relaxed = {
        (name, key)
        for name, keys in upstream_required.items()
        for key in keys
        if typing.is_typeddict(ours := getattr(types_module, name))
        and key in ours.__optional_keys__
    }
    assert ("HTTPScope", "root_path") in relaxed
    documented = _documented_keys(README.read_text(encoding="utf-8"))
    assert sorted(relaxed - documented) == [], "optional here, required upstream, undocumented"
    assert sorted(documented - relaxed) == [], "documented as optional here but not relaxed"
