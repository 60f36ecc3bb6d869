"""Imported only where this release's ``asgiref/__init__.py`` is missing, to warn if
upstream's is installed in its place (see :mod:`asgiref.coexistence`).

Not an API: nothing here is meant to be imported by programs.

Each module package of this release runs ``from asgiref import mixed_install_check``
(under a private alias). This release's metapackage binds that name in
``asgiref/__init__.py``, so there the line costs nothing. Without it Python
imports this subpackage instead: with the split distributions alone (a bare
namespace package, nothing to warn about), or with upstream's
``asgiref/__init__.py`` installed over this release. The module cache then makes
the check run once per process.
"""

import sys

from asgiref.coexistence import warn_if_mixed

# The package from sys.modules rather than ``import asgiref``: with the splits
# alone it is a namespace package, which strict type checkers reject importing.
# stacklevel 2: the warning points at the module of this release being imported.
warn_if_mixed(sys.modules["asgiref"], stacklevel=2)
