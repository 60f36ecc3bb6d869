"""Sphinx configuration of the documentation site (``hatch run docs:build``).

Strict by design: the build script passes -W --keep-going and nitpicky is on,
so a broken reference or a stale autodoc entry fails the build. Nothing is
fetched at build time (no intersphinx): names of the standard library that
our signatures mention are listed in ``nitpick_ignore`` one by one.
"""

from __future__ import annotations

import sys
from pathlib import Path

_DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(_DOCS / "_ext"))

project = "asgiref, split"
author = "the asgiref split contributors"
copyright = "the asgiref split contributors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "asgiref_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"

nitpicky = True
# Standard-library names in our signatures: without intersphinx they have no
# target. Each is listed exactly; anything else unresolved fails the build.
nitpick_ignore = [
    ("py:class", "_asyncio.Task"),
    ("py:class", "asyncio.events.AbstractEventLoop"),
    ("py:class", "asyncio.queues.Queue"),
    ("py:class", "collections.abc.Awaitable"),
    ("py:class", "collections.abc.Callable"),
    ("py:class", "collections.abc.Coroutine"),
    ("py:class", "collections.abc.Hashable"),
    ("py:class", "collections.abc.Iterable"),
    ("py:class", "collections.abc.Mapping"),
    ("py:class", "collections.abc.MutableMapping"),
    ("py:class", "concurrent.futures._base.Executor"),
    ("py:class", "concurrent.futures._base.Future"),
    ("py:class", "contextvars.Context"),
    ("py:class", "threading.Thread"),
    ("py:func", "warnings.warn"),
]
# Private, typing-only names of asgiref's own signatures (type variables such
# as ``_P``/``_R``, aliases such as ``_AsyncCallable``): not documented on
# purpose. Only names with a leading underscore and a capital letter match.
nitpick_ignore_regex = [("py:class", r"(asgiref(\.\w+)*\.)?_[A-Z]\w*")]


autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Only our own docstrings: an undocumented override (``submit``) stays out
# rather than showing the standard library's text.
autodoc_inherit_docstrings = False
# Classes show their public methods; modules (``:no-members:`` on each page)
# show only their docstring, the page lists the module's ``__all__``.
autodoc_default_options = {"members": True}

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = "asgiref, split"
html_static_path = ["_static"]
html_css_files = ["asgiref.css"]
html_show_sourcelink = False
