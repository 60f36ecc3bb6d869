"""The ``extensions`` entry of HTTP and WebSocket scopes: names, TLS data, the dict.

Extension names are open (servers advertise their own), so the type of
``scope["extensions"]`` must accept any name while keeping ``tls`` and the
known markers precise. Only PEP 728's ``extra_items`` says both, and only
pyright reads it; mypy would take that call for a TypedDict with no keys at
all. So the definition forks on ``MYPY``, a module-level name mypy treats as
always true (as it does ``TYPE_CHECKING``) while pyright and the interpreter
see False: mypy gets an open dict like upstream's (values ``Any``, so code
written against the precise type passes too), pyright the precise open
TypedDict, and the interpreter a TypedDict whose keys introspection and the
spec tests read.

The fork lives in a module of its own because pyright resolves such a name
correctly only when it is imported, not where it is defined.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from asgiref.typing._compat import NotRequired, TypedDict

ExtensionName: TypeAlias = Literal[
    "websocket.http.response",
    "http.response.push",
    "http.response.zerocopysend",
    "http.response.pathsend",
    "http.response.early_hint",
    "http.response.trailers",
    "http.response.debug",
    "tls",
]
"""The extension names this package knows; servers may advertise others."""


class TLSExtension(TypedDict):
    """``scope["extensions"]["tls"]``: present only on TLS connections."""

    server_cert: str | None
    client_cert_chain: NotRequired[Iterable[str]]
    client_cert_name: NotRequired[str | None]
    client_cert_error: NotRequired[str | None]
    tls_version: int | None
    cipher_suite: int | None


MYPY = False
if MYPY:
    ScopeExtensions = dict[str, Any]
elif TYPE_CHECKING:
    from typing_extensions import TypedDict as _OpenTypedDict

    # The dotted extension names are not identifiers, hence the functional form.
    ScopeExtensions = _OpenTypedDict(
        "ScopeExtensions",
        {
            "websocket.http.response": dict[object, object],
            "http.response.push": dict[object, object],
            "http.response.zerocopysend": dict[object, object],
            "http.response.pathsend": dict[object, object],
            "http.response.early_hint": dict[object, object],
            "http.response.trailers": dict[object, object],
            "http.response.debug": dict[object, object],
            "tls": TLSExtension,
        },
        total=False,
        extra_items=dict[object, object],
    )
else:
    from typing import get_args

    ScopeExtensions = TypedDict(
        "ScopeExtensions",
        {
            **dict.fromkeys(get_args(ExtensionName), dict[object, object]),
            "tls": TLSExtension,
        },
        total=False,
    )
"""``scope["extensions"]``: each advertised extension maps to a dict (often empty)."""

__all__ = ["ExtensionName", "ScopeExtensions", "TLSExtension"]
