"""``Local``: an attribute namespace that is local to a thread or async task.

Default mode: values follow the context (``contextvars`` semantics), so in async
code each task sees its own, and they travel with the sync/async bridges of
``asgiref.sync`` in both directions. In a plain sync thread they behave like
``threading.local``: a thread that merely starts inside a copy of another
thread's context (Python 3.14 ``thread_inherit_context``) sees nothing.

``thread_critical=True``: strictly per-thread in sync code and per-context in
async code, and never carried across a bridge.
"""

from __future__ import annotations

import contextvars
import threading
from asyncio import _get_running_loop
from typing import Any, Final

__all__ = ["Local"]

_get_ident = threading.get_ident


class _Home:
    """Marks a context as owned by one plain sync thread.

    A context whose home is another thread's was inherited (copied at thread
    start), so none of its values belong to the current thread.
    """

    __slots__ = ("ident",)

    def __init__(self, ident: int) -> None:
        self.ident = ident


# A context no plain thread has claimed yet (e.g. a server's task).
_UNCLAIMED: Final = _Home(-2)

# The home of the current context. Each stored value carries the home it was
# written under and counts only in that home's thread, or (async code and
# bridged sync code) while that home is the context's current one.
_home: contextvars.ContextVar[_Home] = contextvars.ContextVar(
    "asgiref.local.home", default=_UNCLAIMED
)

# Fresh for every async side of an ``async_to_sync`` call: thread-critical
# values written by async code count only in the crossing that wrote them.
_crossing: contextvars.ContextVar[object] = contextvars.ContextVar(
    "asgiref.local.crossing", default=None
)


class _BridgeState(threading.local):
    # Above zero while this thread runs sync code handed over by a bridge;
    # such code legitimately uses a context that came from another thread.
    depth = 0


_bridge_state: Final = _BridgeState()


def _enter_bridge() -> None:
    _bridge_state.depth += 1


def _leave_bridge() -> None:
    _bridge_state.depth -= 1


def _owned_home() -> _Home:
    """The current home if code here may use this context's values, else a
    marker that matches no stored value."""
    home = _home.get()
    if home.ident == _get_ident():
        return home
    if _get_running_loop() is not None or _bridge_state.depth:
        return home
    return _FOREIGN


def _visible(written_under: _Home) -> bool:
    """Whether a value written under ``written_under`` counts here: in this
    thread's own home, or in the context's home in async or bridged code."""
    return written_under.ident == _get_ident() or written_under is _owned_home()


def _claim_home() -> _Home:
    """Make the context usable for writing here; a plain thread that found a
    foreign context takes it over with a fresh home (hiding inherited values)."""
    home = _owned_home()
    if home is _FOREIGN:
        home = _Home(_get_ident())
        _home.set(home)
    return home


def _mark_new_crossing() -> None:
    _crossing.set(object())


# Never any context's home: values compared against it are invisible.
_FOREIGN: Final = _Home(-1)

_ABSENT: Final = object()

# Names Local keeps for itself; user code may not assign them.
_RESERVED: Final = frozenset({"_data", "_thread_critical", "_threads"})


class Local:
    """Attribute storage local to the current thread or async task.

    ``Local()`` returns a default-mode instance, ``Local(thread_critical=True)``
    a strictly thread-local one. The class cannot be subclassed.
    """

    __slots__ = ("__weakref__", "_data", "_thread_critical")

    _data: dict[str, contextvars.ContextVar[Any]]
    _thread_critical: bool

    def __new__(cls, thread_critical: bool = False) -> Local:
        if cls is Local:
            cls = _ThreadCriticalLocal if thread_critical else _DefaultLocal
        elif cls not in (_DefaultLocal, _ThreadCriticalLocal):
            raise TypeError("asgiref.local.Local cannot be subclassed")
        instance = object.__new__(cls)
        object.__setattr__(instance, "_data", {})
        object.__setattr__(instance, "_thread_critical", cls is _ThreadCriticalLocal)
        if cls is _ThreadCriticalLocal:
            object.__setattr__(instance, "_threads", threading.local())
        return instance

    def __init__(self, thread_critical: bool = False) -> None:
        pass

    def _var(self, name: str) -> contextvars.ContextVar[Any]:
        if name in _RESERVED:
            raise AttributeError(f"{name!r} is reserved by asgiref.local.Local")
        var = self._data.get(name)
        if var is None:
            # setdefault is atomic: racing threads end up sharing one variable.
            var = self._data.setdefault(name, contextvars.ContextVar(f"Local.{name}"))
        return var

    # Every instance is one of the two subclasses below; these declare, for
    # type checkers, that any attribute may be read, written and deleted.
    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(name)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(name)

    def __repr__(self) -> str:
        mode = "thread_critical" if self._thread_critical else "default"
        return f"<asgiref.local.Local ({mode}) at {id(self):#x}>"


def _missing(name: str) -> AttributeError:
    return AttributeError(f"Local object has no attribute {name!r}")


# Reads of the instance's own slots from inside __getattribute__ (plain
# attribute access would recurse).
_data_of: Final = Local.__dict__["_data"].__get__
_object_getattribute: Final = object.__getattribute__


class _DefaultLocal(Local):
    # Each attribute is one ContextVar holding (home, value): a write is one
    # ContextVar.set with no copying, and task isolation comes for free. The
    # price is one variable per attribute name in every context that saw it.
    #
    # __getattribute__ rather than __getattr__: the fallback to __getattr__
    # builds and discards an AttributeError first, which on 3.10/3.11 costs
    # more than the whole lookup. Names starting with "_" that are not stored
    # values (methods, slots, dunders) go to the normal machinery.
    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        var = _data_of(self).get(name)
        if var is not None:
            entry = var.get(None)
            # Fast case first: written under this thread's own home. An entry
            # of another thread's home (an inherited context) fails it and
            # the general rule, which also admits the context's home in async
            # code and bridged sync code.
            if entry is not None and (entry[0].ident == _get_ident() or _visible(entry[0])):
                return entry[1]
        if name[:1] == "_":
            return _object_getattribute(self, name)
        raise _missing(name)

    def __setattr__(self, name: str, value: Any) -> None:
        var = _data_of(self).get(name) or self._var(name)
        home = _home.get()
        if home.ident != _get_ident():
            home = _claim_home()
        var.set((home, value))

    def __delattr__(self, name: str) -> None:
        var = self._var(name)
        entry = var.get(None)
        if entry is None or not _visible(entry[0]):
            raise _missing(name)
        var.set(None)


class _ThreadCriticalLocal(Local):
    # Sync code uses a real threading.local (one per instance); async code
    # uses ContextVars tagged with the crossing. __getattribute__ for the
    # same reason as above.
    __slots__ = ("_threads",)

    _threads: threading.local

    def __getattribute__(self, name: str) -> Any:
        if _get_running_loop() is None:
            value = _threads_of(self).__dict__.get(name, _ABSENT)
            if value is not _ABSENT:
                return value
        else:
            var = _data_of(self).get(name)
            if var is not None:
                entry = var.get(None)
                if entry is not None and entry[0] is _crossing.get():
                    return entry[1]
        if name[:1] == "_":
            return _object_getattribute(self, name)
        raise _missing(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _RESERVED:
            raise AttributeError(f"{name!r} is reserved by asgiref.local.Local")
        if _get_running_loop() is None:
            _threads_of(self).__dict__[name] = value
        else:
            self._var(name).set((_crossing.get(), value))

    def __delattr__(self, name: str) -> None:
        if name in _RESERVED:
            raise AttributeError(f"{name!r} is reserved by asgiref.local.Local")
        if _get_running_loop() is None:
            if _threads_of(self).__dict__.pop(name, _ABSENT) is _ABSENT:
                raise _missing(name)
            return
        var = self._var(name)
        entry = var.get(None)
        if entry is None or entry[0] is not _crossing.get():
            raise _missing(name)
        var.set(None)


_threads_of: Final = _ThreadCriticalLocal.__dict__["_threads"].__get__


def _local_get(local: Local, name: str, default: Any) -> Any:
    """``getattr(local, name, default)`` without raising internally (hot path)."""
    if type(local) is _DefaultLocal:
        var = _data_of(local).get(name)
        if var is None:
            return default
        entry = var.get(None)
        if entry is not None and _visible(entry[0]):
            return entry[1]
        return default
    return getattr(local, name, default)
