"""Run WSGI applications under ASGI servers.

``WsgiToAsgi(wsgi_app)`` is an ASGI 3 application: requests run concurrently
on a bounded thread pool, request and response bodies stream with bounded
buffers, and the environ follows PEP 3333 exactly.
"""

from asgiref.wsgi._adapter import WsgiToAsgi, WsgiToAsgiInstance
from asgiref.wsgi._errors import ClientDisconnected, RequestBodyTooLarge
from asgiref.wsgi._filewrapper import FileWrapper

__all__ = [
    "ClientDisconnected",
    "FileWrapper",
    "RequestBodyTooLarge",
    "WsgiToAsgi",
    "WsgiToAsgiInstance",
]
