"""The demo's HTTP checks: real requests against the served Flask app.

Each check returns a ``Check`` whose ``ok`` is decided by what the client
observed, and whose figures name what they are compared with. ``run_all``
runs them against one ``Launch``: first a server with lifespan on, then one
with uvicorn's defaults for the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import httpx

from demo.outcome import Check
from demo.serve import FLOOR_PATH
from demo.servers import Launch, Server
from demo.webapp import GREETING, HOLD_SECONDS, SLOW_SECONDS, STREAM_CHUNK, STREAM_CHUNKS

KEEP_ALIVE_REQUESTS = 200
UPLOAD_BYTES = 8 * 1024 * 1024
_UPLOAD_PIECE = 1024 * 1024
CONCURRENT_REQUESTS = 8
_TIMEOUT = 30.0

LIFESPAN = 'starts and stops with lifespan="on"'
GET = "GET /"
KEEP_ALIVE = f"{KEEP_ALIVE_REQUESTS} keep-alive requests"
UPLOAD = f"{UPLOAD_BYTES // 1024 // 1024} MiB upload, read while it arrives"
STREAM = "streamed response"
CONCURRENCY = f"{CONCURRENT_REQUESTS} concurrent {SLOW_SECONDS} s requests"
LABELS = (LIFESPAN, GET, KEEP_ALIVE, UPLOAD, STREAM, CONCURRENCY)


def check_lifespan(launch: Launch) -> Check:
    with launch.running(lifespan="on") as server:
        if not server.started:
            return Check(LIFESPAN, False, f"uvicorn did not start: {server.startup_failure()}")
        status = httpx.get(server.base + "/", timeout=_TIMEOUT).status_code
    log = server.log()
    started = "Application startup complete" in log
    shut_down = "Application shutdown complete" in log and server.process.returncode == 0
    return Check(
        LIFESPAN,
        started and status == 200 and shut_down,
        f"startup {'complete' if started else 'NOT reported'}, GET / answered {status},"
        f" shutdown {'complete' if shut_down else 'NOT complete'}"
        f" (exit status {server.process.returncode})",
    )


def check_get(base: str) -> Check:
    response = httpx.get(base + "/", timeout=_TIMEOUT)
    ok = response.status_code == 200 and response.text == GREETING
    return Check(GET, ok, f"{response.status_code} {response.text.strip()[:60]!r}")


def _requests_per_second(client: httpx.Client, path: str, count: int) -> tuple[float, Counter[int]]:
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    for _ in range(count):
        statuses[client.get(path).status_code] += 1
    return count / (time.perf_counter() - started), statuses


def check_keep_alive(base: str) -> Check:
    connections: set[object] = set()

    def note_connection(response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        connections.add(stream.get_extra_info("client_addr") if stream else None)

    with httpx.Client(
        base_url=base, timeout=_TIMEOUT, event_hooks={"response": [note_connection]}
    ) as client:
        rate, statuses = _requests_per_second(client, "/", KEEP_ALIVE_REQUESTS)
        with_app = set(connections)
        floor, floor_statuses = _requests_per_second(client, FLOOR_PATH, KEEP_ALIVE_REQUESTS)
    one_connection = len(with_app) == 1 and None not in with_app
    ok = statuses == Counter({200: KEEP_ALIVE_REQUESTS}) and one_connection
    floor_text = (
        f"{floor:.0f} req/s"
        if floor_statuses == Counter({200: KEEP_ALIVE_REQUESTS})
        else _answered(floor_statuses)
    )
    return Check(
        KEEP_ALIVE,
        ok,
        f"{_answered(statuses)}, {_connections(len(with_app))}, {rate:.0f} req/s"
        f" (floor, a bare ASGI app on the same server: {floor_text})",
    )


def _answered(statuses: Counter[int]) -> str:
    if len(statuses) == 1:
        ((status, count),) = statuses.items()
        return f"all {count} answered {status}"
    return ", ".join(f"{count} answered {status}" for status, count in sorted(statuses.items()))


def _connections(count: int) -> str:
    return "on one connection" if count == 1 else f"on {count} connections"


def check_upload(base: str) -> Check:
    token = uuid.uuid4().hex
    body = bytes(range(256)) * (UPLOAD_BYTES // 256)
    seen_early: list[int] = []

    def pieces() -> Iterator[bytes]:
        # Send the first piece, then wait until the app has started reading
        # before sending the rest: an adapter that collects the whole body
        # before calling the app never lets it start.
        yield body[:_UPLOAD_PIECE]
        deadline = time.monotonic() + HOLD_SECONDS
        with httpx.Client(base_url=base, timeout=_TIMEOUT) as observer:
            while time.monotonic() < deadline:
                progress = observer.get("/upload-progress", params={"token": token})
                received = progress.json().get("received", 0) if progress.is_success else 0
                if received:
                    seen_early.append(received)
                    break
                time.sleep(0.02)
        for start in range(_UPLOAD_PIECE, len(body), _UPLOAD_PIECE):
            yield body[start : start + _UPLOAD_PIECE]

    response = httpx.post(
        base + "/upload", params={"token": token}, content=pieces(), timeout=_TIMEOUT
    )
    result = response.json() if response.status_code == 200 else {}
    intact = result.get("sha256") == hashlib.sha256(body).hexdigest()
    ok = bool(seen_early) and intact and result.get("received") == len(body)
    if seen_early:
        when = f"it started while {len(body) // _UPLOAD_PIECE - 1} MiB were still to come"
    else:
        when = f"it had not started {HOLD_SECONDS:.0f} s after the first MiB arrived"
    return Check(
        UPLOAD,
        ok,
        f"{response.status_code}, the app read {result.get('received')} of the {len(body)} bytes"
        f" sent ({'same' if intact else 'NOT the same'} sha-256); {when}",
    )


def check_streamed_response(base: str) -> Check:
    token = uuid.uuid4().hex
    expected = STREAM_CHUNKS * len(STREAM_CHUNK)
    release_timeout = HOLD_SECONDS + 2
    with (
        httpx.Client(base_url=base, timeout=_TIMEOUT) as client,
        client.stream("GET", "/stream", params={"token": token}) as streamed,
    ):
        pieces = streamed.iter_bytes()
        first = next(pieces, b"")
        # The app holds the rest until it is released: if the first bytes
        # got here only now, the adapter waited for the whole response.
        try:
            held = httpx.post(base + "/release", params={"token": token}, timeout=release_timeout)
        except httpx.TimeoutException:
            return Check(
                STREAM,
                False,
                f"the first {len(first)} bytes arrived, but a second request got no answer"
                f" within {release_timeout:.0f} s while the app held this response",
            )
        size = len(first) + sum(len(piece) for piece in pieces)
    stream_was = held.json().get("stream_was") if held.status_code == 200 else None
    ok = size == expected and stream_was == "holding"
    state = (
        "the first bytes arrived while the app held back the rest"
        if stream_was == "holding"
        else f"the first bytes arrived only once the app had {stream_was}"
    )
    return Check(STREAM, ok, f"{size} of {expected} bytes; {state}")


def check_concurrency(base: str) -> Check:
    async def burst() -> tuple[float, set[str], Counter[int]]:
        async with httpx.AsyncClient(base_url=base, timeout=_TIMEOUT) as client:
            started = time.perf_counter()
            requests = (client.get("/slow") for _ in range(CONCURRENT_REQUESTS))
            responses = await asyncio.gather(*requests)
            elapsed = time.perf_counter() - started
        threads = {r.json()["thread"] for r in responses if r.status_code == 200}
        return elapsed, threads, Counter(r.status_code for r in responses)

    elapsed, threads, statuses = asyncio.run(burst())
    one_at_a_time = CONCURRENT_REQUESTS * SLOW_SECONDS
    # Well under the serial time, with room for a loaded 2-core machine.
    ok = statuses == Counter({200: CONCURRENT_REQUESTS}) and elapsed < one_at_a_time * 0.75
    return Check(
        CONCURRENCY,
        ok,
        f"done in {elapsed:.2f} s (one at a time: {one_at_a_time:.1f} s, all at once:"
        f" {SLOW_SECONDS:.1f} s), on {len(threads)} worker thread(s) for"
        f" {CONCURRENT_REQUESTS} requests",
    )


_ON_DEFAULTS: tuple[tuple[str, Callable[[str], Check]], ...] = (
    (GET, check_get),
    (KEEP_ALIVE, check_keep_alive),
    (UPLOAD, check_upload),
    (STREAM, check_streamed_response),
    (CONCURRENCY, check_concurrency),
)


def _guarded(label: str, check: Callable[[str], Check], base: str) -> Check:
    """The check's outcome; a request that failed outright fails the check."""
    try:
        return check(base)
    except httpx.HTTPError as error:
        return Check(label, False, f"a request failed: {type(error).__name__}: {error}")


def _with_server_error(check: Check, server: Server, since: int) -> Check:
    """A failed check, with the exception the server logged meanwhile, if any."""
    logged = server.last_exception(since)
    if check.ok or logged is None:
        return check
    return Check(check.label, check.ok, f"{check.detail}; server log: {logged}")


def run_all(launch: Launch) -> list[Check]:
    """Every HTTP check against ``launch``, in the order of ``LABELS``."""
    checks = [_guarded(LIFESPAN, lambda _: check_lifespan(launch), "")]
    with launch.running() as server:
        if not server.started:
            reason = server.startup_failure()
            return [
                *checks,
                *(
                    Check(label, False, f"not run: the server did not start ({reason})")
                    for label in LABELS[1:]
                ),
            ]
        for label, check in _ON_DEFAULTS:
            since = server.log_size()
            outcome = _guarded(label, check, server.base)
            checks.append(_with_server_error(outcome, server, since))
    return checks
