"""Uploads whose reader steps aside in the pool: what they hold, and what they still see.

A reader waiting for its client gives its run slot up when another request
wants one; its pump then stops receiving, so the client's next bytes stay with
the server (flow-controlled there) instead of in the adapter, however many
uploads have started. These tests pin that down, and that stepping aside loses
no message, no disconnect and no timeout.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import wait
from typing import Any

import pytest

from asgiref.wsgi import ClientDisconnected, WsgiToAsgi
from asgiref.wsgi._pool import WorkerPool

pytestmark = pytest.mark.timeout(30)

StartResponse = Any
Environ = dict[str, Any]
_PIECE = 64 * 1024


def _upload_scope(scope_for: Any, length: int) -> dict[str, Any]:
    scope: dict[str, Any] = scope_for(
        method="POST",
        path="/upload",
        raw_path=b"/upload",
        headers=[(b"content-length", str(length).encode())],
    )
    return scope


def _piece(more: bool = True) -> dict[str, Any]:
    return {"type": "http.request", "body": b"u" * _PIECE, "more_body": more}


class _App:
    """``/upload`` reads its body and answers its length (``first_read`` after 64 KiB);
    ``/hold`` keeps its run slot until ``release`` (``holding`` once it runs)."""

    def __init__(self) -> None:
        self.first_read = threading.Event()
        self.holding = threading.Event()
        self.release = threading.Event()
        self.errors: list[BaseException] = []

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/hold":
            self.holding.set()
            self.release.wait(10)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"held"]
        total = 0
        try:
            while piece := environ["wsgi.input"].read(_PIECE):
                total += len(piece)
                self.first_read.set()
        except OSError as error:
            self.errors.append(error)
            raise
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(total).encode()]


async def _wait(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 5)


def _body(exchange: Any) -> bytes:
    return b"".join(message.get("body", b"") for message in exchange.drain()[1:])


async def _take_the_slot(exchange_for: Any, adapter: Any, scope_for: Any, app: _App) -> Any:
    """A request that holds the only run slot (until ``app.release``)."""
    holder = exchange_for(adapter, scope_for(path="/hold", raw_path=b"/hold"))
    holder.push({"type": "http.request", "body": b"", "more_body": False})
    await _wait(app.holding)
    return holder


async def _end_with_the_last_piece(app: _App, holder: Any, upload: Any) -> None:
    """The upload's client sends its last piece, the holder lets go: the whole body is read."""
    upload.push(_piece(more=False))
    app.release.set()
    await holder.finish()
    await upload.finish()
    assert _body(upload) == str(3 * _PIECE).encode()


async def _park_upload_behind_a_holder(
    exchange_for: Any, scope_for: Any, app: _App, **options: Any
) -> tuple[Any, Any]:
    """An upload that read 64 KiB and waits for more, then a request that takes
    the only slot (so the upload steps aside): both exchanges."""
    adapter = WsgiToAsgi(app, max_workers=1, **options)
    upload = exchange_for(adapter, _upload_scope(scope_for, 3 * _PIECE))
    upload.push(_piece())
    await _wait(app.first_read)
    return upload, await _take_the_slot(exchange_for, adapter, scope_for, app)


async def test_a_reader_that_stepped_aside_leaves_its_clients_bytes_with_the_server(
    exchange_for: Any, scope_for: Any
) -> None:
    app = _App()
    upload, holder = await _park_upload_behind_a_holder(exchange_for, scope_for, app)
    upload.push(_piece())
    await asyncio.sleep(0.3)
    # Taken now, it would sit in the adapter for as long as the other request
    # runs: under load, one such message per started upload.
    assert upload.inbound.qsize() == 1, "a reader without a slot had its client's bytes taken"
    await _end_with_the_last_piece(app, holder, upload)


async def test_time_spent_stepped_aside_is_not_the_clients_delay(
    exchange_for: Any, scope_for: Any
) -> None:
    # client_timeout counts how long the client is asked for bytes and sends
    # none; while the reader waits for a slot nothing is asked of it.
    app = _App()
    upload, holder = await _park_upload_behind_a_holder(
        exchange_for, scope_for, app, client_timeout=0.5
    )
    await asyncio.sleep(1.0)
    app.release.set()
    await holder.finish()
    upload.push(_piece())
    upload.push(_piece(more=False))
    await upload.finish()
    assert app.errors == []
    assert _body(upload) == str(3 * _PIECE).encode()


async def test_a_disconnect_while_stepped_aside_reaches_the_reader(
    exchange_for: Any, scope_for: Any
) -> None:
    app = _App()
    upload, holder = await _park_upload_behind_a_holder(exchange_for, scope_for, app)
    upload.push({"type": "http.disconnect"})
    await asyncio.sleep(0.1)
    app.release.set()
    await holder.finish()
    await upload.finish()
    assert [type(error) for error in app.errors] == [ClientDisconnected]


async def test_a_message_that_comes_as_the_reader_steps_aside_is_kept(
    exchange_for: Any, scope_for: Any
) -> None:
    # A server whose receive() finishes with the message although it was
    # cancelled (it had the message already): the pump must still buffer it.
    app = _App()
    adapter = WsgiToAsgi(app, max_workers=1)
    late: list[dict[str, Any]] = []

    async def server(scope: Any, receive: Callable[[], Any], send: Any) -> None:
        async def receive_returning_late_messages() -> Any:
            try:
                return await receive()
            except asyncio.CancelledError:
                if late:
                    return late.pop()
                raise

        await adapter(scope, receive_returning_late_messages, send)

    upload = exchange_for(server, _upload_scope(scope_for, 3 * _PIECE))
    upload.push(_piece())
    await _wait(app.first_read)
    late.append(_piece())
    holder = await _take_the_slot(exchange_for, adapter, scope_for, app)
    assert not late, "the reader stepped aside without its receive() being cancelled"
    await _end_with_the_last_piece(app, holder, upload)


async def test_stalled_uploads_taking_turns_still_time_out_without_spinning(
    exchange_for: Any, scope_for: Any
) -> None:
    # Three stalled uploads share one slot: each receives in turn, and the
    # time it was asked for bytes adds up across turns until client_timeout.
    app = _App()
    adapter = WsgiToAsgi(app, max_workers=1, client_timeout=1.0)
    uploads = [exchange_for(adapter, _upload_scope(scope_for, 3 * _PIECE)) for _ in range(3)]
    for upload in uploads:
        upload.push(_piece())
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(asyncio.gather(*(upload.finish() for upload in uploads)), 15)
    elapsed = asyncio.get_running_loop().time() - started
    assert len(app.errors) == 3
    assert all(isinstance(error, TimeoutError) for error in app.errors), app.errors
    for upload in uploads:
        assert upload.drain()[0]["status"] == 408
        # Turns come at most every _KEEP_SLOT_WAIT_MAX: no busy loop of receives.
        assert upload.receive_calls <= 4 + 2 * elapsed / 0.5, upload.receive_calls


def test_a_job_that_steps_aside_comes_back_after_the_jobs_queued_before_it() -> None:
    pool = WorkerPool(1)
    order: list[str] = []
    queued = threading.Event()

    def reader() -> None:
        queued.wait(5)
        pool.step_aside()
        order.append("reader back")

    try:
        first = pool.submit(reader)
        waiting = pool.submit(order.append, "queued before")
        queued.set()
        wait([first, waiting], 5)
        later = pool.submit(order.append, "queued after")
        wait([later], 5)
        assert order == ["queued before", "reader back", "queued after"]
        first.result()
    finally:
        pool.shutdown()
