"""No source file of any distribution silences pyright's ``reportPrivateUsage``.

What one module needs from another is a public name of a private module, not a
reach into another module's privates hidden behind a suppression comment. Only
comments are read (a docstring may name the rule); both the line form
(``# pyright: ignore[reportPrivateUsage]``) and the file form
(``# pyright: reportPrivateUsage=false``) count.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

from monorepo_testing import PACKAGES_DIR

_RULE = "reportPrivateUsage"


def private_usage_suppressions(packages_dir: Path) -> list[str]:
    """``path:line`` of every comment naming the rule, in every ``packages/*/src``."""
    found: list[str] = []
    for path in sorted(packages_dir.glob("*/src/**/*.py")):
        source = path.read_text(encoding="utf-8")
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and _RULE in token.string:
                found.append(f"{path.relative_to(packages_dir)}:{token.start[0]}")
    return found


def test_no_source_file_suppresses_private_usage() -> None:
    found = private_usage_suppressions(PACKAGES_DIR)
    assert not found, f"{len(found)} {_RULE} suppressions:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "comment",
    [
        "# pyright: ignore[reportPrivateUsage]",
        "# noqa: F401  # pyright: ignore[reportUnusedImport, reportPrivateUsage]",
        "# pyright: reportPrivateUsage=false",
    ],
)
def test_every_spelling_of_the_suppression_is_found(tmp_path: Path, comment: str) -> None:
    module = tmp_path / "asgiref-example" / "src" / "asgiref" / "example" / "__init__.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        f'"""Names {_RULE} in its docstring, which is no suppression."""\n'
        f"from asgiref.other import _private  {comment}\n",
        encoding="utf-8",
    )
    assert private_usage_suppressions(tmp_path) == [
        str(Path("asgiref-example/src/asgiref/example/__init__.py")) + ":2"
    ]
