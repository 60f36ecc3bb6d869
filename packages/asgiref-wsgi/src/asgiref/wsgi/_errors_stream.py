"""``wsgi.errors``: a text stream whose lines end up in logging."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable

_errors_logger = logging.getLogger("asgiref.wsgi.errors")


class ErrorStream(io.TextIOBase):
    """Collects what the application writes and logs it one line at a time.

    Logging whole lines keeps a message written in several ``write`` calls in
    a single record. One instance serves one request, so no lock is needed.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: object) -> int:  # object: untyped apps get a clear TypeError
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors takes str, not {type(text).__name__}")
        *complete, self._pending = (self._pending + text).split("\n")
        for line in complete:
            _errors_logger.warning("%s", line)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]  # PEP 3333 passes str lines, not any iterable of objects
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._pending:
            _errors_logger.warning("%s", self._pending)
            self._pending = ""
