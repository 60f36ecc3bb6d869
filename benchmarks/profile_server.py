"""uvicorn, counting what a request costs in threads and crossings.

Run by ``profile_django.py`` with the interpreter of one implementation's
venv, in place of ``python -m uvicorn``: ``python profile_server.py OUT
<uvicorn arguments>``. It counts thread starts (by thread name, digits
dropped) and calls of ``SyncToAsync`` / ``AsyncToSync`` (both
implementations have these classes), and on SIGUSR1 writes the counts so far
to OUT as JSON and starts counting afresh, so the caller can bracket exactly
its measured load.
"""

from __future__ import annotations

import inspect
import json
import re
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import asgiref.sync

_counts: Counter[str] = Counter()


def _counting_start(
    original: Callable[[threading.Thread], None],
) -> Callable[[threading.Thread], None]:
    def start(thread: threading.Thread) -> None:
        _counts["thread starts"] += 1
        _counts["thread started: " + re.sub(r"[-_]?\d+", "", thread.name)] += 1
        original(thread)

    return start


def _counting_call(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: object, *args: object, **kwargs: object) -> Any:
        _counts[name] += 1
        return original(self, *args, **kwargs)

    # Keep what callers test: SyncToAsync.__call__ is a coroutine function.
    if inspect.iscoroutinefunction(original):
        return asgiref.sync.markcoroutinefunction(call)
    return call


def _dump(signum: int, frame: FrameType | None) -> None:
    out.write_text(json.dumps(dict(_counts)))
    _counts.clear()


out = Path(sys.argv[1])
setattr(threading.Thread, "start", _counting_start(threading.Thread.start))  # noqa: B010
for _cls in (asgiref.sync.SyncToAsync, asgiref.sync.AsyncToSync):
    # A wrapper that returns the coroutine as is: counting the call is enough.
    setattr(_cls, "__call__", _counting_call(f"{_cls.__name__} calls", _cls.__call__))  # noqa: B010
signal.signal(signal.SIGUSR1, _dump)
sys.argv = ["uvicorn", *sys.argv[2:]]

from uvicorn.main import main  # noqa: E402

main()
