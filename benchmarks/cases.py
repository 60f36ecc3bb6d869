"""Benchmark cases, run in a fresh process by ``run.py`` under one implementation.

Whichever ``asgiref`` this interpreter imports (ours, or upstream's in its own
virtual environment) is the one measured. Each case times the operation and
its floor, the cheapest standard-library way to do the same work, alternately
in the same process, and prints one JSON line: seconds per operation for both.

    python cases.py <case> [--n N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_REPEATS = 5  # alternations of case and floor inside one process


def _noop() -> None:
    return None


async def _anoop() -> None:
    return None


def _time_sync(operation: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        operation()
    return (time.perf_counter() - started) / n


async def _time_async(operation: Callable[[], Awaitable[object]], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await operation()
    return (time.perf_counter() - started) / n


def _alternate(case: Callable[[], float], floor: Callable[[], float]) -> tuple[float, float]:
    """Median of several case/floor alternations (after one warm-up of each)."""
    case()
    floor()
    cases, floors = [], []
    for _ in range(_REPEATS):
        cases.append(case())
        floors.append(floor())
    return statistics.median(cases), statistics.median(floors)


async def _alternate_async(
    case: Callable[[], Awaitable[float]], floor: Callable[[], Awaitable[float]]
) -> tuple[float, float]:
    await case()
    await floor()
    cases, floors = [], []
    for _ in range(_REPEATS):
        cases.append(await case())
        floors.append(await floor())
    return statistics.median(cases), statistics.median(floors)


# --- sync_to_async ------------------------------------------------------------------


def s2a_sensitive_reused(n: int) -> tuple[float, float]:
    from asgiref.sync import sync_to_async

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        wrapped = sync_to_async(_noop)
        with ThreadPoolExecutor(1) as pool:
            return await _alternate_async(
                lambda: _time_async(wrapped, n),
                lambda: _time_async(lambda: loop.run_in_executor(pool, _noop), n),
            )

    return asyncio.run(main())


def s2a_sensitive_inline(n: int) -> tuple[float, float]:
    from asgiref.sync import sync_to_async

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as pool:
            return await _alternate_async(
                lambda: _time_async(lambda: sync_to_async(_noop)(), n),
                lambda: _time_async(lambda: loop.run_in_executor(pool, _noop), n),
            )

    return asyncio.run(main())


def s2a_insensitive_reused(n: int) -> tuple[float, float]:
    from asgiref.sync import sync_to_async

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        wrapped = sync_to_async(_noop, thread_sensitive=False)
        return await _alternate_async(
            lambda: _time_async(wrapped, n),
            lambda: _time_async(lambda: loop.run_in_executor(None, _noop), n),
        )

    return asyncio.run(main())


def _gather_1000(
    n: int, thread_sensitive: bool, floor_pool: ThreadPoolExecutor | None
) -> tuple[float, float]:
    """Per call: ``gather`` of 1,000 ``sync_to_async`` calls against ``gather``
    of 1,000 ``run_in_executor`` on ``floor_pool`` (None: the loop's default)."""
    from asgiref.sync import sync_to_async

    width = 1000
    rounds = max(1, n // width)

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        wrapped = sync_to_async(_noop, thread_sensitive=thread_sensitive)

        async def timed(call: Callable[[], Awaitable[object]]) -> float:
            started = time.perf_counter()
            for _ in range(rounds):
                await asyncio.gather(*(call() for _ in range(width)))
            return (time.perf_counter() - started) / (rounds * width)

        return await _alternate_async(
            lambda: timed(wrapped),
            lambda: timed(lambda: loop.run_in_executor(floor_pool, _noop)),
        )

    return asyncio.run(main())


def s2a_gather_1000(n: int) -> tuple[float, float]:
    with ThreadPoolExecutor(1) as pool:
        return _gather_1000(n, thread_sensitive=True, floor_pool=pool)


def s2a_gather_1000_insensitive(n: int) -> tuple[float, float]:
    return _gather_1000(n, thread_sensitive=False, floor_pool=None)


# --- async_to_sync ------------------------------------------------------------------


class _LoopThread:
    """An event loop running forever in a daemon thread: the floor's target."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coroutine_function: Callable[[], Awaitable[Any]]) -> Any:
        async def run() -> Any:
            return await coroutine_function()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def a2s_plain_thread(n: int) -> tuple[float, float]:
    from asgiref.sync import async_to_sync

    wrapped = async_to_sync(_anoop)
    target = _LoopThread()
    try:
        return _alternate(
            lambda: _time_sync(wrapped, n), lambda: _time_sync(lambda: target.call(_anoop), n)
        )
    finally:
        target.close()


def a2s_nested_in_s2a(n: int) -> tuple[float, float]:
    from asgiref.sync import async_to_sync, sync_to_async

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        wrapped = async_to_sync(_anoop)

        def in_worker() -> tuple[float, float]:
            return _alternate(
                lambda: _time_sync(wrapped, n),
                lambda: _time_sync(
                    lambda: asyncio.run_coroutine_threadsafe(_anoop(), loop).result(), n
                ),
            )

        return await sync_to_async(in_worker)()

    return asyncio.run(main())


def ping_pong_4(n: int) -> tuple[float, float]:
    """sync -> async -> sync -> async -> sync: four crossings per operation."""
    from asgiref.sync import async_to_sync, sync_to_async

    async def innermost() -> None:
        await sync_to_async(_noop)()

    def middle() -> None:
        async_to_sync(innermost)()

    async def outer() -> None:
        await sync_to_async(middle)()

    chain = async_to_sync(outer)

    target = _LoopThread()
    # Two workers: the floor's outer hop occupies one while the inner hop needs another.
    pool = ThreadPoolExecutor(2)

    async def floor_innermost() -> None:
        await asyncio.get_running_loop().run_in_executor(pool, _noop)

    def floor_middle() -> None:
        asyncio.run_coroutine_threadsafe(floor_innermost(), target.loop).result()

    async def floor_outer() -> None:
        await asyncio.get_running_loop().run_in_executor(pool, floor_middle)

    try:
        return _alternate(
            lambda: _time_sync(chain, n), lambda: _time_sync(lambda: target.call(floor_outer), n)
        )
    finally:
        target.close()
        pool.shutdown()


# --- Local ----------------------------------------------------------------------------


def _new_values(n: int, ours: Any) -> tuple[float, float]:
    """Set + get on ``ours`` (a ``Local``) against ``threading.local``, every write
    a value other than the one held."""
    floor_storage = threading.local()
    first, second = object(), object()

    # Two set + get pairs per operation, so each write replaces the other value.
    def op(storage: Any) -> Callable[[], object]:
        def both_values() -> object:
            storage.value = first
            _ = storage.value
            storage.value = second
            return storage.value

        return both_values

    case_op, floor_op = op(ours), op(floor_storage)
    return _alternate(lambda: _time_sync(case_op, n), lambda: _time_sync(floor_op, n))


def local_sync(n: int) -> tuple[float, float]:
    """``Local`` set + get in a plain thread, every write a value other than the
    one held (what users do; rewriting the same object is ``local_sync_same``)."""
    from asgiref.local import Local

    return _new_values(n, Local())


def local_sync_shared_name(n: int) -> tuple[float, float]:
    """As local_sync, with a second ``Local`` holding the same attribute name
    (Django's translation, timezone and urlconf ``Local``s all store
    ``.value``), which takes the shared-name path."""
    from asgiref.local import Local

    other = Local()
    other.value = None
    return _new_values(n, Local())


def local_sync_same(n: int) -> tuple[float, float]:
    """As local_sync, but every write stores the object already held (which a
    ``Local`` may answer without a context-variable write)."""
    from asgiref.local import Local

    ours, floor_storage = Local(), threading.local()

    def case_op() -> object:
        ours.value = 1
        return ours.value

    def floor_op() -> object:
        floor_storage.value = 1
        return floor_storage.value

    return _alternate(lambda: _time_sync(case_op, n), lambda: _time_sync(floor_op, n))


def local_async(n: int) -> tuple[float, float]:
    from asgiref.local import Local

    ours = Local()
    variable: contextvars.ContextVar[int] = contextvars.ContextVar("floor")

    async def main() -> tuple[float, float]:
        def case() -> float:
            started = time.perf_counter()
            for _ in range(n):
                ours.value = 1
                _ = ours.value
            return (time.perf_counter() - started) / n

        def floor() -> float:
            started = time.perf_counter()
            for _ in range(n):
                variable.set(1)
                _ = variable.get()
            return (time.perf_counter() - started) / n

        return _alternate(case, floor)

    return asyncio.run(main())


def local_across_crossing(n: int) -> tuple[float, float]:
    from asgiref.local import Local
    from asgiref.sync import sync_to_async

    ours = Local()
    variable: contextvars.ContextVar[int] = contextvars.ContextVar("floor")

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        read = sync_to_async(lambda: ours.value)
        with ThreadPoolExecutor(1) as pool:

            async def case_op() -> object:
                ours.value = 1
                return await read()

            async def floor_op() -> object:
                variable.set(1)
                context = contextvars.copy_context()
                return await loop.run_in_executor(pool, context.run, variable.get)

            return await _alternate_async(
                lambda: _time_async(case_op, n), lambda: _time_async(floor_op, n)
            )

    return asyncio.run(main())


# --- WsgiToAsgi in process --------------------------------------------------------------


def _hello_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


async def _hello_asgi(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"127.0.0.1")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


async def _one_request(app: Any) -> None:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # a client that stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        return None

    await app(dict(_SCOPE), receive, send)


def wsgi_in_process(n: int) -> tuple[float, float]:
    from asgiref.wsgi import WsgiToAsgi

    adapter = WsgiToAsgi(_hello_wsgi)

    async def main() -> tuple[float, float]:
        return await _alternate_async(
            lambda: _time_async(lambda: _one_request(adapter), n),
            lambda: _time_async(lambda: _one_request(_hello_asgi), n),
        )

    return asyncio.run(main())


# --- import time -----------------------------------------------------------------------


def _import_times(code: str) -> tuple[dict[str, int], dict[str, int]]:
    """Cumulative microseconds of the imports ``python -c code`` makes: of the
    top-level ones, and of every module by name (nested ones included)."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    top_level: dict[str, int] = {}
    every: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        cumulative = parts[1].strip() if len(parts) == 3 else ""
        if not cumulative.isdigit():
            continue
        name = parts[2].strip()
        every[name] = int(cumulative)
        # Nesting is shown by indentation: one space before a top-level name.
        if parts[2].startswith(" ") and not parts[2].startswith("  "):
            top_level[name] = int(cumulative)
    return top_level, every


def _import_seconds(top_level: dict[str, int], startup: frozenset[str]) -> float:
    # Everything the snippet imports, lazily loaded submodules included; the
    # interpreter's own start-up imports are left out.
    return sum(t for name, t in top_level.items() if name not in startup) / 1e6


def _import_case(code: str, floor_code: str, n: int) -> tuple[float, float]:
    """(case, floor) seconds of the fresh interpreter, of ``n``, whose ratio is
    the median one.

    The floor is paired with the case where it can be: when the statement
    imports the floor module itself (``import asgiref.sync`` imports asyncio
    first thing), the floor is that module's own time in the same process,
    so both share that process's speed (between processes it varies far more
    than the difference measured). Otherwise the floor statement runs in a
    fresh interpreter of its own, right after.
    """
    startup = frozenset(_import_times("pass")[0])
    floor_module = floor_code.removeprefix("import ")
    runs: list[tuple[float, float]] = []
    for _ in range(max(1, n)):
        top_level, every = _import_times(code)
        case = _import_seconds(top_level, startup)
        if floor_module in every and floor_module not in startup:
            floor = every[floor_module] / 1e6
        else:
            floor = _import_seconds(_import_times(floor_code)[0], startup)
        runs.append((case, floor))
    runs.sort(key=lambda run: run[0] / run[1])
    return runs[len(runs) // 2]


def import_sync(n: int) -> tuple[float, float]:
    return _import_case("import asgiref.sync", "import asyncio", n)


def import_typing(n: int) -> tuple[float, float]:
    return _import_case("import asgiref.typing", "import typing", n)


def import_typing_first_use(n: int) -> tuple[float, float]:
    return _import_case("from asgiref.typing import HTTPScope", "import typing", n)


def import_wsgi(n: int) -> tuple[float, float]:
    return _import_case("import asgiref.wsgi", "import asyncio", n)


CASES: dict[str, Callable[[int], tuple[float, float]]] = {
    "s2a_sensitive_reused": s2a_sensitive_reused,
    "s2a_sensitive_inline": s2a_sensitive_inline,
    "s2a_insensitive_reused": s2a_insensitive_reused,
    "s2a_gather_1000": s2a_gather_1000,
    "s2a_gather_1000_insensitive": s2a_gather_1000_insensitive,
    "a2s_plain_thread": a2s_plain_thread,
    "a2s_nested_in_s2a": a2s_nested_in_s2a,
    "ping_pong_4": ping_pong_4,
    "local_sync": local_sync,
    "local_sync_same": local_sync_same,
    "local_sync_shared_name": local_sync_shared_name,
    "local_async": local_async,
    "local_across_crossing": local_across_crossing,
    "wsgi_in_process": wsgi_in_process,
    "import_sync": import_sync,
    "import_typing": import_typing,
    "import_typing_first_use": import_typing_first_use,
    "import_wsgi": import_wsgi,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    case_seconds, floor_seconds = CASES[args.case](args.n)
    print(json.dumps({"case": case_seconds, "floor": floor_seconds}))


if __name__ == "__main__":
    main()
