"""HTTP/1.1 keep-alive load generator: requests per second, p99 latency, errors.

A small asyncio client rather than a third-party tool, so the load is the same
for every server and needs nothing outside the standard library. Each of N
connections sends one request at a time for a fixed time; a response other
than 200, or a connection that breaks mid-request, is an error. A connection
the server closes cleanly between requests (``Connection: close``) is reopened
without counting an error. Cookies a response sets are sent back on the same
connection, as a browser would, so a session view reads and writes one row.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

_LINE_LIMIT = 1 << 20


@dataclass(frozen=True)
class Request:
    path: str = "/"
    method: str = "GET"
    body: bytes = b""


@dataclass
class LoadResult:
    requests_per_second: float
    p99_ms: float
    errors: int


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def _head(request: Request, cookie: bytes) -> bytes:
    lines = [f"{request.method} {request.path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    if request.body or request.method == "POST":
        lines.append(b"Content-Type: application/octet-stream")
        lines.append(f"Content-Length: {len(request.body)}".encode())
    if cookie:
        lines.append(b"Cookie: " + cookie)
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _drain_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        await reader.readexactly(size + 2)  # the chunk and its CRLF
        if size == 0:
            return


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bool]:
    """Reads one whole response: (status, headers, whether the server closes)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
    headers: dict[bytes, bytes] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        # Several Set-Cookie lines: keep them all, separated for _cookie().
        headers[key] = headers[key] + b"\n" + value.strip() if key in headers else value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        await _drain_chunked(reader)
    elif b"content-length" in headers:
        remaining = int(headers[b"content-length"])
        while remaining:
            remaining -= len(await reader.read(min(remaining, 1 << 18)))
            if reader.at_eof() and remaining:
                raise asyncio.IncompleteReadError(b"", remaining)
    closes = headers.get(b"connection", b"").lower() == b"close"
    return int(status_line.split()[1]), headers, closes


def _cookie(headers: dict[bytes, bytes], previous: bytes) -> bytes:
    set_cookie = headers.get(b"set-cookie")
    if not set_cookie:
        return previous
    return b"; ".join(line.split(b";", 1)[0] for line in set_cookie.split(b"\n"))


async def _connection(port: int, request: Request, stop_at: float, tally: _Tally) -> None:
    cookie = b""
    while time.perf_counter() < stop_at:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=_LINE_LIMIT)
        except OSError:
            tally.errors += 1  # the server is gone or refuses: counted, retried shortly
            await asyncio.sleep(0.05)
            continue
        try:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                writer.write(_head(request, cookie))
                if request.body:
                    writer.write(request.body)
                await writer.drain()
                status, headers, closes = await _response(reader)
                tally.latencies.append(time.perf_counter() - started)
                if status != 200:
                    tally.errors += 1
                cookie = _cookie(headers, cookie)
                if closes:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            tally.errors += 1
        finally:
            writer.close()


async def _load(port: int, request: Request, connections: int, seconds: float) -> LoadResult:
    tally = _Tally()
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(_connection(port, request, stop_at, tally) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ok = len(tally.latencies) - tally.errors
    p99 = (
        statistics.quantiles(tally.latencies, n=100)[98] if len(tally.latencies) > 1 else 0.0
    ) * 1000
    return LoadResult(ok / elapsed, p99, tally.errors)


def load(port: int, request: Request, connections: int, seconds: float) -> LoadResult:
    """Keeps ``connections`` keep-alive connections busy with ``request`` for
    ``seconds`` (the last requests may finish a little later)."""
    return asyncio.run(_load(port, request, connections, seconds))
