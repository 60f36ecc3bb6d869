"""The difference items that the READMEs list, and what docs/differences.md says of them.

Each README states its differences from asgiref 3.13.0 in its own shape (a
bulleted section, a "Differences ...: a; b; c." sentence, a table); `SOURCES`
names, per README, where they are. An item is identified by its opening words
(`KEY_WORDS` of them), which is what the page quotes in a marker comment:

    % readme: packages/asgiref-sync/README.md | `async_to_sync` captures the async side's context

Every entry of the page (a list item opening with a bold title) cites the
tests that show it as `` `path/to/test_file.py::test_name` ``.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

from docs_pages import DOCS, ROOT

PAGE = DOCS / "differences.md"
KEY_WORDS = 7

_MARKER = re.compile(r"^\s*% readme: (?P<readme>\S+) \| (?P<key>.+?)\s*$")
_CITATION = re.compile(r"`(?P<path>(?:packages/[\w.-]+/)?tests/[\w/.-]+\.py)::(?P<name>[\w:]+)`")
_ENTRY = re.compile(r"^- \*\*(?P<title>.+?)\*\*")


@dataclasses.dataclass(frozen=True)
class Source:
    """Where one README lists differences: a section and the shape of its list."""

    readme: str
    start: str  # the heading or sentence the list starts after
    shape: str  # "bullets", "sentence" (items separated by ';') or "table"
    end: str = "\n## "  # what ends the list (the next heading by default)


SOURCES = [
    Source("README.md", "What changes is\nwhat you install, and what you get:", "bullets"),
    Source("README.md", "## The compatibility promise", "bullets"),
    Source(
        "packages/asgiref-sync/README.md", "## What differs from upstream asgiref 3.13.0", "bullets"
    ),
    Source("packages/asgiref-sync/README.md", "## Event loops of `async_to_sync`", "bullets"),
    Source(
        "packages/asgiref-sync/README.md",
        "## Upstream names that are absent or differ here",
        "table",
    ),
    Source("packages/asgiref-wsgi/README.md", "What you get over a naive adapter:", "bullets"),
    Source("packages/asgiref-wsgi/README.md", "## Slow, stalled and vanishing clients", "bullets"),
    Source("packages/asgiref-wsgi/README.md", "## Options", "table", end="\n\n`WsgiToAsgiInstance"),
    Source(
        "packages/asgiref-server/README.md",
        "Differences from asgiref 3.13.0, all fixes:",
        "sentence",
        "\n\n",
    ),
    Source(
        "packages/asgiref-testing/README.md",
        "Differences from asgiref 3.13.0, all fixes:",
        "sentence",
        "\n\n",
    ),
    Source(
        "packages/asgiref-types/README.md",
        "## Differences from upstream's `asgiref.typing`",
        "bullets",
    ),
]


def _words(text: str) -> str:
    return " ".join(text.split())


def key_of(item: str) -> str:
    """The opening words that identify an item (markdown kept as written)."""
    return " ".join(_words(item).split()[:KEY_WORDS])


def _section(text: str, source: Source) -> str:
    assert source.start in text, f"{source.readme}: {source.start!r} is gone"
    return text.split(source.start, 1)[1].split(source.end, 1)[0]


def items_of(source: Source, text: str) -> list[str]:
    """The difference items of one source, as written in the README."""
    section = _section(text, source)
    if source.shape == "bullets":
        # Top-level bullets only: "- " at the start of a line, continued by indented lines.
        chunks = re.split(r"(?m)^- ", section)[1:]
        return [_words(chunk.split("\n\n")[0]) for chunk in chunks]
    if source.shape == "sentence":
        return [_words(part).removeprefix("and ") for part in section.split(";") if part.strip()]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    return [_words(" ".join(row.strip("|").split("|")[:2])) for row in rows]


def readme_items() -> dict[tuple[str, str], str]:
    """(README path, key) -> item, for every source; keys are unique per README."""
    found: dict[tuple[str, str], str] = {}
    for source in SOURCES:
        text = (ROOT / source.readme).read_text(encoding="utf-8")
        items = items_of(source, text)
        assert items, f"{source.readme}: no items after {source.start!r}"
        for item in items:
            key = (source.readme, key_of(item))
            assert key not in found, f"two items of {source.readme} open with {key[1]!r}"
            found[key] = item
    return found


def page_markers(text: str) -> list[tuple[str, str]]:
    """The (README path, key) pairs the page's marker comments quote."""
    return [
        (match.group("readme"), match.group("key"))
        for line in text.splitlines()
        if (match := _MARKER.match(line))
    ]


def page_entries(text: str) -> list[tuple[str, str]]:
    """(title, whole text) of each entry: a top-level list item opening with a bold title."""
    entries: list[tuple[str, str]] = []
    for chunk in re.split(r"(?m)^(?=- \*\*)", text)[1:]:
        body = re.split(r"(?m)^(?=\S)(?!- \*\*)", chunk, maxsplit=1)[0]
        title = _ENTRY.match(body)
        assert title
        entries.append((title.group("title"), body))
    return entries


def citations(text: str) -> list[tuple[str, str]]:
    """The (test file, test name) pairs cited in `text`."""
    return [(match.group("path"), match.group("name")) for match in _CITATION.finditer(text)]


def defined_tests(path: Path) -> set[str]:
    """Test functions of a file, as pytest addresses them (`Class::method` in classes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(
            "test_"
        ):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names.update(
                f"{node.name}::{member.name}"
                for member in node.body
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef))
                and member.name.startswith("test_")
            )
    return names
