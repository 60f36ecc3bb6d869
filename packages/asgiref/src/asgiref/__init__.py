"""asgiref: the ASGI base library, assembled from its split distributions.

Each public module (``asgiref.sync``, ``asgiref.wsgi``, ...) is shipped by its own
distribution; this metapackage depends on all of them and owns the version.
"""

import os as _os
import sys as _sys


def _extend_namespace_path(path: list[str]) -> list[str]:
    # Editable installs put each split's ``src`` on sys.path separately, so
    # ``asgiref.<module>`` must be looked up in every ``asgiref`` directory on
    # sys.path, as pkgutil.extend_path does. Written out here because
    # importing pkgutil would cost more than the rest of ``import asgiref.sync``.
    extended = list(path)
    entries: list[object] = list(_sys.path)  # programs do put non-str entries there
    for entry in entries:
        if not isinstance(entry, str):
            continue
        candidate = _os.path.join(entry or _os.curdir, __name__)
        if candidate not in extended and _os.path.isdir(candidate):
            extended.append(candidate)
    return extended


__path__ = _extend_namespace_path(list(__path__))

# The upstream release this one matches, plus a post-release number of our own
# (see "Versions" in the root README): the ranges Django, Channels and Daphne
# declare accept it, it sorts above upstream's, and upstream never used ".post".
__version__ = "3.13.0.post1"
"""This release's version, shared by all six distributions (PEP 440, e.g. ``3.13.0.post1``)."""

# Each module of this release runs ``from asgiref import mixed_install_check``:
# bound here, the name makes that line free. Where this file is missing (the
# splits alone) or upstream's __init__.py has replaced it, Python imports the
# asgiref.mixed_install_check subpackage instead, which warns in the second case
# (see asgiref.coexistence). The name is public so that importing it is no
# private use of another module; each module binds it under a private alias.
mixed_install_check = True
