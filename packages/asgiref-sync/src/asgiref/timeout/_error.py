"""The ``TimeoutError`` that asgiref raises, catchable the old way on Python 3.10.

Its one home, for every distribution (asgiref.timeout, asgiref.testing): it
imports nothing of asgiref's, and importing it loads only asgiref.timeout.

From Python 3.11 ``asyncio.TimeoutError`` *is* the builtin ``TimeoutError``. On
3.10 they are unrelated classes, and code written for either spelling exists
(Django's and Channels' tests catch ``asyncio.TimeoutError``), so there the
error raised is a subclass of both.
"""

from __future__ import annotations

import asyncio
import sys

__all__ = ["AsgirefTimeoutError"]

if sys.version_info >= (3, 11):
    AsgirefTimeoutError = TimeoutError
else:

    class AsgirefTimeoutError(TimeoutError, asyncio.TimeoutError):
        """Builtin ``TimeoutError`` that ``except asyncio.TimeoutError`` also catches."""
