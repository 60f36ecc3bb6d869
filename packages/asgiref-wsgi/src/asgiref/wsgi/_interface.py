"""The ASGI types WsgiToAsgi accepts: asgiref.typing's, widened to what servers pass.

For type checkers only: the adapter's modules import it under ``TYPE_CHECKING``.
Servers and frameworks call an ASGI application either with the exact types of
:mod:`asgiref.typing` or with the ``MutableMapping[str, Any]`` spelling most of
them declare (Starlette, uvicorn, Django); the adapter is assignable to both.
"""

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, TypeAlias

from asgiref.typing import ASGIReceiveEvent, ASGISendCallable, Scope

ServerScope: TypeAlias = Scope | MutableMapping[str, Any]
# Only read, so a Mapping covers both kinds of message.
ServerReceive: TypeAlias = Callable[[], Awaitable[ASGIReceiveEvent | Mapping[str, Any]]]
# Called with the adapter's messages, so it must take either kind of callable.
ServerSend: TypeAlias = ASGISendCallable | Callable[[MutableMapping[str, Any]], Awaitable[None]]
