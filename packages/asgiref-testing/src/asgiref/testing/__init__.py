"""Test helpers for ASGI applications.

:class:`ApplicationCommunicator` runs one application instance and lets a test
exchange messages with it; :class:`ApplicationLifespan` runs an application's
lifespan protocol (startup, ``state``, shutdown) with clear errors.
"""

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
