"""``import asgiref.wsgi`` loads each adapter only when its name is first used.

A WSGI server's worker that serves ``AsgiToWsgi`` never runs ``WsgiToAsgi``
(and the reverse under an ASGI server): each side's modules are memory the
process pays for nothing. Each check runs in a fresh interpreter, since this
test session has long imported both sides.
"""

from __future__ import annotations

import json

import pytest

from monorepo_testing import fresh_python_output

pytestmark = pytest.mark.timeout(60)

# The modules of each side, as the package lays them out; the shared ones
# (the exceptions, FileWrapper) are not listed.
_WSGI_TO_ASGI = {
    "asgiref.wsgi._adapter",
    "asgiref.wsgi._environ",
    "asgiref.wsgi._input",
    "asgiref.wsgi._output",
    "asgiref.wsgi._pool",
    "asgiref.wsgi._response",
}
_ASGI_TO_WSGI_PREFIX = "asgiref.wsgi._asgi_to_wsgi"


def _fresh(code: str) -> object:
    """What ``code`` prints (as JSON) on its last line, run in a new interpreter."""
    return json.loads(fresh_python_output(code, timeout=50)[-1])


_LOADED = """
import json, sys
print(json.dumps(sorted(m for m in sys.modules if m.startswith("asgiref.wsgi."))))
"""


def _loaded_after(statement: str) -> set[str]:
    loaded = _fresh(statement + _LOADED)
    assert isinstance(loaded, list)
    return {str(name) for name in loaded}


def _asgi_to_wsgi_side(modules: set[str]) -> set[str]:
    return {name for name in modules if name.startswith(_ASGI_TO_WSGI_PREFIX)}


def test_asgi_to_wsgi_does_not_load_the_wsgi_to_asgi_side() -> None:
    loaded = _loaded_after("from asgiref.wsgi import AsgiToWsgi")
    assert "asgiref.wsgi._asgi_to_wsgi" in loaded
    assert not loaded & _WSGI_TO_ASGI, sorted(loaded & _WSGI_TO_ASGI)


def test_wsgi_to_asgi_does_not_load_the_asgi_to_wsgi_side() -> None:
    loaded = _loaded_after("from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance")
    assert "asgiref.wsgi._adapter" in loaded
    assert not _asgi_to_wsgi_side(loaded), sorted(_asgi_to_wsgi_side(loaded))


def test_importing_the_package_loads_neither_side() -> None:
    loaded = _loaded_after("import asgiref.wsgi")
    assert not loaded & _WSGI_TO_ASGI
    assert not _asgi_to_wsgi_side(loaded)


def test_attribute_access_loads_one_side_and_binds_it() -> None:
    found = _fresh(
        """
        import json, sys
        import asgiref.wsgi
        adapter = asgiref.wsgi.AsgiToWsgi
        print(json.dumps([
            adapter is sys.modules["asgiref.wsgi._asgi_to_wsgi"].AsgiToWsgi,
            "AsgiToWsgi" in vars(asgiref.wsgi),
            "asgiref.wsgi._adapter" in sys.modules,
            adapter.__module__,
            repr(adapter),
        ]))
        """
    )
    assert found == [
        True,
        True,
        False,
        "asgiref.wsgi",
        "<class 'asgiref.wsgi.AsgiToWsgi'>",
    ]


def test_every_public_name_is_listed_and_reachable_before_use() -> None:
    found = _fresh(
        """
        import json
        import asgiref.wsgi
        listed = sorted(set(asgiref.wsgi.__all__) - set(dir(asgiref.wsgi)))
        namespace = {}
        exec("from asgiref.wsgi import *", namespace)
        missing = sorted(set(asgiref.wsgi.__all__) - set(namespace))
        modules = sorted({getattr(asgiref.wsgi, n).__module__ for n in asgiref.wsgi.__all__})
        print(json.dumps([listed, missing, modules]))
        """
    )
    assert found == [[], [], ["asgiref.wsgi"]]


def test_unknown_names_still_raise_attribute_error() -> None:
    found = _fresh(
        """
        import json
        import asgiref.wsgi
        try:
            asgiref.wsgi.AsgiToWsgiX
        except AttributeError as error:
            print(json.dumps(str(error)))
        """
    )
    assert found == "module 'asgiref.wsgi' has no attribute 'AsgiToWsgiX'"


def test_pickles_name_the_package_and_load_in_a_fresh_process() -> None:
    # The pickle is made in one process and loaded in another that never
    # touched the names: unpickling must find them through the package.
    made = _fresh(
        """
        import json, pickle
        from asgiref.wsgi import AsgiToWsgi, WsgiToAsgi, WsgiToAsgiInstance
        print(json.dumps(pickle.dumps([AsgiToWsgi, WsgiToAsgi, WsgiToAsgiInstance], 0).decode()))
        """
    )
    assert isinstance(made, str)
    assert "asgiref.wsgi._" not in made
    found = _fresh(
        f"""
        import json, pickle
        loaded = pickle.loads({made.encode()!r})
        print(json.dumps([f"{{c.__module__}}.{{c.__qualname__}}" for c in loaded]))
        """
    )
    assert found == [
        "asgiref.wsgi.AsgiToWsgi",
        "asgiref.wsgi.WsgiToAsgi",
        "asgiref.wsgi.WsgiToAsgiInstance",
    ]
