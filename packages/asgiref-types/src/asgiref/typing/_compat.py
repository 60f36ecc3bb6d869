"""The ``TypedDict`` and ``NotRequired`` every definition module uses.

The standard library's from Python 3.11; before that the backport's, since the
stdlib ``TypedDict`` of 3.10 ignores ``NotRequired``.
"""

import sys

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - exercised on Python 3.10 only
    from typing_extensions import NotRequired, TypedDict

__all__ = ["NotRequired", "TypedDict"]
