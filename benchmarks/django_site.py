"""The Django project of the end-to-end rows, generated at run time.

``django-admin startproject`` with its defaults (middleware, SQLite,
``asgi.py``), then only: DEBUG off, 127.0.0.1 allowed, and three views -
``/async/`` (an async view), ``/sync/`` (the same view, sync) and
``/session/`` (a sync view that reads and writes a session row). ``migrate``
runs once, for the session table. The project does not depend on which
asgiref is installed, so one project serves both implementations.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from servers import clean_env

PROJECT = "benchsite"
ASGI_APP = f"{PROJECT}.asgi:application"

_VIEWS = """\
from django.http import HttpResponse


async def hello_async(request):
    return HttpResponse("Hello, world!\\n", content_type="text/plain")


def hello_sync(request):
    return HttpResponse("Hello, world!\\n", content_type="text/plain")


def session(request):
    count = request.session.get("count", 0) + 1
    request.session["count"] = count
    return HttpResponse(str(count), content_type="text/plain")
"""

_SETTINGS = """
# Added by the benchmark (benchmarks/django_site.py).
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
"""

_URLS = """
# Added by the benchmark (benchmarks/django_site.py).
from . import bench_views  # noqa: E402

urlpatterns += [
    path("async/", bench_views.hello_async),
    path("sync/", bench_views.hello_sync),
    path("session/", bench_views.session),
]
"""


def create(python: Path, directory: Path) -> Path:
    """Generates and migrates the project in ``directory`` with ``python``'s
    Django; returns the project's root (where ``manage.py`` is)."""
    # Absolute, not resolved: a venv's python is a symlink out of the venv.
    python = python.absolute()
    root = directory / PROJECT
    root.mkdir(parents=True)
    env = clean_env()
    subprocess.run(
        [str(python), "-m", "django", "startproject", PROJECT, str(root)], check=True, env=env
    )
    package = root / PROJECT
    (package / "bench_views.py").write_text(_VIEWS)
    with (package / "settings.py").open("a") as settings:
        settings.write(_SETTINGS)
    with (package / "urls.py").open("a") as urls:
        urls.write(_URLS)
    subprocess.run(
        [str(python), "manage.py", "migrate", "--verbosity", "0"], check=True, cwd=root, env=env
    )
    return root
