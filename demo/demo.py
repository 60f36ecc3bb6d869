"""The project's main job, end to end: a WSGI app served under an ASGI server.

A Flask application is wrapped in ``asgiref.wsgi.WsgiToAsgi``, served by
uvicorn on 127.0.0.1, and driven with real HTTP requests from httpx; then the
sync/async bridge makes a round trip. Every line of the report is measured in
this run. ``--serve`` keeps the server running until Ctrl-C instead.

    hatch run demo            # run the checks and print the report
    hatch run demo --serve    # serve http://127.0.0.1:8000/ until Ctrl-C
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator

import flask
import httpx
import uvicorn

from asgiref.local import Local
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.wsgi import WsgiToAsgi

_STREAM_CHUNKS = 64
_CHUNK = b"x" * 65536


def build_flask_app() -> flask.Flask:
    app = flask.Flask("asgiref-demo")

    @app.get("/")
    def hello() -> str:
        return "Hello from Flask, served through asgiref.wsgi.WsgiToAsgi\n"

    @app.post("/upload")
    def upload() -> dict[str, int]:
        # Read the body as it arrives, in pieces, as a streaming upload handler does.
        received = 0
        stream = flask.request.stream
        while chunk := stream.read(65536):
            received += len(chunk)
        return {"received": received}

    @app.get("/stream")
    def stream() -> flask.Response:
        def generate() -> Iterator[bytes]:
            for _ in range(_STREAM_CHUNKS):
                yield _CHUNK

        return flask.Response(generate(), mimetype="application/octet-stream")

    @app.get("/slow")
    def slow() -> dict[str, str]:
        time.sleep(0.5)
        return {"thread": threading.current_thread().name}

    return app


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(app: WsgiToAsgi, port: int) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 15 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class Report:
    def __init__(self) -> None:
        self.failures = 0

    def check(self, label: str, ok: bool, detail: str) -> None:
        self.failures += not ok
        print(f"  [{'ok' if ok else 'FAIL'}] {label}: {detail}")


def drive_http(base: str, report: Report) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        hello = client.get("/")
        report.check(
            "GET /", hello.status_code == 200, f"{hello.status_code} {hello.text.strip()!r}"
        )

        started = time.perf_counter()
        for _ in range(200):
            client.get("/").raise_for_status()
        elapsed = time.perf_counter() - started
        report.check(
            "200 keep-alive requests", True, f"{200 / elapsed:.0f} req/s on one connection"
        )

        body = b"y" * (8 * 1024 * 1024)
        upload = client.post("/upload", content=body)
        received = upload.json().get("received") if upload.status_code == 200 else None
        report.check("8 MiB upload, read in pieces", received == len(body), f"app read {received}")

        with client.stream("GET", "/stream") as streamed:
            size = sum(len(piece) for piece in streamed.iter_bytes())
        expected = _STREAM_CHUNKS * len(_CHUNK)
        report.check("streamed response", size == expected, f"{size} of {expected} bytes")

    async def slow_burst(count: int) -> tuple[float, set[str]]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            started = time.perf_counter()
            responses = await asyncio.gather(*(client.get("/slow") for _ in range(count)))
            threads = {r.json()["thread"] for r in responses if r.status_code == 200}
            return time.perf_counter() - started, threads

    count = 8
    serial = count * 0.5
    elapsed, threads = asyncio.run(slow_burst(count))
    report.check(
        f"{count} concurrent 0.5 s requests",
        elapsed < serial * 0.75,
        f"done in {elapsed:.2f} s (serially: {serial:.1f} s) on {len(threads)} worker threads",
    )


request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
state = Local()


def drive_bridge(report: Report) -> None:
    main_thread = threading.current_thread()
    seen: dict[str, object] = {}

    async def async_inner() -> str:
        seen["inner_loop_running"] = asyncio.get_running_loop().is_running()
        # A thread-sensitive call from here comes back to the outermost sync thread.
        return await sync_to_async(lambda: threading.current_thread().name)()

    def sync_middle() -> str:
        seen["middle_thread"] = threading.current_thread().name
        state.user = "alice"
        request_id.set("req-42")
        return async_to_sync(async_inner)()

    async def async_outer() -> str:
        return await sync_to_async(sync_middle)()

    started = time.perf_counter()
    innermost_thread = async_to_sync(async_outer)()
    elapsed = time.perf_counter() - started
    report.check(
        "async_to_sync -> sync_to_async -> async_to_sync -> sync_to_async",
        innermost_thread == main_thread.name and seen["middle_thread"] == main_thread.name,
        f"thread-sensitive code ran on {innermost_thread!r} ({elapsed * 1000:.1f} ms)",
    )
    report.check(
        "context flows back across the bridge",
        request_id.get(None) == "req-42" and getattr(state, "user", None) == "alice",
        f"request_id={request_id.get(None)!r}, Local.user={getattr(state, 'user', None)!r}",
    )

    square: Callable[[int], int] = async_to_sync(_async_square)
    started = time.perf_counter()
    total = sum(square(n) for n in range(1000))
    per_call = (time.perf_counter() - started) / 1000
    report.check(
        "1,000 async_to_sync calls from a plain thread",
        total == sum(n * n for n in range(1000)),
        f"{per_call * 1e6:.0f} us per call",
    )


async def _async_square(n: int) -> int:
    return n * n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serve", action="store_true", help="keep serving until Ctrl-C")
    parser.add_argument("--port", type=int, default=0, help="port (default: 8000 with --serve)")
    args = parser.parse_args(argv)

    application = WsgiToAsgi(build_flask_app())
    if args.serve:
        port = args.port or 8000
        print(f"Serving the Flask demo through WsgiToAsgi on http://127.0.0.1:{port}/")
        uvicorn.run(application, host="127.0.0.1", port=port, log_level="info")
        return 0

    report = Report()
    port = args.port or _free_port()
    print(f"WSGI (Flask) through asgiref.wsgi.WsgiToAsgi under uvicorn, 127.0.0.1:{port}")
    with running_server(application, port) as base:
        drive_http(base, report)
    print("Sync/async bridge (asgiref.sync)")
    drive_bridge(report)
    verdict = "all checks passed" if not report.failures else f"{report.failures} check(s) FAILED"
    print(f"Demo finished: {verdict}.")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
