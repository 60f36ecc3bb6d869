"""The documentation site: the ASGI message reference follows the validators' tables,
and the whole site builds strictly (``-W``, nitpicky) with every public name on it.

The message reference tests run the generator directly (no Sphinx). The build
test runs Sphinx in hatch's ``docs`` environment, as CI's docs step does, into
a temporary directory; it is skipped only where hatch itself is missing.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import asgi_message_tables
import pytest
from asgi_message_tables import BASE, UndescribedRuleError, message_label, render, scope_label
from docs_pages import DOCS, expected_outputs, output_matches, read_blocks, run_blocks
from public_api import PUBLIC_MODULES, REPO_ROOT, distribution_of, public_names

from asgiref.typing.validate import _rules
from asgiref.typing.validate._spec import MESSAGES, SCOPES, MessageSpec


def _sections(text: str) -> dict[str, str]:
    """The rendered page cut at its ``.. _label:`` lines, by label."""
    parts = re.split(r"^\.\. _([\w-]+):$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _rows(section: str) -> dict[str, list[str]]:
    """Key -> its three other cells, from a section's key table."""
    cells = re.findall(r"^   \* - ``([^`]+)``\n((?:     - .*\n)+)", section, flags=re.MULTILINE)
    return {key: [line[7:] for line in rest.splitlines()] for key, rest in cells}


def test_every_scope_key_is_documented_as_the_tables_check_it() -> None:
    sections = _sections(render())
    for kind, shape in SCOPES.items():
        rows = _rows(sections[scope_label(kind)])
        assert list(rows) == list(shape.fields), kind
        for key, field in shape.fields.items():
            required = "required" if field.required else "optional"
            assert rows[key][1] == required, (kind, key)


def test_every_message_type_and_key_is_documented() -> None:
    sections = _sections(render())
    for kind, spec in MESSAGES.items():
        section = sections[message_label(kind)]
        assert f"``{kind}``" in section
        rows = _rows(section)
        assert list(rows) == list(spec.shape.fields), kind
        for key, field in spec.shape.fields.items():
            assert rows[key][1] == ("required" if field.required else "optional"), (kind, key)
        if spec.extension:
            assert f"``{spec.extension}`` extension" in section, kind


def test_the_introduced_column_comes_from_the_tables() -> None:
    sections = _sections(render())
    accept = _rows(sections["asgi-message-websocket-accept"])
    assert accept["headers"][2] == "spec 2.1"
    assert accept["subprotocol"][2] == BASE
    start = _rows(sections["asgi-message-http-response-start"])
    assert start["trailers"][2] == "``True`` needs extension ``http.response.trailers``"
    extensions = _rows(sections["asgi-scope-extensions"])
    assert extensions["tls"][2] == "extension ``tls``"
    assert "asgi-scope-extensions-tls" in sections


def test_a_key_added_to_the_tables_appears_on_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    close = MESSAGES["websocket.close"]
    fields = {**close.shape.fields, "grace": _rules.Field(_rules.Int(0), since="9.1")}
    changed = dataclasses.replace(close, shape=dataclasses.replace(close.shape, fields=fields))
    monkeypatch.setattr(asgi_message_tables, "MESSAGES", {**MESSAGES, "websocket.close": changed})
    rows = _rows(_sections(render())["asgi-message-websocket-close"])
    assert rows["grace"] == ["int, at least 0", "required", "spec 9.1"]


def test_a_rule_the_page_cannot_describe_fails_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclasses.dataclass(frozen=True)
    class Prime:
        def find(self, value: object) -> _rules.Violation | None:
            return None

    shape = _rules.Shape({"type": _rules.Field(_rules.Const("x")), "n": _rules.Field(Prime())})
    odd = MessageSpec("http", "send", shape)
    monkeypatch.setattr(asgi_message_tables, "MESSAGES", {**MESSAGES, "x": odd})
    with pytest.raises(UndescribedRuleError, match="Prime"):
        render()


@pytest.mark.timeout(300)
def test_the_home_page_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    """The guides' convention (tests/docs_pages.py), applied to the home page."""
    blocks = read_blocks(DOCS / "index.md")
    run = run_blocks(blocks, tmp_path)
    assert run.returncode == 0, run.stderr
    shown = expected_outputs(blocks)
    assert len(shown) == len(run.outputs) == 1, run.stderr
    assert output_matches(next(iter(shown.values())).body, run.outputs[0]), run.outputs


# --------------------------------------------------------------------------
# The strict build.


def _hatch() -> list[str]:
    found = shutil.which("hatch")
    if found is not None:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "hatch", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "hatch"]
    pytest.skip("hatch is not installed here (the docs build runs in its docs environment)")


# Sphinx runs in hatch's docs environment (Python 3.13) whichever Python runs
# this test, so one run of the whole matrix is enough: the one on 3.13.
DOCS_PYTHON = (3, 13)


@pytest.mark.timeout(900)
@pytest.mark.skipif(
    sys.version_info[:2] != DOCS_PYTHON,
    reason="the build runs in the docs environment; checked once, on 3.13",
)
def test_the_site_builds_strictly_with_every_public_name(tmp_path: Path) -> None:
    out = tmp_path / "html"
    command = [
        *_hatch(),
        "run",
        "docs:python",
        "-m",
        "sphinx",
        *("-W", "--keep-going", "-n", "-E", "-q", "-b", "html"),
        *("-d", str(tmp_path / "doctrees"), "docs", str(out)),
    ]
    # Run from inside a hatch environment (hatch test), hatch would take the
    # docs environment for a nested run of the active one and refuse to create it.
    outside = {name: value for name, value in os.environ.items() if name != "HATCH_ENV_ACTIVE"}
    built = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=840, env=outside
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    for module in PUBLIC_MODULES:
        page = (out / "api" / f"{distribution_of(module)}.html").read_text(encoding="utf-8")
        for name in public_names(module):
            assert f'id="{module}.{name}"' in page, f"{module}.{name}"
    reference = (out / "reference" / "asgi-messages.html").read_text(encoding="utf-8")
    labels = [*map(scope_label, SCOPES), *map(message_label, MESSAGES)]
    assert [label for label in labels if f'id="{label}"' not in reference] == []
    changelog = (out / "changelog.html").read_text(encoding="utf-8")
    assert "3.13.0.post1" in changelog
