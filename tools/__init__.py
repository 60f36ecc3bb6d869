"""Developer scripts of the monorepo, run as files (``python tools/<name>.py``).

A package only so that tests can import them by name.
"""
