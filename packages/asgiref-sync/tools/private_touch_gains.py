"""What each private touch of asgiref-sync saves (see asgiref.local._cpython).

    python packages/asgiref-sync/tools/private_touch_gains.py ROUNDS TOUCH:CASE[,TOUCH:CASE...]

Run with the Python of an environment that has this tree installed. Each round
runs, per pair, one process with the touch in use and one with it forced to
its public fallback (``ASGIREF_SYNC_PUBLIC_API=<touch>``), alternating which
goes first; a process times its case in 15 batches and reports the median
time per call. Printed per pair: the median of the per-round ratios off/on
and their spread (the machine is shared: compare only within one run).
Cases: local_critical (thread-critical Local set+get in sync code),
a2s_plain (async_to_sync from a plain thread), a2s_nested (async_to_sync
inside sync_to_async), s2a_reused (a reused thread-sensitive sync_to_async).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

_CHILD = r"""
import asyncio, statistics, sys, time
import asgiref.local, asgiref.sync

case = sys.argv[1]

def batches(fn, n):
    times = []
    for _ in range(15):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - start) / n)
    return statistics.median(times)

async def noop():
    return 1

async def awaited(make, n):
    times = []
    for _ in range(15):
        start = time.perf_counter()
        await make(n)
        times.append((time.perf_counter() - start) / n)
    return statistics.median(times)

async def reused(n):
    for _ in range(n):
        await wrapper()

if case == "local_critical":
    local = asgiref.local.Local(thread_critical=True)
    def access():
        local.x = 1
        return local.x
    print(batches(access, 20000))
elif case == "a2s_plain":
    call = asgiref.sync.async_to_sync(noop)
    call()
    print(batches(call, 300))
elif case == "s2a_reused":
    wrapper = asgiref.sync.sync_to_async(lambda: 1)
    print(asyncio.run(awaited(reused, 300)))
elif case == "a2s_nested":
    inner = asgiref.sync.async_to_sync(noop)
    def many(n):
        for _ in range(n):
            inner()
    async def nested(n):
        await asgiref.sync.sync_to_async(many)(n)
    print(asyncio.run(awaited(nested, 300)))
"""


def _time(touch: str, case: str, private: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "ASGIREF_SYNC_PUBLIC_API"}
    if not private:
        env["ASGIREF_SYNC_PUBLIC_API"] = touch
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, case], capture_output=True, text=True, env=env, check=True
    )
    return float(proc.stdout)


def main() -> None:
    rounds = int(sys.argv[1])
    pairs = [tuple(pair.split(":", 1)) for pair in sys.argv[2].split(",")]
    times: dict[tuple[str, ...], dict[bool, list[float]]] = {
        pair: {True: [], False: []} for pair in pairs
    }
    for number in range(rounds):
        for pair in pairs:
            touch, case = pair
            for private in (True, False) if number % 2 == 0 else (False, True):
                times[pair][private].append(_time(touch, case, private))
    print(f"Python {sys.version.split()[0]}, {rounds} rounds")
    for (touch, case), measured in times.items():
        ratios = [off / on for on, off in zip(measured[True], measured[False], strict=True)]
        print(
            f"{touch:14} {case:15} off/on {statistics.median(ratios):.3f} "
            f"(spread {min(ratios):.3f}-{max(ratios):.3f})"
        )


if __name__ == "__main__":
    main()
