"""uvicorn with asgiref's sync-to-async bridge replaced by its floor.

Run by ``django_bound.py`` with the interpreter of ours' venv, in place of
``python -m uvicorn``: ``python django_floor.py MODE OUT <uvicorn
arguments>``. Before uvicorn imports the application it replaces, in
``asgiref.sync``, the least work any bridge could do: ``sync_to_async(f)``
returns a coroutine function that awaits ``loop.run_in_executor(E,
partial(copy_context().run, f, ...))``; no ``Local`` bookkeeping, no deadlock
detection, no context written back. Thread-sensitive, ``E`` is one
process-wide single-thread pool (MODE ``process``: every request's sync code
on one thread, and ``ThreadSensitiveContext`` a no-op) or a single-thread
pool that each ``ThreadSensitiveContext`` starts and retires (MODE
``context``: a thread per request, as upstream and ours have); otherwise the
loop's default executor (or the one given). ``SyncToAsync.__call__`` does the
same for code that builds the class itself. ``async_to_sync`` and
``asgiref.local`` stay ours.

Modules that imported the originals before the patch get the floor's too,
so whatever Django imports later (every ``from asgiref.sync import ...``)
binds the floor. It counts its calls (floor crossings, crossings through the
class, contexts entered, ``AsyncToSync`` calls) and on SIGUSR1 writes the
counts so far to OUT as JSON and starts afresh, as ``profile_server.py``
does, so the caller can check per request that the floor took every
crossing ours would have taken.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

FLOOR_CALLS = "floor calls"
CLASS_CALLS = "SyncToAsync calls"
CONTEXTS = "ThreadSensitiveContext entered"
ASYNC_TO_SYNC_CALLS = "AsyncToSync calls"

MODES = ("process", "context")

_counts: Counter[str] = Counter()
_SENSITIVE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="floor-thread-sensitive")
# The innermost ThreadSensitiveContext's pool, in MODE "context".
_context_pool: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "floor_context_pool", default=None
)
_per_context = False


async def _run(
    func: Callable[..., Any],
    thread_sensitive: bool,
    executor: Executor | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    pool = (_context_pool.get() or _SENSITIVE) if thread_sensitive else executor
    call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, call)


def _floor(
    func: Callable[..., Any], thread_sensitive: bool, executor: Executor | None
) -> Callable[..., Awaitable[Any]]:
    async def crossing(*args: Any, **kwargs: Any) -> Any:
        _counts[FLOOR_CALLS] += 1
        return await _run(func, thread_sensitive, executor, args, kwargs)

    return crossing


def sync_to_async(
    func: Callable[..., Any] | None = None,
    *,
    thread_sensitive: bool = True,
    executor: Executor | None = None,
    context: contextvars.Context | None = None,
) -> Any:
    """The floor in ``asgiref.sync.sync_to_async``'s place (``context`` is
    never passed on the measured rows and is ignored)."""
    if func is None:
        return lambda f: _floor(f, thread_sensitive, executor)
    return _floor(func, thread_sensitive, executor)


async def _class_call(self: Any, *args: Any, **kwargs: Any) -> Any:
    _counts[CLASS_CALLS] += 1
    return await _run(self.func, self._thread_sensitive, self._executor, args, kwargs)


class ThreadSensitiveContext:
    """Counted; in MODE "context" it starts a single-thread pool for the
    thread-sensitive calls inside it and retires it on exit, else a no-op."""

    _pool: ThreadPoolExecutor | None = None
    _token: contextvars.Token[Executor | None] | None = None

    async def __aenter__(self) -> ThreadSensitiveContext:
        _counts[CONTEXTS] += 1
        if _per_context:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="floor-context")
            self._token = _context_pool.set(self._pool)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._pool is not None and self._token is not None:
            _context_pool.reset(self._token)
            # Not waited for: the least a context's end could cost its caller.
            self._pool.shutdown(wait=False)


def _counted(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: object, *args: object, **kwargs: object) -> Any:
        _counts[ASYNC_TO_SYNC_CALLS] += 1
        return original(self, *args, **kwargs)

    return call


def install() -> None:
    """Puts the floor in place of the bridge, here and in every module that
    already imported the bridge's names."""
    # Here, not at the top: django_bound.py imports this module for its names
    # only, and its interpreter need not hold the asgiref being measured.
    import asgiref.sync

    originals = {
        "sync_to_async": asgiref.sync.sync_to_async,
        "ThreadSensitiveContext": asgiref.sync.ThreadSensitiveContext,
    }
    floors: dict[str, object] = {
        "sync_to_async": sync_to_async,
        "ThreadSensitiveContext": ThreadSensitiveContext,
    }
    for module in list(sys.modules.values()):
        for name, original in originals.items():
            if getattr(module, name, None) is original:
                setattr(module, name, floors[name])
    setattr(asgiref.sync.SyncToAsync, "__call__", _class_call)  # noqa: B010
    async_to_sync_call = asgiref.sync.AsyncToSync.__call__
    setattr(asgiref.sync.AsyncToSync, "__call__", _counted(async_to_sync_call))  # noqa: B010


def _dump(out: Path) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        out.write_text(json.dumps(dict(_counts)))
        _counts.clear()

    return handler


def main() -> None:
    global _per_context
    mode, out, *uvicorn_arguments = sys.argv[1:]
    if mode not in MODES:
        raise SystemExit(f"MODE must be one of {MODES}, not {mode!r}")
    _per_context = mode == "context"
    install()
    signal.signal(signal.SIGUSR1, _dump(Path(out)))
    sys.argv = ["uvicorn", *uvicorn_arguments]
    from uvicorn.main import main as uvicorn_main

    uvicorn_main()


if __name__ == "__main__":
    main()
