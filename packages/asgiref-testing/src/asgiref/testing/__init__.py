"""Test helpers for ASGI applications.

:class:`ApplicationCommunicator` runs one application instance and lets a test
exchange messages with it; :class:`ApplicationLifespan` runs an application's
lifespan protocol (startup, ``state``, shutdown) with clear errors.
"""

# Upstream's module imports these, and programs reach for them here
# (asgiref.testing.guarantee_single_callable); the communicator has loaded them all.
import asyncio as asyncio
import contextvars as contextvars
import time as time

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.compatibility import guarantee_single_callable as guarantee_single_callable
from asgiref.testing._communicator import ApplicationCommunicator
from asgiref.testing._lifespan import (
    ApplicationLifespan,
    LifespanError,
    LifespanShutdownError,
    LifespanStartupError,
    LifespanUnsupportedError,
)

__all__ = [
    "ApplicationCommunicator",
    "ApplicationLifespan",
    "LifespanError",
    "LifespanShutdownError",
    "LifespanStartupError",
    "LifespanUnsupportedError",
]


def _report_this_module(names: list[str]) -> None:
    # Defined in private modules, the classes report this public one (in reprs,
    # pickles and documentation), where upstream defines ApplicationCommunicator.
    namespace = globals()
    for name in names:
        namespace[name].__module__ = __name__


_report_this_module(__all__)
del _report_this_module
