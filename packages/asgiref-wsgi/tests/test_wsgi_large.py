"""A 1 GB upload and a 1 GB download through uvicorn, with flat server memory.

The server runs in its own process (module-scoped: this module gets a fresh
one) so its peak RSS (VmHWM in /proc) can be read before and after each transfer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

GIB = 1 << 30
MIB = 1 << 20
ALLOWED_GROWTH_KIB = 50 * 1024


def _warm_up(server: Any) -> int:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        client.post("/upload", content=b"w" * MIB)
        client.get("/stream?size=4000000")
    peak: int = server.status_kib("VmHWM")
    return peak


def test_one_gigabyte_upload_keeps_memory_flat(uvicorn_server: Any) -> None:
    baseline = _warm_up(uvicorn_server)
    block = b"u" * MIB

    def body() -> Iterator[bytes]:
        for _ in range(GIB // MIB):
            yield block

    started = time.monotonic()
    response = httpx.post(
        uvicorn_server.url + "/upload",
        content=body(),
        headers={"Content-Length": str(GIB)},
        timeout=120,
    )
    elapsed = time.monotonic() - started
    growth = uvicorn_server.status_kib("VmHWM") - baseline
    assert response.text == str(GIB)
    assert growth < ALLOWED_GROWTH_KIB, f"server peak RSS grew {growth} KiB"
    print(f"1 GiB upload: {elapsed:.1f} s, peak RSS growth {growth / 1024:.1f} MiB")


def test_one_gigabyte_streamed_response_keeps_memory_flat(uvicorn_server: Any) -> None:
    baseline = _warm_up(uvicorn_server)
    started = time.monotonic()
    received = 0
    with httpx.stream("GET", uvicorn_server.url + f"/stream?size={GIB}", timeout=120) as response:
        for chunk in response.iter_raw(MIB):
            received += len(chunk)
    elapsed = time.monotonic() - started
    growth = uvicorn_server.status_kib("VmHWM") - baseline
    assert received == GIB
    assert growth < ALLOWED_GROWTH_KIB, f"server peak RSS grew {growth} KiB"
    print(f"1 GiB download: {elapsed:.1f} s, peak RSS growth {growth / 1024:.1f} MiB")
