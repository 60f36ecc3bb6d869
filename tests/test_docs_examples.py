"""Runs every example of the guides and the migration page, and compares what
each prints with the output the page shows (convention: tests/docs_pages.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_pages import (
    DOCS,
    ROOT,
    Block,
    expected_outputs,
    output_matches,
    pages,
    read_blocks,
    run_blocks,
)

EXAMPLE_PAGES = pages("guides", "migration.md", "differences.md")
GUIDES = ["getting-started", "sync-bridge", "wsgi", "testing", "types", "performance"]


def _check_page(blocks: list[Block], workdir: Path) -> None:
    run = run_blocks(blocks, workdir)
    assert run.returncode == 0, run.stderr
    shown = expected_outputs(blocks)
    runnable_positions = [position for position, block in enumerate(blocks) if block.runnable]
    assert len(run.outputs) == len(runnable_positions), run.stderr
    for position, printed in zip(runnable_positions, run.outputs, strict=True):
        if position in shown:
            expected = shown[position].body
            assert output_matches(expected, printed), (
                f"{blocks[position].where} printed:\n{printed}\n"
                f"the page shows ({shown[position].where}):\n{expected}"
            )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("page", EXAMPLE_PAGES, ids=lambda page: str(page.relative_to(DOCS)))
def test_examples_run_and_print_what_the_page_shows(page: Path, tmp_path: Path) -> None:
    _check_page(read_blocks(page), tmp_path)


def test_every_guide_exists_and_has_a_runnable_example() -> None:
    for name in GUIDES:
        page = DOCS / "guides" / f"{name}.md"
        assert page.is_file(), page
        assert any(block.runnable for block in read_blocks(page)), f"{page} has no runnable example"


def test_every_output_block_follows_a_runnable_block() -> None:
    """An output block that is not right after a runnable block would never be
    compared: it could go stale unnoticed."""
    for page in EXAMPLE_PAGES:
        blocks = read_blocks(page)
        compared = {id(block) for block in expected_outputs(blocks).values()}
        stray = [block.where for block in blocks if block.is_output and id(block) not in compared]
        assert not stray, stray


def test_the_conventions_page_states_the_convention() -> None:
    text = (DOCS / "guides" / "index.md").read_text(encoding="utf-8")
    for phrase in ("no-run", ":class: output", "one namespace"):
        assert phrase in text


# The checker itself: a wrong example and a stale output must both fail.

_SAMPLE = """
# A page

```python
value = 6 * 7
print(value)
```

```{code-block} text
:class: output

42
```

```{code-block} python
:class: no-run

raise SystemExit("never runs")
```

```python
print(f"still {value}")
print("thread MainThread")
```

```{code-block} text
:class: output

still 42
thread ...
```
"""


@pytest.mark.timeout(60)
def test_the_checker_accepts_a_correct_page(tmp_path: Path) -> None:
    blocks = read_blocks(ROOT / "sample.md", _SAMPLE)
    assert [block.runnable for block in blocks] == [True, False, False, True, False]
    _check_page(blocks, tmp_path)


@pytest.mark.timeout(60)
def test_the_checker_fails_a_stale_output(tmp_path: Path) -> None:
    blocks = read_blocks(ROOT / "sample.md", _SAMPLE.replace("\n42\n", "\n43\n"))
    with pytest.raises(AssertionError, match="printed"):
        _check_page(blocks, tmp_path)


@pytest.mark.timeout(60)
def test_the_checker_fails_a_broken_example(tmp_path: Path) -> None:
    blocks = read_blocks(ROOT / "sample.md", _SAMPLE.replace('f"still {value}"', "undefined_name"))
    with pytest.raises(AssertionError, match="NameError"):
        _check_page(blocks, tmp_path)


def test_ellipsis_matching() -> None:
    assert output_matches("a ... c\n", "a b c\n")
    assert output_matches("first\n...\nlast\n", "first\nx\ny\nlast\n")
    assert output_matches("first\n...\nlast\n", "first\nlast\n")
    assert not output_matches("a ... c\n", "a b d\n")
    assert not output_matches("first\nlast\n", "first\nextra\nlast\n")


def test_the_install_table_is_the_readmes() -> None:
    """Getting started shows the root README's "Who installs what" table, row for row."""

    def rows(path: Path) -> list[str]:
        text = path.read_text(encoding="utf-8")
        section = text.split("## Who installs what\n", 1)[1].split("\n## ", 1)[0]
        return [line for line in section.splitlines() if line.startswith("| ")]

    readme_rows = rows(ROOT / "README.md")
    assert len(readme_rows) > 2
    assert rows(DOCS / "guides" / "getting-started.md") == readme_rows
