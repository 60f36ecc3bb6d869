"""Sphinx glue of this site: the ASGI message reference and type alias entries.

``.. asgi-message-reference::`` inserts what ``asgi_message_tables.render()``
writes from the validators' tables.

``.. autoalias:: asgiref.typing.Headers`` documents a type alias as its
source reads (``Iterable[tuple[bytes, bytes]]``) with the docstring written
under its assignment. Autodoc's own data entry would print the evaluated
alias, every union member fully qualified (unreadable for the ASGI unions),
and look for the docstring only in the public module, while the aliases are
assigned in private ones. For other data entries (``asgiref.__version__``),
``autodoc-process-docstring`` supplies that docstring the same way.
"""

from __future__ import annotations

from typing import Any

import asgi_message_tables
import public_api
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


class AutoAlias(SphinxDirective):
    """A ``py:type`` entry for a public type alias, read from its source."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        module, _, name = self.arguments[0].rpartition(".")
        found = public_api.definition(module, name)
        lines = [
            f".. py:type:: {name}",
            f"   :module: {module}",
            f"   :canonical: {public_api.alias_value(module, name)}",
            "",
            *(f"   {line}" if line else "" for line in (found.docstring or "").splitlines()),
        ]
        container = nodes.section()
        self.state.nested_parse(StringList(lines, self.get_source_info()[0]), 0, container)
        return list(container.children)


class AsgiMessageReference(SphinxDirective):
    """Every scope and message of the spec tables, as sections with key tables."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        container = nodes.section()
        lines = StringList(asgi_message_tables.render().splitlines(), "validate/_spec.py")
        nested_parse_with_titles(self.state, lines, container)
        return list(container.children)


def _alias_docstring(
    app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Give a public alias the docstring written under its assignment.

    Autodoc finds none for a re-exported alias, or the docstring of the
    object's class (``dict``'s for ``ScopeExtensions``, a runtime TypedDict).
    """
    module, _, short = name.rpartition(".")
    if what != "data" or module not in public_api.PUBLIC_MODULES:
        return
    found = public_api.definition(module, short)
    if found.docstring:
        lines[:] = [*found.docstring.splitlines(), ""]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("asgi-message-reference", AsgiMessageReference)
    app.add_directive("autoalias", AutoAlias)
    app.connect("autodoc-process-docstring", _alias_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
