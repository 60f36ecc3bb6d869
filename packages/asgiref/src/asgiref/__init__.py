"""asgiref: the ASGI base library, assembled from its split distributions.

Each public module (``asgiref.sync``, ``asgiref.wsgi``, ...) is shipped by its own
distribution; this metapackage depends on all of them and owns the version.
"""

from pkgutil import extend_path

# Editable installs put each split's ``src`` on sys.path separately; extending
# ``__path__`` lets ``asgiref.<module>`` resolve in every one of them.
__path__ = extend_path(__path__, __name__)

__version__ = "3.13.0"
