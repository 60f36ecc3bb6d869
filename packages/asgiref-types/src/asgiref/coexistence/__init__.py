"""Detect upstream asgiref's ``asgiref/__init__.py`` installed beside this release's modules.

Installing upstream asgiref over this release (an old ``asgiref==3.8.1`` pin, or
a resolver that took ``asgiref`` from PyPI for Django) replaces the one file both
ship, ``asgiref/__init__.py``, and leaves this release's module packages, which
shadow upstream's single-file modules of the same names. This release's code
then runs while ``asgiref.__version__`` reports upstream's, and ``pip check``
sees nothing wrong.

The first module of this release imported then warns, once per process, with
:class:`MixedInstallWarning` (through ``asgiref.mixed_install_check``, which each module
imports where this release's metapackage is missing). Importing this module
checks nothing, so a program can set a filter for the warning before the check
runs (``warnings.simplefilter("error", MixedInstallWarning)``).
"""

# Bound to True by this release's asgiref/__init__.py alone (see the comment there).
_MARKER = "mixed_install_check"
# The distribution that ships this module; all six share one version.
_DISTRIBUTION = "asgiref-types"


class MixedInstallWarning(RuntimeWarning):
    """Upstream asgiref's ``asgiref/__init__.py`` is installed beside this release's modules."""


def upstream_version(package: object) -> str | None:
    """Upstream's version if ``package``, the ``asgiref`` module, is upstream's.

    None for this release's metapackage, and for the bare namespace package
    that the split distributions make without it.
    """
    version = getattr(package, "__version__", None)
    if version is None or getattr(package, _MARKER, None) is True:
        return None
    return str(version)


def repair_command(release: str) -> str:
    """The command that puts this release's metapackage back in place of upstream's."""
    return f'python -m pip install "asgiref=={release}"'


def warn_if_mixed(package: object, stacklevel: int = 1) -> None:
    """Warn with :class:`MixedInstallWarning` if ``package`` is upstream's ``asgiref``.

    ``stacklevel`` counts as for :func:`warnings.warn`, from the caller.
    """
    upstream = upstream_version(package)
    if upstream is None:
        return
    # Imported only to warn: with the splits alone this module is loaded by
    # every first import of asgiref.typing, which otherwise loads nothing.
    import warnings

    release = _release()
    warnings.warn(
        f"asgiref {upstream} (upstream's asgiref/__init__.py) is installed beside the "
        f"modules of asgiref {release}, which shadow upstream's: this release's code "
        f"runs while asgiref.__version__ says {upstream}. A requirement or pin installed "
        f"upstream's asgiref in place of this release's. Repair: {repair_command(release)} "
        f"from the wheelhouse or index this release comes from, and keep upstream out "
        f"with a constraint asgiref=={release}.",
        MixedInstallWarning,
        stacklevel=stacklevel + 1,
    )


def _release() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(_DISTRIBUTION)
    except PackageNotFoundError:
        # Bundled without its metadata (a zipapp, a frozen binary): the check
        # runs during an import, which must not fail for want of a version.
        return "(the version of asgiref-types)"
