"""The project's main job, end to end: a WSGI app served under an ASGI server.

``python -m demo`` (``hatch run demo``) serves a Flask application through
``asgiref.wsgi.WsgiToAsgi`` under uvicorn on 127.0.0.1, drives it with real
HTTP requests, runs the sync/async bridge, and prints one line per check. Every
line is a check that can fail, and every figure names what it is compared with.
When upstream asgiref 3.13.0 is installed in a side environment (the
benchmark's), the same scenario runs against it and its outcome is printed
under each check.

Modules: ``webapp`` (the Flask app), ``serve`` (the server process),
``servers`` (starting and stopping one), ``http_checks`` and ``bridge_checks``
(the checks), ``outcome`` (one check's result), ``__main__`` (the report).
"""
