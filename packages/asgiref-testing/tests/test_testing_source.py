"""inspect finds the source of every class asgiref.testing exports.

The classes report ``asgiref.testing`` as their ``__module__`` (see
test_testing_public_names.py), and ``inspect.getsource`` looks for a class in
the file of that module: documentation tools and debuggers show the class's
own ``class`` statement, on every supported Python.
"""

from __future__ import annotations

import inspect

import pytest

import asgiref.testing

EXPORTED = sorted(asgiref.testing.__all__)


@pytest.mark.parametrize("name", EXPORTED)
def test_getsource_returns_the_class_statement(name: str) -> None:
    exported = getattr(asgiref.testing, name)
    assert inspect.getsourcefile(exported) == asgiref.testing.__file__
    source = inspect.getsource(exported)
    assert source.startswith((f"class {name}(", f"class {name}:"))
    # The whole body, down to the class's own docstring, not a stub of it.
    assert (exported.__doc__ or "").splitlines()[0] in source
    _, first_line = inspect.getsourcelines(exported)
    assert first_line > 1
