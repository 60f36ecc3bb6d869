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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import PackagePath
    from pathlib import Path

# Bound to True by this release's asgiref/__init__.py alone (see the comment there).
_MARKER = "mixed_install_check"
# The distribution that ships this module; all six share one version.
_DISTRIBUTION = "asgiref-types"


class MixedInstallWarning(RuntimeWarning):
    """Upstream asgiref's ``asgiref/__init__.py`` (or a fork's, such as asgire's) is
    installed beside this release's modules."""


def upstream_version(package: object) -> str | None:
    """Upstream's version if ``package``, the ``asgiref`` module, is upstream's.

    None for this release's metapackage, and for the bare namespace package
    that the split distributions make without it.
    """
    version = getattr(package, "__version__", None)
    if version is None or getattr(package, _MARKER, None) is True:
        return None
    return str(version)


def repair_command(release: str, fork: str | None = None) -> str:
    """The command that puts this release's metapackage back in place of upstream's,
    or of ``fork``'s (a distribution of another name that ships ``asgiref/__init__.py``).
    """
    if fork is None:
        return f'python -m pip install "asgiref=={release}"'
    # pip sees no conflict between two names: the fork must go, and its
    # uninstall deletes the shared file, which only a forced reinstall restores.
    reinstall = f'python -m pip install --force-reinstall "asgiref=={release}"'
    return f"python -m pip uninstall -y {fork} && {reinstall}"


def warn_if_mixed(package: object, stacklevel: int = 1) -> None:
    """Warn with :class:`MixedInstallWarning` if ``package`` is upstream's ``asgiref``
    (or a fork's, named as such).

    ``stacklevel`` counts as for :func:`warnings.warn`, from the caller.
    """
    upstream = upstream_version(package)
    if upstream is None:
        return
    # Imported only to warn: with the splits alone this module is loaded by
    # every first import of asgiref.typing, which otherwise loads nothing.
    import warnings

    release = _release()
    fork = _fork_owning(package)
    if fork is None:
        installed, owner = f"asgiref {upstream} (upstream's asgiref/__init__.py)", "upstream's"
        cause = "A requirement or pin installed upstream's asgiref in place of this release's"
        keep_out = f"keep upstream out with a constraint asgiref=={release}"
    else:
        installed, owner = f"{fork} {upstream} ({fork}'s asgiref/__init__.py)", f"{fork}'s"
        cause = f"The {fork} fork (another name for the same package) put its file there"
        keep_out = f"drop {fork} from the requirements"
    warnings.warn(
        f"{installed} is installed beside the modules of asgiref {release}, which shadow "
        f"{owner}: this release's code runs while asgiref.__version__ says {upstream}. "
        f"{cause}. Repair: {repair_command(release, fork)} from the wheelhouse or index "
        f"this release comes from, and {keep_out}.",
        MixedInstallWarning,
        stacklevel=stacklevel + 1,
    )


# Distributions of other names that install their own asgiref/__init__.py.
_FORKS = ("asgire",)


def _fork_owning(package: object) -> str | None:
    """The fork whose installed files include the file ``package`` was loaded from.

    The file's owner, not the fork's presence, decides: upstream installed last
    wins the shared file even where the fork is still installed.
    """
    loaded = getattr(package, "__file__", None)
    if not isinstance(loaded, str):
        return None
    from importlib.metadata import PackageNotFoundError, distribution
    from pathlib import Path

    target = Path(loaded).resolve()
    for name in _FORKS:
        try:
            files = distribution(name).files or []
        except PackageNotFoundError:
            continue
        for file in files:
            if Path(str(file.locate())).resolve() == target and _content_recorded(file, target):
                return name
    return None


def _content_recorded(file: "PackagePath", target: "Path") -> bool:
    """Whether ``target`` still holds what the RECORD entry ``file`` says was written.

    Upstream installed after the fork overwrites the file the fork's RECORD
    still lists: only the recorded hash tells whose content is there.
    """
    if file.hash is None or file.hash.mode != "sha256":
        return True
    import base64
    import hashlib

    digest = hashlib.sha256(target.read_bytes()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == file.hash.value


def _release() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(_DISTRIBUTION)
    except PackageNotFoundError:
        # Bundled without its metadata (a zipapp, a frozen binary): the check
        # runs during an import, which must not fail for want of a version.
        return "(the version of asgiref-types)"
