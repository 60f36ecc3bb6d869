"""The PEP 3333 environ built from an ASGI scope."""

from __future__ import annotations

import io
from typing import Any

import pytest

from asgiref.wsgi import FileWrapper, WsgiToAsgiInstance


def environ_for(scope_for: Any, **overrides: Any) -> dict[str, Any]:
    scope = scope_for(**overrides)
    return WsgiToAsgiInstance(None).build_environ(scope, None)


def test_required_keys_are_native_strings(scope_for: Any) -> None:
    environ = environ_for(
        scope_for, method="post", query_string=b"a=1&b=%C3%A9", http_version="2", scheme="https"
    )
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["QUERY_STRING"] == "a=1&b=%C3%A9"
    assert environ["SERVER_PROTOCOL"] == "HTTP/2"
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["SERVER_PORT"] == "8000"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["REMOTE_PORT"] == "50000"
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is True
    assert environ["wsgi.run_once"] is False
    assert environ["wsgi.input_terminated"] is True
    assert environ["wsgi.file_wrapper"] is FileWrapper
    for key, value in environ.items():
        if key.isupper():
            assert type(value) is str, key


def test_asgi_scope_is_passed_through(scope_for: Any) -> None:
    scope = scope_for()
    environ = WsgiToAsgiInstance(None).build_environ(scope, None)
    assert environ["asgi.scope"] is scope


def test_body_argument_becomes_wsgi_input(scope_for: Any) -> None:
    body = io.BytesIO(b"payload")
    environ = WsgiToAsgiInstance(None).build_environ(scope_for(), body)
    assert environ["wsgi.input"] is body
    assert environ_for(scope_for)["wsgi.input"].read() == b""


def test_raw_path_is_percent_decoded_to_latin1_bytes(scope_for: Any) -> None:
    # %FF is not UTF-8: it must survive as the single byte 0xFF.
    environ = environ_for(scope_for, path="/ignored", raw_path=b"/caf%C3%A9/%FF%20x")
    assert environ["PATH_INFO"] == "/caf\xc3\xa9/\xff x"
    assert environ["PATH_INFO"].encode("latin-1") == b"/caf\xc3\xa9/\xff x"


def test_raw_path_query_part_is_ignored(scope_for: Any) -> None:
    environ = environ_for(scope_for, raw_path=b"/a?x=1", query_string=b"x=1")
    assert environ["PATH_INFO"] == "/a"


def test_path_without_raw_path_is_utf8_as_latin1(scope_for: Any) -> None:
    environ = environ_for(scope_for, path="/中文", raw_path=None)
    assert environ["PATH_INFO"] == "/中文".encode().decode("latin-1")


@pytest.mark.parametrize(
    ("root_path", "path", "script_name", "path_info"),
    [
        ("/app", "/app/page", "/app", "/page"),
        ("/app", "/app", "/app", ""),
        ("/app/", "/app/page", "/app", "/page"),
        ("/app", "/application", "/app", "/application"),
        ("/app", "/other", "/app", "/other"),
        ("", "/page", "", "/page"),
        ("/", "/page", "", "/page"),
    ],
)
def test_script_name_splits_at_segment_boundary(
    scope_for: Any, root_path: str, path: str, script_name: str, path_info: str
) -> None:
    environ = environ_for(scope_for, root_path=root_path, path=path, raw_path=path.encode())
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == (script_name, path_info)


@pytest.mark.parametrize(
    ("server", "scheme", "name", "port"),
    [
        (None, "http", "localhost", "80"),
        (None, "https", "localhost", "443"),
        (["/tmp/app.sock", None], "http", "/tmp/app.sock", "0"),
        (("example.org", 8443), "https", "example.org", "8443"),
    ],
)
def test_server_name_and_port_always_present(
    scope_for: Any, server: Any, scheme: str, name: str, port: str
) -> None:
    environ = environ_for(scope_for, server=server, scheme=scheme)
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == (name, port)


def test_missing_server_key(scope_for: Any) -> None:
    scope = scope_for()
    del scope["server"]
    environ = WsgiToAsgiInstance(None).build_environ(scope, None)
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("localhost", "80")


def test_remote_address_only_when_client_known(scope_for: Any) -> None:
    environ = environ_for(scope_for, client=None)
    assert "REMOTE_ADDR" not in environ
    assert "REMOTE_PORT" not in environ


def test_content_headers_have_no_http_prefix(scope_for: Any) -> None:
    environ = environ_for(
        scope_for,
        headers=[(b"content-type", b"text/plain"), (b"content-length", b"12"), (b"host", b"h")],
    )
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "12"
    assert environ["HTTP_HOST"] == "h"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ


def test_no_content_length_when_client_sent_none(scope_for: Any) -> None:
    assert "CONTENT_LENGTH" not in environ_for(scope_for)


def test_repeated_headers_join_with_comma_and_cookies_with_semicolon(scope_for: Any) -> None:
    environ = environ_for(
        scope_for,
        headers=[
            (b"accept", b"a"),
            (b"cookie", b"x=1"),
            (b"Accept", b"b"),
            (b"cookie", b"y=2"),
        ],
    )
    assert environ["HTTP_ACCEPT"] == "a,b"
    assert environ["HTTP_COOKIE"] == "x=1; y=2"


def test_underscore_header_names_are_dropped(scope_for: Any) -> None:
    environ = environ_for(scope_for, headers=[(b"x-auth-user", b"alice"), (b"x_auth_user", b"eve")])
    assert environ["HTTP_X_AUTH_USER"] == "alice"


def test_non_ascii_header_bytes_become_latin1(scope_for: Any) -> None:
    environ = environ_for(scope_for, headers=[(b"x-name", "Zoë".encode())])
    assert environ["HTTP_X_NAME"] == "Zoë".encode().decode("latin-1")


def test_errors_stream_goes_to_logging(scope_for: Any, caplog: pytest.LogCaptureFixture) -> None:
    errors = environ_for(scope_for)["wsgi.errors"]
    with caplog.at_level("WARNING", logger="asgiref.wsgi.errors"):
        errors.write("first ")
        errors.writelines(["line\n", "second"])
        errors.flush()
    assert [r.getMessage() for r in caplog.records] == ["first line", "second"]
    with pytest.raises(TypeError):
        errors.write(b"bytes")


def test_duplicate_limit_raises_value_error_in_build_environ(scope_for: Any) -> None:
    scope = scope_for(headers=[(b"x-a", b"1")] * 6)
    with pytest.raises(ValueError, match="duplicate"):
        WsgiToAsgiInstance(None, duplicate_header_limit=5).build_environ(scope, None)
    environ = WsgiToAsgiInstance(None, duplicate_header_limit=6).build_environ(scope, None)
    assert environ["HTTP_X_A"] == ",".join("1" * 6)
