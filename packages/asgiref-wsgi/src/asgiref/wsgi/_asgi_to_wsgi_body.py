"""Reads a WSGI request body in bounded chunks, in the server's thread."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from asgiref.wsgi._asgi_to_wsgi_exchange import Chunk

logger = logging.getLogger("asgiref.wsgi")


def _declared_length(environ: Mapping[str, Any]) -> int | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return length if length >= 0 else None


class BodyReader:
    """``wsgi.input`` as ASGI ``http.request`` chunks of at most ``chunk_size`` bytes.

    PEP 3333: read no more than ``CONTENT_LENGTH``; without one the body is
    empty unless the server sets ``wsgi.input_terminated`` (then read to EOF).
    """

    def __init__(self, environ: Mapping[str, Any], chunk_size: int) -> None:
        self._input = environ.get("wsgi.input")
        self._chunk_size = chunk_size
        length = _declared_length(environ)
        if length is None and environ.get("wsgi.input_terminated"):
            self._remaining: int | None = None  # read to EOF
        else:
            self._remaining = length or 0

    def read(self) -> Chunk:
        """The next chunk and whether more follows; None when the client is gone."""
        remaining = self._remaining
        if remaining == 0 or self._input is None:
            return b"", False
        size = self._chunk_size if remaining is None else min(self._chunk_size, remaining)
        try:
            data: object = self._input.read(size)
        except Exception:  # each server has its own "client went away" errors
            logger.debug("AsgiToWsgi: reading the request body failed", exc_info=True)
            return None
        if not isinstance(data, bytes):
            logger.error("AsgiToWsgi: wsgi.input.read() gave %s, not bytes", type(data).__name__)
            return None
        if remaining is None:
            return data, bool(data)
        if not data:
            return None  # the body ended before CONTENT_LENGTH: the client left
        self._remaining = remaining - len(data)
        return data, self._remaining > 0
