"""A deadline for a block of async code (deprecated: use ``asyncio.timeout``).

``timeout(seconds)`` cancels the task running the block once ``seconds`` have
passed and turns that cancellation into the builtin ``TimeoutError`` when the
block exits. It works as ``with`` and ``async with`` (both must be used from
inside a running task) and on Python 3.10, which lacks ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import sys
import warnings

# Upstream's module imports these names; code may read them from here.
from types import TracebackType as TracebackType
from typing import Any as Any
from typing import Optional as Optional

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.timeout._error import AsgirefTimeoutError

__all__ = ["timeout"]

_DEPRECATION = (
    "asgiref.timeout.timeout is deprecated; use asyncio.timeout() instead "
    "(or asyncio.wait_for on Python 3.10)"
)


class timeout:  # noqa: N801 - lower-case public name kept for drop-in compatibility
    """Context manager raising ``TimeoutError`` when its block outlives ``timeout`` seconds.

    ``None`` means no deadline. ``loop`` is accepted for compatibility; by
    default the running loop is used.
    """

    def __init__(
        self, timeout: float | None, *, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        warnings.warn(_DEPRECATION, DeprecationWarning, stacklevel=2)
        self._delay = timeout
        self._loop = loop
        self._task: asyncio.Task[object] | None = None
        self._timer: asyncio.Handle | None = None
        self._deadline: float | None = None
        self._fired = False
        self._cancels_before = 0

    @property
    def expired(self) -> bool:
        """True once the deadline has passed and the block was cancelled."""
        return self._fired

    @property
    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative), or None without one."""
        if self._deadline is None:
            return None
        return max(self._deadline - self._active_loop().time(), 0.0)

    def __enter__(self) -> timeout:
        self._arm()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._disarm(exc_type)

    async def __aenter__(self) -> timeout:
        self._arm()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._disarm(exc_type)

    def _active_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop if self._loop is not None else asyncio.get_running_loop()

    def _arm(self) -> None:
        if self._delay is None:
            return
        loop = self._active_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("asgiref.timeout.timeout must be used inside an asyncio task")
        self._task = task
        if sys.version_info >= (3, 11):
            self._cancels_before = task.cancelling()
        self._deadline = loop.time() + self._delay
        if self._delay <= 0:
            self._timer = loop.call_soon(self._expire)
        else:
            self._timer = loop.call_at(self._deadline, self._expire)

    def _expire(self) -> None:
        assert self._task is not None
        self._fired = True
        self._task.cancel()

    def _disarm(self, exc_type: type[BaseException] | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._fired or self._task is None:
            return
        cancelled_by_others = False
        if sys.version_info >= (3, 11):
            # An expired deadline takes back its own cancellation (3.11+ counts
            # them); a count still above the starting one means someone else
            # also cancelled the task, and that cancellation must propagate.
            cancelled_by_others = self._task.uncancel() > self._cancels_before
        was_cancelled = exc_type is not None and issubclass(exc_type, asyncio.CancelledError)
        if was_cancelled and not cancelled_by_others:
            raise AsgirefTimeoutError(f"block did not finish within {self._delay} s") from None
