"""Every name asgiref.testing exports reports that module, as upstream's do.

Reprs, pickles and documentation tools name a class by its ``__module__``:
``asgiref.testing._communicator.ApplicationCommunicator`` would be a private
path that upstream never had.
"""

from __future__ import annotations

import pickle
import pydoc
import typing

import pytest

import asgiref.testing
from asgiref.testing import LifespanError, LifespanShutdownError, LifespanStartupError

EXPORTED = sorted(asgiref.testing.__all__)


@pytest.mark.parametrize("name", EXPORTED)
def test_exported_class_reports_the_public_module(name: str) -> None:
    exported = getattr(asgiref.testing, name)
    assert exported.__module__ == "asgiref.testing"
    assert repr(exported) == f"<class 'asgiref.testing.{name}'>"
    assert pydoc.locate(f"asgiref.testing.{name}") is exported
    assert pickle.loads(pickle.dumps(exported)) is exported
    # Annotations still resolve where the class now says it lives.
    typing.get_type_hints(exported)


@pytest.mark.parametrize(
    "error",
    [
        LifespanError("out of protocol"),
        LifespanStartupError("no database"),
        LifespanShutdownError("application reported lifespan.shutdown.failed: 'x'", "x"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_lifespan_errors_survive_pickling(error: LifespanError) -> None:
    # They cross process boundaries (pytest-xdist, multiprocessing test runners).
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert getattr(copy, "message", None) == getattr(error, "message", None)
