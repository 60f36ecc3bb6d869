"""docs/differences.md names every difference the READMEs list, each with tests that exist.

How items are found and quoted: tests/docs_differences.py.
"""

from __future__ import annotations

from docs_differences import (
    PAGE,
    SOURCES,
    Source,
    citations,
    defined_tests,
    items_of,
    key_of,
    page_entries,
    page_markers,
    readme_items,
)
from docs_pages import ROOT


def _missing_items(page_text: str, items: dict[tuple[str, str], str]) -> list[str]:
    quoted = set(page_markers(page_text))
    return [
        f"{readme}: {item[:100]}"
        for (readme, key), item in items.items()
        if (readme, key) not in quoted
    ]


def _stale_markers(page_text: str, items: dict[tuple[str, str], str]) -> list[str]:
    return [
        f"{readme} | {key}" for readme, key in page_markers(page_text) if (readme, key) not in items
    ]


def _bad_citations(page_text: str) -> list[str]:
    problems: list[str] = []
    for title, body in page_entries(page_text):
        cited = citations(body)
        if not cited:
            problems.append(f"{title}: cites no test")
        for path, name in cited:
            file = ROOT / path
            if not file.is_file():
                problems.append(f"{title}: {path} does not exist")
            elif name not in defined_tests(file):
                problems.append(f"{title}: {path} has no test {name}")
    return problems


def test_every_readme_difference_is_on_the_page() -> None:
    missing = _missing_items(PAGE.read_text(encoding="utf-8"), readme_items())
    assert not missing, "add an entry (or a marker to one) for:\n" + "\n".join(missing)


def test_every_marker_quotes_a_current_readme_item() -> None:
    stale = _stale_markers(PAGE.read_text(encoding="utf-8"), readme_items())
    assert not stale, "the README no longer lists:\n" + "\n".join(stale)


def test_every_entry_cites_tests_that_exist() -> None:
    problems = _bad_citations(PAGE.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_every_marker_sits_inside_an_entry() -> None:
    """A marker outside an entry would claim an item without a test beside it."""
    text = PAGE.read_text(encoding="utf-8")
    inside = sum(len(page_markers(body)) for _, body in page_entries(text))
    assert inside == len(page_markers(text))


def test_every_source_still_gives_items() -> None:
    for source in SOURCES:
        text = (ROOT / source.readme).read_text(encoding="utf-8")
        assert items_of(source, text), source


# The checker itself: each way the page can go wrong must be caught.

_README = """# pkg

## Differences

- First difference that the package lists, with more words.
- Second difference, also listed here with words.

## Next
"""
_SOURCE = Source("pkg/README.md", "## Differences", "bullets")


def test_items_and_keys_of_a_bulleted_list() -> None:
    items = items_of(_SOURCE, _README)
    assert [key_of(item) for item in items] == [
        "First difference that the package lists, with",
        "Second difference, also listed here with words.",
    ]


def test_sentence_and_table_shapes() -> None:
    sentence = Source("r", "Differences, all fixes:", "sentence", "\n\n")
    text = "Differences, all fixes: one thing; another\nthing; and a third.\n\nNext"
    assert items_of(sentence, text) == ["one thing", "another thing", "a third."]
    table = Source("r", "## Options", "table", end="\n\nAfter")
    text = "## Options\n\n| a | b | c |\n| --- | --- | --- |\n| `x` | `1` | what |\n\nAfter"
    assert items_of(table, text) == ["`x` `1`"]


def test_a_missing_item_or_a_stale_marker_is_caught() -> None:
    items = {("pkg/README.md", key_of(item)): item for item in items_of(_SOURCE, _README)}
    page = (
        "- **One.** Text. Test:\n"
        "  `tests/test_docs_differences.py::test_sentence_and_table_shapes`.\n\n"
        "  % readme: pkg/README.md | First difference that the package lists, with\n"
    )
    assert _missing_items(page, items) == [
        "pkg/README.md: Second difference, also listed here with words."
    ]
    assert _stale_markers(page, items) == []
    stale = page.replace("First difference", "Frist difference")
    assert _stale_markers(stale, items) == [
        "pkg/README.md | Frist difference that the package lists, with"
    ]


def test_a_missing_or_wrong_citation_is_caught() -> None:
    page = (
        "- **Cited.** `tests/test_docs_differences.py::test_sentence_and_table_shapes`\n"
        "- **Uncited.** Text.\n"
        "- **Wrong name.** `tests/test_docs_differences.py::test_that_does_not_exist`\n"
        "- **Wrong file.** `tests/test_nothing_here.py::test_x`\n"
    )
    assert _bad_citations(page) == [
        "Uncited.: cites no test",
        "Wrong name.: tests/test_docs_differences.py has no test test_that_does_not_exist",
        "Wrong file.: tests/test_nothing_here.py does not exist",
    ]
