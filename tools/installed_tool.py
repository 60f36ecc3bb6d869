"""How the developer scripts call a tool they need: through the running
interpreter where the tool is importable, else the program of that name on PATH.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys


def tool_command(name: str, missing: str) -> list[str]:
    """The command line prefix that runs ``name`` (``python -m name`` or the
    program on PATH); exits with the message ``missing`` where there is neither."""
    # The running interpreter first: its own copy matches the environment
    # (hatch's env, a venv) rather than whichever one PATH finds first.
    if importlib.util.find_spec(name) is not None:
        return [sys.executable, "-m", name]
    found = shutil.which(name)
    if found is None:
        sys.exit(missing)
    return [found]
