"""``wsgi.file_wrapper``: lets an app hand a file to the adapter (PEP 3333)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any

DEFAULT_BLOCK_SIZE = 64 * 1024


class FileWrapper:
    """Iterates a file-like object in blocks; the adapter may send the file by path instead.

    ``close()`` closes the wrapped object, as PEP 3333 asks.
    """

    def __init__(self, filelike: Any, block_size: int = DEFAULT_BLOCK_SIZE) -> None:
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        while block := read(self.block_size):
            yield block

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    def sendable_path(self) -> str | None:
        """The absolute path of the whole, unread file, when the file has one."""
        try:
            # A file opened from a descriptor has an int name: no path to give.
            name = os.fsdecode(self.filelike.name)
            if self.filelike.tell() != 0:
                return None
        except (AttributeError, OSError, TypeError, ValueError):
            return None
        path = os.path.abspath(name)
        return path if os.path.isfile(path) else None

    def file_size(self, path: str) -> int:
        return os.path.getsize(path)

    def zero_copy_span(self, limit: int | None) -> tuple[int, int] | None:
        """(offset, count) of what is left of a regular file with a descriptor."""
        try:
            descriptor = self.filelike.fileno()
            offset = self.filelike.tell()
            info = os.fstat(descriptor)
        except (AttributeError, OSError, ValueError):
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        count = max(info.st_size - offset, 0)
        return offset, count if limit is None else min(count, limit)
