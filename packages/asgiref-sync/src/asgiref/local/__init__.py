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

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

__all__ = ["Local"]

# asyncio's C-level "running loop of this thread, or None": the public
# get_running_loop() raises when there is none, which costs an exception per
# call on the hot paths of sync code.
_get_running_loop: Final[Callable[[], asyncio.AbstractEventLoop | None]] = vars(asyncio.events)[
    "_get_running_loop"
]

_T = TypeVar("_T")


class _Home:
    """Marks the values one sync thread owns, and the contexts it claimed.

    Each thread has exactly one, created on first use there and compared by
    identity. Not ``threading.get_ident()``: the OS hands an ended thread's
    ident to the next new thread at once, which would then pass for the old
    one and see the values of every context that old thread left behind.
    A ``_Home`` cannot be reused while anything still refers to it.
    """

    __slots__ = ()


class _ThreadHome(threading.local):
    # threading.local runs __init__ once per thread, on first access there.
    def __init__(self) -> None:
        self.home = _Home()


_thread_home: Final = _ThreadHome()


# A context no plain thread has claimed yet (e.g. a server's task).
_UNCLAIMED: Final = _Home()

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


# The functions below marked "reportUnusedFunction" are hooks for
# asgiref.sync, the only other user of this module's internals (same
# distribution); they are private to the pair, so pyright sees no user here.


class _BridgeState(threading.local):
    # Above zero while this thread runs sync code handed over by a bridge;
    # such code legitimately uses a context that came from another thread.
    depth = 0


_bridge_state: Final = _BridgeState()


def _enter_bridge() -> None:  # pyright: ignore[reportUnusedFunction]
    _bridge_state.depth += 1


def _leave_bridge() -> None:  # pyright: ignore[reportUnusedFunction]
    _bridge_state.depth -= 1


def _owned_home() -> _Home:
    """The current home if code here may use this context's values, else a
    marker that matches no stored value."""
    home = _home.get()
    if home is _thread_home.home:
        return home
    if _get_running_loop() is not None or _bridge_state.depth:
        return home
    return _FOREIGN


def _visible(written_under: _Home) -> bool:
    """Whether a value written under ``written_under`` counts here: in this
    thread's own home, or in the context's home in async or bridged code."""
    return written_under is _thread_home.home or written_under is _owned_home()


def _claim_home() -> _Home:
    """Make the context usable for writing here; a plain thread that found a
    foreign context takes it over with its own home (hiding inherited values)."""
    home = _owned_home()
    if home is _FOREIGN:
        home = _thread_home.home
        _home.set(home)
    return home


def _mark_new_crossing() -> None:  # pyright: ignore[reportUnusedFunction]
    _crossing.set(object())


# Never any context's home: values compared against it are invisible.
_FOREIGN: Final = _Home()

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
        return _variable(self, name)

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


def _variable(local: Local, name: str) -> contextvars.ContextVar[Any]:
    """The ContextVar behind ``local.<name>``, created on first use."""
    if name in _RESERVED:
        raise AttributeError(f"{name!r} is reserved by asgiref.local.Local")
    data: dict[str, contextvars.ContextVar[Any]] = _data_of(local)
    var = data.get(name)
    if var is None:
        # setdefault is atomic: racing threads end up sharing one variable.
        var = data.setdefault(name, contextvars.ContextVar(f"Local.{name}"))
    return var


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
            # (_visible, inlined: this is the hot path of every read.)
            if entry is not None:
                written_under = entry[0]
                if written_under is _thread_home.home or (
                    written_under is _home.get()
                    and (_get_running_loop() is not None or _bridge_state.depth)
                ):
                    return entry[1]
        if name[:1] == "_":
            return _object_getattribute(self, name)
        raise _missing(name)

    def __setattr__(self, name: str, value: Any) -> None:
        var = _data_of(self).get(name) or self._var(name)
        # (_claim_home, inlined: this is the hot path of every write.)
        home = _home.get()
        if (
            home is not _thread_home.home
            and _get_running_loop() is None
            and not _bridge_state.depth
        ):
            home = _thread_home.home
            _home.set(home)
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


def _local_get(local: Local, name: str, default: Any) -> Any:  # pyright: ignore[reportUnusedFunction]
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


def _push_value(  # pyright: ignore[reportUnusedFunction]
    local: Local, name: str, make: Callable[[Any], _T]
) -> tuple[_T, Callable[[], None]]:
    """Set ``local.<name>`` to ``make(value visible before)`` here, claiming
    the context as a write does; returns the new value and an undo.

    For the bridge's per-call bookkeeping: one home check instead of one per
    read and per write, and the undo restores the exact earlier entry.
    """
    home = _claim_home()
    if type(local) is not _DefaultLocal:
        previous = getattr(local, name, None)
        value = make(previous)
        setattr(local, name, value)
        return value, functools.partial(setattr, local, name, previous)
    var = _data_of(local).get(name) or _variable(local, name)
    entry = var.get(None)
    previous = None
    if entry is not None and (entry[0] is home or entry[0] is _thread_home.home):
        previous = entry[1]
    value = make(previous)
    return value, functools.partial(var.reset, var.set((home, value)))
