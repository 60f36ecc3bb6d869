"""An executor whose work runs on the thread that created it.

A sync thread that waits for async code (``async_to_sync``) lends itself out
through a :class:`CurrentThreadExecutor`: while it sits in
:meth:`CurrentThreadExecutor.run_until_future`, callables submitted from other
threads run right there, on the waiting thread. Defined in
asgiref.current_thread_executor._executor, which also documents the methods
the bridge drives it by.
"""

from __future__ import annotations

# Upstream's module binds these names (its imports, and the type variables
# of its annotations); code may read them from here.
import threading as threading
from collections import deque as deque
from collections.abc import Callable as Callable
from concurrent.futures import Executor as Executor
from concurrent.futures import Future as Future
from typing import Any as Any
from typing import ParamSpec as ParamSpec
from typing import TypeVar as TypeVar

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.current_thread_executor._executor import CurrentThreadExecutor, WorkItem
from asgiref.local._cpython import CallOutcome as CallOutcome

__all__ = ["CurrentThreadExecutor"]  # CallOutcome is for asgiref.sync only

_T = TypeVar("_T")
_P = ParamSpec("_P")
_R = TypeVar("_R")

# Upstream's name for one queued call.
_WorkItem = WorkItem
