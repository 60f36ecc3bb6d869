"""Runtime behaviour of asgiref.typing: every upstream name, lazy and cheap loading."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import typing

import pytest

if sys.version_info >= (3, 11):
    from typing import is_typeddict
else:  # the definitions use typing_extensions' TypedDict there, which typing's test misses
    from typing_extensions import is_typeddict

import asgiref.typing as types_module

# The names of upstream asgiref 3.13.0's ``asgiref.typing.__all__``.
UPSTREAM_NAMES = """
ASGI2Application ASGI2Protocol ASGI3Application ASGIApplication ASGIReceiveCallable
ASGIReceiveEvent ASGISendCallable ASGISendEvent ASGIVersions HTTPDisconnectEvent
HTTPRequestEvent HTTPResponseBodyEvent HTTPResponsePathsendEvent HTTPResponseStartEvent
HTTPResponseTrailersEvent HTTPScope HTTPServerPushEvent LifespanScope
LifespanShutdownCompleteEvent LifespanShutdownEvent LifespanShutdownFailedEvent
LifespanStartupCompleteEvent LifespanStartupEvent LifespanStartupFailedEvent Scope
WWWScope WebSocketAcceptEvent WebSocketCloseEvent WebSocketConnectEvent
WebSocketDisconnectEvent WebSocketReceiveEvent WebSocketResponseBodyEvent
WebSocketResponseStartEvent WebSocketScope WebSocketSendEvent
""".split()  # noqa: SIM905 - a compact word list reads better here


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_every_upstream_name_is_exported() -> None:
    missing = [name for name in UPSTREAM_NAMES if name not in types_module.__all__]
    assert missing == []
    for name in [*UPSTREAM_NAMES, "HTTPResponseDebugEvent"]:
        assert getattr(types_module, name) is not None


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'HTTPScop'"):
        types_module.HTTPScop  # type: ignore[attr-defined]  # the point of the test  # noqa: B018


def test_dir_lists_the_public_names() -> None:
    assert set(types_module.__all__) <= set(dir(types_module))


def test_typed_dicts_build_plain_dicts() -> None:
    event = types_module.HTTPResponseStartEvent(type="http.response.start", status=200)
    assert event == {"type": "http.response.start", "status": 200}
    assert type(event) is dict


# The names upstream defines as TypedDict classes: most of its ``__all__`` (the
# rest are unions, callables and a Protocol) and one name it leaves out of it.
UPSTREAM_TYPEDDICTS = [
    *(
        name
        for name in UPSTREAM_NAMES
        if name.endswith(("Event", "Scope", "Versions"))
        and name not in {"ASGIReceiveEvent", "ASGISendEvent", "Scope", "WWWScope"}
    ),
    "HTTPResponseDebugEvent",
]


@pytest.mark.parametrize("name", UPSTREAM_TYPEDDICTS)
def test_upstream_typed_dict_classes_stay_typed_dict_classes(name: str) -> None:
    assert len(UPSTREAM_TYPEDDICTS) == 26
    assert is_typeddict(getattr(types_module, name))


@pytest.mark.parametrize(
    ("name", "kind"),
    [("WebSocketSendEvent", "websocket.send"), ("WebSocketReceiveEvent", "websocket.receive")],
)
def test_websocket_frames_are_built_by_calling_their_class(name: str, kind: str) -> None:
    frame_class = getattr(types_module, name)
    assert frame_class(type=kind, bytes=b"x", text=None) == {
        "type": kind,
        "bytes": b"x",
        "text": None,
    }
    assert frame_class(type=kind, text="hi") == {"type": kind, "text": "hi"}
    assert frame_class.__required_keys__ == {"type"}
    assert frame_class.__optional_keys__ == {"bytes", "text"}


def test_strict_frame_unions_hold_a_bytes_and_a_text_variant() -> None:
    strict = {
        types_module.StrictWebSocketSendEvent: "websocket.send",
        types_module.StrictWebSocketReceiveEvent: "websocket.receive",
    }
    for union, kind in strict.items():
        required = sorted(
            sorted(member.__required_keys__)
            for member in typing.get_args(union)
            if typing.get_type_hints(member)["type"] == typing.Literal[kind]
        )
        assert required == [["bytes", "type"], ["text", "type"]]


@pytest.mark.parametrize(
    ("name", "required", "optional"),
    [
        ("HTTPRequestEvent", {"type"}, {"body", "more_body"}),
        ("HTTPResponseStartEvent", {"type", "status"}, {"headers", "trailers"}),
        ("WebSocketCloseEvent", {"type"}, {"code", "reason"}),
        ("WebSocketDisconnectEvent", {"type", "code"}, {"reason"}),
        ("WebSocketSendTextEvent", {"type", "text"}, {"bytes"}),
        ("LifespanScope", {"type", "asgi"}, {"state"}),
        ("ASGIVersions", {"version"}, {"spec_version"}),
    ],
)
def test_optional_keys_are_optional_at_runtime(
    name: str, required: set[str], optional: set[str]
) -> None:
    typed_dict = getattr(types_module, name)
    assert typed_dict.__required_keys__ == required
    assert typed_dict.__optional_keys__ == optional


def test_importing_the_module_loads_neither_definitions_nor_validators() -> None:
    out = _run(
        """
        import sys
        import asgiref.typing
        print(sorted(m for m in sys.modules if m.startswith("asgiref.typing.")))
        print("typing_extensions" in sys.modules)
        """
    )
    assert out.splitlines() == ["[]", "False"]


def test_first_use_loads_definitions_but_not_validators() -> None:
    out = _run(
        """
        import sys
        from asgiref.typing import HTTPScope
        print(sorted(m for m in sys.modules if m.startswith("asgiref.typing.")))
        print(HTTPScope.__name__)
        """
    )
    definitions = ["_compat", "_definitions", "_extensions"]
    loaded = str([f"asgiref.typing.{name}" for name in definitions])
    assert out.splitlines() == [loaded, "HTTPScope"]


def test_typing_extensions_only_on_python_3_10() -> None:
    out = _run(
        """
        import sys
        import asgiref.typing as t
        t.HTTPScope
        print("typing_extensions" in sys.modules)
        """
    )
    assert out == str(sys.version_info < (3, 11))


def test_without_typing_extensions() -> None:
    # A blocker on the import path makes typing_extensions unimportable: 3.11+
    # does not need it at all; 3.10 needs it and says so through ImportError.
    out = _run(
        """
        import sys

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name == "typing_extensions":
                    raise ImportError("typing_extensions blocked by the test")
                return None

        sys.meta_path.insert(0, Blocker())
        import asgiref.typing as t
        try:
            names = [getattr(t, name) for name in t.__all__]
        except ImportError as error:
            print("ImportError", error)
        else:
            print("ok", len(names), sorted(t.HTTPRequestEvent.__optional_keys__))
        """
    )
    if sys.version_info >= (3, 11):
        assert out == f"ok {len(types_module.__all__)} ['body', 'more_body']"
    else:
        assert out.startswith("ImportError typing_extensions blocked")


def test_with_typing_extensions_on_this_python() -> None:
    # Whatever the interpreter, a typing_extensions already imported changes nothing.
    out = _run(
        """
        import typing_extensions
        import asgiref.typing as t
        print(sorted(t.WebSocketAcceptEvent.__optional_keys__))
        """
    )
    assert out == "['headers', 'subprotocol']"


def test_validators_are_loaded_only_when_imported() -> None:
    out = _run(
        """
        import sys
        import asgiref.typing as t
        [getattr(t, name) for name in t.__all__]
        before = "asgiref.typing.validate" in sys.modules
        from asgiref.typing.validate import validate_scope
        print(before, "asgiref.typing.validate" in sys.modules)
        """
    )
    assert out == "False True"
