"""AsgiToWsgi's surface: export, options and their validation, ASGI 2/3, the scope."""

from __future__ import annotations

import functools
import wsgiref.util
from typing import Any

import pytest

import asgiref.wsgi
from asgiref.wsgi import AsgiToWsgi

pytestmark = pytest.mark.timeout(30)


def _environ(**extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = dict(extra)
    wsgiref.util.setup_testing_defaults(environ)
    return environ


def _scope_of(environ: dict[str, Any]) -> dict[str, Any]:
    scopes: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    result = AsgiToWsgi(app, lifespan="off")(environ, lambda status, headers, exc_info=None: None)
    list(result)
    getattr(result, "close", lambda: None)()
    return scopes[0]


def test_exported_where_users_import_it() -> None:
    assert "AsgiToWsgi" in asgiref.wsgi.__all__
    assert AsgiToWsgi.__module__ == "asgiref.wsgi"


async def _asgi3(scope: Any, receive: Any, send: Any) -> None:
    pass


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"lifespan": "yes"}, ValueError),
        ({"lifespan_timeout": 0}, ValueError),
        ({"lifespan_timeout": None}, TypeError),
        ({"message_timeout": -1.0}, ValueError),
        ({"message_timeout": float("inf")}, ValueError),
        ({"message_timeout": "5"}, TypeError),
        ({"disconnect_grace": True}, TypeError),
        ({"disconnect_grace": float("nan")}, ValueError),
        ({"body_chunk_size": 0}, ValueError),
        ({"body_chunk_size": 1.5}, TypeError),
        ({"response_buffer_size": -1}, ValueError),
        ({"response_buffer_size": False}, TypeError),
    ],
    ids=lambda value: repr(value),
)
def test_bad_options_are_refused_clearly(options: dict[str, Any], error: type[Exception]) -> None:
    name = next(iter(options))
    with pytest.raises(error, match=name):
        AsgiToWsgi(_asgi3, **options)


def test_good_options_and_unlimited_message_timeout() -> None:
    adapter = AsgiToWsgi(
        _asgi3, lifespan="on", message_timeout=None, disconnect_grace=0.1, body_chunk_size=1
    )
    assert adapter.application is _asgi3
    assert "AsgiToWsgi" in repr(adapter)


def test_application_must_be_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        AsgiToWsgi(42)


class _Asgi2Class:
    def __init__(self, scope: Any) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi2 " + self.scope["path"].encode()})


def _asgi2_factory(scope: Any) -> Any:
    return _Asgi2Class(scope)


class _Asgi3Instance:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi3 " + scope["path"].encode()})


async def _asgi3_with_prefix(prefix: bytes, scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": prefix + scope["path"].encode()})


class _MarkedAsgi3:
    """A callable whose call is not a coroutine function, marked as ASGI 3."""

    _asgi_single_callable = True

    def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        return _asgi3_with_prefix(b"marked ", scope, receive, send)


@pytest.mark.parametrize(
    ("application", "expected"),
    [
        (_Asgi2Class, b"asgi2 /p"),
        (_asgi2_factory, b"asgi2 /p"),
        (_Asgi3Instance(), b"asgi3 /p"),
        (functools.partial(_asgi3_with_prefix, b"partial "), b"partial /p"),
        (_MarkedAsgi3(), b"marked /p"),
        (functools.partial(_Asgi3Instance()), b"asgi3 /p"),
        (functools.partial(functools.partial(_Asgi2Class)), b"asgi2 /p"),
    ],
    ids=[
        "asgi2-class",
        "asgi2-factory",
        "asgi3-instance",
        "asgi3-partial",
        "asgi3-marked",
        "asgi3-instance-in-partial",
        "asgi2-class-in-partial",
    ],
)
def test_asgi2_and_asgi3_applications(application: Any, expected: bytes) -> None:
    result = AsgiToWsgi(application, lifespan="off")(_environ(PATH_INFO="/p"), lambda *args: None)
    assert b"".join(result) == expected
    getattr(result, "close", lambda: None)()


# ---------------------------------------------------------------- the scope


def test_scope_is_what_an_asgi_server_builds() -> None:
    environ = _environ(
        REQUEST_METHOD="post",
        SCRIPT_NAME="/app",
        PATH_INFO="/caf\xc3\xa9/a b",  # PEP 3333: the UTF-8 bytes, one latin-1 char each
        RAW_URI="/app/caf%C3%A9/a%20b?x=1&y=%E9",
        QUERY_STRING="x=1&y=%E9",
        CONTENT_TYPE="text/plain",
        CONTENT_LENGTH="0",
        HTTP_X_CUSTOM="caf\xe9",
        HTTP_HOST="example.org",
        REMOTE_ADDR="10.0.0.1",
        REMOTE_PORT="51000",
        SERVER_NAME="127.0.0.1",
        SERVER_PORT="8000",
        SERVER_PROTOCOL="HTTP/1.0",
        **{"wsgi.url_scheme": "https"},
    )
    scope = _scope_of(environ)
    assert sorted(scope["headers"]) == sorted(
        [
            (b"content-type", b"text/plain"),
            (b"content-length", b"0"),
            (b"x-custom", b"caf\xe9"),
            (b"host", b"example.org"),
        ]
    )
    del scope["headers"]
    assert scope == {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.0",
        "method": "POST",
        "scheme": "https",
        "path": "/app/caf\xe9/a b",
        "raw_path": b"/app/caf%C3%A9/a%20b",
        "query_string": b"x=1&y=%E9",
        "root_path": "/app",
        "client": ("10.0.0.1", 51000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "extensions": {},
    }


@pytest.mark.parametrize(
    ("extra", "raw_path"),
    [
        ({}, b"/a%20b/%C3%A9"),
        ({"REQUEST_URI": "/a%20b/%c3%a9?q"}, b"/a%20b/%c3%a9"),
        ({"REQUEST_URI": "http://example.org/a%20b/%C3%A9"}, b"/a%20b/%C3%A9"),
        ({"REQUEST_URI": "/rewritten/elsewhere"}, b"/a%20b/%C3%A9"),
    ],
    ids=["rebuilt", "as-sent", "absolute-form", "rewritten-url-ignored"],
)
def test_raw_path(extra: dict[str, Any], raw_path: bytes) -> None:
    assert _scope_of(_environ(PATH_INFO="/a b/\xc3\xa9", **extra))["raw_path"] == raw_path


@pytest.mark.parametrize(
    ("extra", "client"),
    [
        ({}, None),
        ({"REMOTE_ADDR": "127.0.0.1"}, ("127.0.0.1", 0)),  # wsgiref gives no REMOTE_PORT
        ({"REMOTE_ADDR": "::1", "REMOTE_PORT": "4000"}, ("::1", 4000)),
    ],
)
def test_client(extra: dict[str, Any], client: Any) -> None:
    assert _scope_of(_environ(**extra))["client"] == client


@pytest.mark.parametrize(
    ("protocol", "version"), [("HTTP/1.1", "1.1"), ("HTTP/2.0", "2"), ("", "1.1")]
)
def test_http_version(protocol: str, version: str) -> None:
    assert _scope_of(_environ(SERVER_PROTOCOL=protocol))["http_version"] == version


def test_header_named_with_underscore_comes_as_the_server_gave_it() -> None:
    # The WSGI server already chose what to do with such headers; the adapter
    # cannot tell "X_Y" from "X-Y" in HTTP_X_Y and reports a dash, as CGI does.
    headers = _scope_of(_environ(HTTP_X_Y="1"))["headers"]
    assert (b"x-y", b"1") in headers
