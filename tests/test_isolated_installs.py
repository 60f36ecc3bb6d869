"""Each split installs alone and gives exactly its modules; the metapackage gives all.

Every environment here is fresh and holds only wheels built from this
checkout (plus ``typing_extensions`` on Python 3.10), so an import that works
here works for a user who installs that one distribution.
"""

from __future__ import annotations

import json

import pytest
from install_testing import OUR_MODULES

from monorepo_testing import MakeVenv

CLASSIC_MODULES = ("asgiref", *OUR_MODULES)
_BRIDGE = (
    "asgiref.sync",
    "asgiref.local",
    "asgiref.current_thread_executor",
    "asgiref.compatibility",
    "asgiref.timeout",
)
# What installing each split alone must give (its own modules and those of the
# splits it depends on); every other classic module must be absent. Every split
# depends on asgiref-types, which ships the coexistence check and asgiref.typing;
# asgiref-wsgi needs nothing else.
GIVES: dict[str, tuple[str, ...]] = {
    "asgiref-sync": (*_BRIDGE, "asgiref.typing"),
    "asgiref-types": ("asgiref.typing",),
    "asgiref-wsgi": ("asgiref.wsgi", "asgiref.typing"),
    "asgiref-server": ("asgiref.server", *_BRIDGE, "asgiref.typing"),
    "asgiref-testing": ("asgiref.testing", *_BRIDGE, "asgiref.typing"),
}

_PROBE = """
import importlib, importlib.util, json, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # asgiref.timeout warns on import by design
report = {}
for name in %r:
    if importlib.util.find_spec(name) is None:
        report[name] = None
    else:
        module = importlib.import_module(name)
        report[name] = getattr(module, "__file__", None) or "<namespace>"
import asgiref
report["__version__"] = getattr(asgiref, "__version__", None)
print(json.dumps(report))
"""


def _probe(venv_run_output: str) -> dict[str, str | None]:
    result: dict[str, str | None] = json.loads(venv_run_output)
    return result


@pytest.mark.timeout(600)
@pytest.mark.parametrize("split", sorted(GIVES))
def test_split_alone_gives_its_modules_and_nothing_else(make_venv: MakeVenv, split: str) -> None:
    venv = make_venv(split)
    proc = venv.run(_PROBE % (CLASSIC_MODULES[1:],))
    assert proc.returncode == 0, proc.stderr
    report = _probe(proc.stdout)
    site = str(venv.site_packages())
    for module in CLASSIC_MODULES[1:]:
        if module in GIVES[split]:
            location = report[module]
            assert location is not None, f"{split} alone must give {module}"
            assert location.startswith(site), f"{module} imported from {location}, not the venv"
        else:
            assert report[module] is None, f"{split} alone must not give {module}"
    # Without the metapackage, asgiref is a namespace package with no version.
    assert report["__version__"] is None


@pytest.mark.timeout(600)
def test_metapackage_gives_version_and_every_classic_module(make_venv: MakeVenv) -> None:
    venv = make_venv("asgiref")
    proc = venv.run(_PROBE % (CLASSIC_MODULES,))
    assert proc.returncode == 0, proc.stderr
    report = _probe(proc.stdout)
    site = str(venv.site_packages())
    for module in CLASSIC_MODULES:
        location = report[module]
        assert location is not None, module
        assert location.startswith(site), (module, location)
    from monorepo_testing import PACKAGES_DIR

    init = (PACKAGES_DIR / "asgiref" / "src" / "asgiref" / "__init__.py").read_text("utf-8")
    assert f'__version__ = "{report["__version__"]}"' in init


_SERVE_ONE_REQUEST = """
import asyncio, sys
from asgiref.wsgi import WsgiToAsgi

def hello(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"got " + body]

async def main():
    sent = []
    messages = [{"type": "http.request", "body": b"ping", "more_body": False}]

    async def receive():
        if not messages:  # the client stays until the response is over
            await asyncio.sleep(60)
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": []}
    await WsgiToAsgi(hello)(scope, receive, send)
    print(sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]).decode())

asyncio.run(main())
print(sorted(m for m in sys.modules if m.startswith("asgiref.") and "wsgi" not in m))
try:
    import asgiref.wsgi as wsgi
    wsgi.AsyncToSync
except AttributeError as error:
    print("AttributeError:", error)
"""


@pytest.mark.timeout(600)
def test_asgiref_wsgi_alone_serves_a_request(make_venv: MakeVenv) -> None:
    # It declares no dependency on asgiref-sync: the adapter must not need it,
    # and the one name upstream's module borrowed from it says what to install.
    venv = make_venv("asgiref-wsgi")
    proc = venv.run(_SERVE_ONE_REQUEST)
    assert proc.returncode == 0, proc.stderr
    status, modules, error = proc.stdout.splitlines()
    assert status == "200 got ping"
    # asgiref.typing is for type checkers: the adapter does not load it at run time.
    assert modules == str(["asgiref.coexistence", "asgiref.mixed_install_check"])
    assert "pip install asgiref-sync" in error
