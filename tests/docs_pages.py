"""Reads the code blocks of the MyST pages under docs/ and runs their examples.

The convention the pages follow (docs/guides/index.md states it for writers):

- every ```` ```python ```` block runs, and so does a ```` ```{code-block} python ````
  block, unless its ``:class:`` option names ``no-run``;
- the runnable blocks of one page run in order, in one namespace, in a fresh
  Python process whose working directory is an empty temporary directory;
- a ```` ```{code-block} text ```` block with the class ``output`` right after a
  runnable block (only blank lines between) is what that block prints; ``...``
  stands for any text within a line, and a line holding only ``...`` for any
  number of lines.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<info>.*)$")
_OPTION = re.compile(r"^:(?P<name>[\w-]+):(?: (?P<value>.*))?$")
_SEPARATOR = "\x1edocs-example-block\x1e"

# Runs in the child process: each block's stdout is preceded by a separator
# line, so the parent can give every block its own output.
_DRIVER = """
import json, sys, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
for block in blocks:
    print(SEPARATOR, flush=True)
    try:
        exec(compile(block["source"], block["where"], "exec"), namespace)
    except BaseException:
        sys.stdout.flush()
        print("example failed at " + block["where"], file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    sys.stdout.flush()
""".replace("SEPARATOR", repr(_SEPARATOR))


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced block of a page: its language, directive options and body."""

    page: Path
    line: int
    language: str
    directive: bool
    options: dict[str, str]
    body: str
    follows_blank_only: bool  # only blank lines between the previous block and this one

    @property
    def classes(self) -> set[str]:
        return set(self.options.get("class", "").split())

    @property
    def runnable(self) -> bool:
        return self.language == "python" and "no-run" not in self.classes

    @property
    def is_output(self) -> bool:
        return self.directive and self.language == "text" and "output" in self.classes

    @property
    def where(self) -> str:
        return (
            f"{self.page.relative_to(ROOT) if self.page.is_absolute() else self.page}:{self.line}"
        )


def _parse_info(info: str) -> tuple[str, bool]:
    info = info.strip()
    match = re.match(r"^\{code-block\}\s*(\S*)", info) or re.match(r"^\{code\}\s*(\S*)", info)
    if match:
        return match.group(1), True
    return (info.split() or [""])[0], False


def read_blocks(page: Path, text: str | None = None) -> list[Block]:
    """The fenced blocks of a page, in order (nested fences stay in their parent)."""
    lines = (page.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    index = 0
    last_end = -1
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        ticks, indent = opening.group("ticks"), len(opening.group("indent"))
        language, directive = _parse_info(opening.group("info"))
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines):
            closing = _FENCE.match(lines[index])
            if closing and closing.group("ticks") == ticks and not closing.group("info").strip():
                break
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        options: dict[str, str] = {}
        if directive:
            while body and (option := _OPTION.match(body[0])):
                options[option.group("name")] = option.group("value") or ""
                body.pop(0)
            if body and not body[0].strip():
                body.pop(0)
        between = lines[last_end + 1 : start] if last_end >= 0 else ["x"]
        blocks.append(
            Block(
                page=page,
                line=start + 1,
                language=language,
                directive=directive,
                options=options,
                body="\n".join(body) + "\n",
                follows_blank_only=all(not line.strip() for line in between),
            )
        )
        last_end = index
        index += 1
    return blocks


def expected_outputs(blocks: list[Block]) -> dict[int, Block]:
    """Maps the position of each runnable block to the output block shown after it."""
    shown: dict[int, Block] = {}
    for position, block in enumerate(blocks[:-1]):
        after = blocks[position + 1]
        if block.runnable and after.is_output and after.follows_blank_only:
            shown[position] = after
    return shown


def output_matches(expected: str, actual: str) -> bool:
    """Whether `actual` is `expected`, where `...` matches any text (see the module)."""
    pattern: list[str] = []
    for line in expected.rstrip("\n").split("\n"):
        if line.strip() == "...":
            pattern.append(r"(?:.*\n)*?")
        else:
            pattern.append(".*?".join(map(re.escape, line.split("..."))) + r"\n")
    return re.fullmatch("".join(pattern), actual.rstrip("\n") + "\n") is not None


@dataclasses.dataclass(frozen=True)
class PageRun:
    """What running a page's examples gave."""

    returncode: int
    outputs: list[str]  # stdout of each runnable block, in order
    stderr: str


def run_blocks(blocks: list[Block], workdir: Path, timeout: float = 240.0) -> PageRun:
    """Runs the runnable blocks in one fresh process (see the module docstring)."""
    runnable = [{"source": block.body, "where": block.where} for block in blocks if block.runnable]
    (workdir / "blocks.json").write_text(json.dumps(runnable), encoding="utf-8")
    (workdir / "driver.py").write_text(_DRIVER, encoding="utf-8")
    run_dir = workdir / "run"
    run_dir.mkdir()
    completed = subprocess.run(
        [sys.executable, str(workdir / "driver.py"), str(workdir / "blocks.json")],
        cwd=run_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    chunks = completed.stdout.split(_SEPARATOR + "\n")
    return PageRun(completed.returncode, chunks[1:], completed.stderr)


def pages(*relative: str) -> list[Path]:
    """The Markdown pages under the given docs/ folders or files, sorted."""
    found: list[Path] = []
    for name in relative:
        path = DOCS / name
        found.extend(sorted(path.rglob("*.md")) if path.is_dir() else [path])
    return found
