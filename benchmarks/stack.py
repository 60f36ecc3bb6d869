"""The third-party stack of the benchmark: every version pinned, in this one place.

Both implementations' virtual environments get the same stack, so the rows
that run a whole server (uvicorn, gunicorn, Django, Flask, a2wsgi) differ only
in which ``asgiref`` they import. a2wsgi does not import asgiref; its rows run
in ours' environment.
"""

from __future__ import annotations

import hashlib

UPSTREAM = "asgiref==3.13.0"

STACK: tuple[str, ...] = (
    "uvicorn==0.55.0",
    "h11==0.16.0",
    "click==8.5.1",
    "gunicorn==27.0.1",
    "django==5.2.20",
    "sqlparse==0.6.1",
    "flask==3.1.3",
    "werkzeug==3.1.9",
    "jinja2==3.1.6",
    "markupsafe==3.0.4",
    "itsdangerous==2.2.0",
    "blinker==1.9.0",
    "a2wsgi==1.10.10",
)

# The sampling profiler of ``profile_django.py`` (a binary wheel; needs ptrace).
PROFILER = "py-spy==0.4.3"


def fingerprint(requirements: tuple[str, ...]) -> str:
    """Written into a venv's marker: a venv built for other pins is rebuilt."""
    return hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:16]
