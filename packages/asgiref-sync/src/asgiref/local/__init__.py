"""``Local``: an attribute namespace that is local to a thread or async task.

Default mode: values follow the context (``contextvars`` semantics), so in async
code each task sees its own, and they travel with the sync/async bridges of
``asgiref.sync`` in both directions. In a plain sync thread they behave like
``threading.local``: a thread that merely starts inside a copy of another
thread's context (Python 3.14 ``thread_inherit_context``) sees nothing.

``thread_critical=True``: strictly per-thread in sync code and per-context in
async code, and never carried across a bridge.
"""

# Annotations are strings rather than a __future__ import (see asgiref.sync).

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast
from typing import final as final  # upstream's module has this name (it imports it)

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]

__all__ = ["Local"]

# Upstream's name for object.__setattr__, which its Local uses to set its own
# attributes; kept for code that reads it from here.
_object_setattr: Final = object.__setattr__

# asyncio's C-level "running loop of this thread, or None": the public
# get_running_loop() raises when there is none, which costs an exception per
# call on the hot paths of sync code.
_get_running_loop: Final = cast(
    "Callable[[], asyncio.AbstractEventLoop | None]", vars(asyncio.events)["_get_running_loop"]
)

if TYPE_CHECKING:
    from typing import TypeVar

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


# The current thread's _Home, as ``.home``. A plain threading.local (the C
# type itself) with the first-use case handled by the caller (try/except): a
# subclass with __init__ costs noticeably more per read, and this read is on
# every access of every Local.
_per_thread: Final = threading.local()


def _thread_home() -> "_Home":
    try:
        home: _Home = _per_thread.home  # no cast(): a Python-level call
    except AttributeError:
        return _new_thread_home()
    return home


def _new_thread_home() -> "_Home":
    home = _per_thread.home = _Home()
    return home


# A context no plain thread has claimed yet (e.g. a server's task).
_UNCLAIMED: Final = _Home()

# The home of the current context. Each stored value carries the home it was
# written under and counts only in that home's thread, or (async code and
# bridged sync code) while that home is the context's current one.
_home: "contextvars.ContextVar[_Home]" = contextvars.ContextVar(
    "asgiref.local.home", default=_UNCLAIMED
)

# Fresh for every async side of an ``async_to_sync`` call (asgiref.sync sets
# it to a new object there): thread-critical values written by async code
# count only in the crossing that wrote them.
_crossing: "contextvars.ContextVar[object]" = contextvars.ContextVar(
    "asgiref.local.crossing", default=None
)


# The functions below marked "reportUnusedFunction" are hooks for
# asgiref.sync, the only other user of this module's internals (same
# distribution); they are private to the pair, so pyright sees no user here.


class _BridgeThreadState(threading.local):
    """What a thread knows about the bridge calls it is serving.

    One class for both modules of the bridge (each class is a cost of
    ``import asgiref.sync``): ``depth`` is this module's, the rest is
    asgiref.sync's ``SyncToAsync.threadlocal``.
    """

    # Above zero while this thread runs sync code handed over by a bridge
    # (asgiref.sync counts it up and down); such code legitimately uses a
    # context that came from another thread.
    depth = 0
    # The loop (and its PID) of the async code this thread serves, and the
    # list of async_to_sync tasks it started (for cancellation).
    main_event_loop: "asyncio.AbstractEventLoop | None" = None
    main_event_loop_pid: "int | None" = None
    task_context: "list[asyncio.Task[Any]] | None" = None


_bridge_state: Final = _BridgeThreadState()


def _visible(written_under: "_Home") -> bool:
    """Whether a value written under ``written_under`` counts here: in this
    thread's own home, or in the context's home in async or bridged code."""
    return written_under is _thread_home() or (
        written_under is _home.get()
        and (_get_running_loop() is not None or _bridge_state.depth > 0)
    )


# Never any context's home: values compared against it are invisible.
_FOREIGN: Final = _Home()

_ABSENT: Final = object()

# Names Local keeps for itself; user code may not assign them.
_RESERVED: Final = frozenset({"_data", "_thread_critical", "_threads"})


# Default-mode storage. One ContextVar per attribute *name*, shared by every
# default-mode Local, holding in each context who wrote it:
#   (local, home, value)                       one Local uses the name here
#   (_SHARED, None, {local: (home, value)})     several do
#
# Keyed by name because a dict lookup by a str (hash cached) is the cheapest
# way from ``local.name`` to storage: reaching per-instance state from inside
# __getattribute__ takes a C call (slot descriptor or id()) that cost more
# than the ContextVar read itself. The trades: the first Local of a context
# to use a name stays cheapest, a second one makes writes copy a small dict;
# and entries refer to their Local, so a Local lives as long as some context
# holds a value it wrote (no cycle: a context never refers back).
_Entry = tuple[Any, Any, Any]
_SHARED: Final = object()
_UNSET: Final = cast("_Entry", (None, _FOREIGN, None))
_NOT_WRITTEN: Final = (_FOREIGN, None)
_storage: "dict[str, contextvars.ContextVar[_Entry]]" = {}


def _storage_for(name: str) -> "contextvars.ContextVar[_Entry]":
    var = _storage.get(name)
    if var is None:
        if name in _RESERVED:
            raise AttributeError(f"{name!r} is reserved by asgiref.local.Local")
        # setdefault is atomic: racing threads end up sharing one variable.
        var = _storage.setdefault(name, contextvars.ContextVar(f"Local.{name}", default=_UNSET))
    return var


def _written(local: "Local", entry: "_Entry") -> "tuple[Any, Any]":
    """(home, value) that ``local`` wrote in ``entry``, or _NOT_WRITTEN."""
    owner, home, value = entry
    if owner is local:
        return home, value
    if owner is _SHARED:
        return cast("dict[Local, tuple[Any, Any]]", value).get(local, _NOT_WRITTEN)
    return _NOT_WRITTEN


def _with_written(local: "Local", entry: "_Entry", written: "tuple[Any, Any] | None") -> "_Entry":
    """``entry`` with what ``local`` wrote replaced by ``written`` (None: removed)."""
    owner, home, value = entry
    if owner is local or owner is None:
        return _UNSET if written is None else (local, written[0], written[1])
    if owner is _SHARED:
        writers = dict(cast("dict[Local, tuple[Any, Any]]", value))
    else:
        writers = {owner: (home, value)}
    if written is None:
        writers.pop(local, None)
    else:
        writers[local] = written
    return (_SHARED, None, writers) if writers else _UNSET


class Local:
    """Attribute storage local to the current thread or async task.

    ``Local()`` returns a default-mode instance, ``Local(thread_critical=True)``
    a strictly thread-local one. The class cannot be subclassed.
    """

    __slots__ = ("__weakref__", "_thread_critical")

    _thread_critical: bool

    def __new__(cls, thread_critical: bool = False) -> "Local":
        if cls is Local:
            cls = _ThreadCriticalLocal if thread_critical else _DefaultLocal
        elif cls not in (_DefaultLocal, _ThreadCriticalLocal):
            raise TypeError("asgiref.local.Local cannot be subclassed")
        instance = object.__new__(cls)
        object.__setattr__(instance, "_thread_critical", cls is _ThreadCriticalLocal)
        if cls is _ThreadCriticalLocal:
            object.__setattr__(instance, "_data", {})
            object.__setattr__(instance, "_threads", threading.local())
        return instance

    def __init__(self, thread_critical: bool = False) -> None:
        pass

    if TYPE_CHECKING:
        # Every instance is one of the two subclasses below; these declare,
        # for type checkers, that any attribute may be read, written and
        # deleted. Only for them: a runtime __getattr__ anywhere in the
        # class hierarchy stops Python 3.12+ from inlining the subclasses'
        # __getattribute__ into the caller (its LOAD_ATTR specialisation).
        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

        def __delattr__(self, name: str) -> None: ...

    def __repr__(self) -> str:
        mode = "thread_critical" if self._thread_critical else "default"
        return f"<asgiref.local.Local ({mode}) at {id(self):#x}>"


def _missing(name: str) -> AttributeError:
    return AttributeError(f"Local object has no attribute {name!r}")


_object_getattribute: Final = object.__getattribute__


class _DefaultLocal(Local):
    # __getattribute__ rather than __getattr__: the fallback to __getattr__
    # builds and discards an AttributeError first, which on 3.10/3.11 costs
    # more than the whole lookup. Names starting with "_" that are not stored
    # values (methods, slots, dunders) go to the normal machinery.
    #
    # The hot paths inline _written, _thread_home and _visible: each call
    # saved is a sizeable part of an access.
    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        try:
            owner, written_under, value = _storage[name].get()
        except KeyError:  # no Local ever stored this name
            pass
        else:
            if owner is not self:
                if owner is _SHARED:
                    written_under, value = value.get(self, _NOT_WRITTEN)
                else:
                    written_under = _FOREIGN
            # Fast case first: written under this thread's own home. An entry
            # of another thread's home (an inherited context) fails it and
            # the general rule, which also admits the context's home in async
            # code and bridged sync code.
            try:
                mine = _per_thread.home
            except AttributeError:
                mine = _new_thread_home()
            if written_under is mine or (
                written_under is _home.get()
                and (_get_running_loop() is not None or _bridge_state.depth)
            ):
                return value
        if name[:1] == "_":
            return _object_getattribute(self, name)
        raise _missing(name)

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            var = _storage[name]
        except KeyError:
            var = _storage_for(name)
        entry = var.get()
        owner = entry[0]
        home = _home.get()
        try:
            mine = _per_thread.home
        except AttributeError:
            mine = _new_thread_home()
        if home is mine:
            # Writing the value this Local already holds here is a no-op
            # (common: Django re-activates the same cached translation,
            # timezone or urlconf object on every request); a ContextVar.set
            # of a new entry is by far the largest cost of a write.
            if owner is self and entry[1] is mine and entry[2] is value:
                return
        elif _get_running_loop() is None and not _bridge_state.depth:
            home = mine
            _home.set(home)
        if owner is self or owner is None:
            var.set((self, home, value))
        else:
            var.set(_with_written(self, entry, (home, value)))

    def __delattr__(self, name: str) -> None:
        var = _storage.get(name)
        if var is not None:
            entry = var.get()
            written_under, _ = _written(self, entry)
            if _visible(written_under):
                var.set(_with_written(self, entry, None))
                return
        raise _missing(name)


class _ThreadCriticalLocal(Local):
    # Sync code uses a real threading.local (one per instance); async code
    # uses ContextVars tagged with the crossing. __getattribute__ for the
    # same reason as above.
    __slots__ = ("_data", "_threads")

    _data: "dict[str, contextvars.ContextVar[Any]]"
    _threads: "threading.local"

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
            self._context_variable(name).set((_crossing.get(), value))

    def __delattr__(self, name: str) -> None:
        if name in _RESERVED:
            raise AttributeError(f"{name!r} is reserved by asgiref.local.Local")
        if _get_running_loop() is None:
            if _threads_of(self).__dict__.pop(name, _ABSENT) is _ABSENT:
                raise _missing(name)
            return
        var = self._context_variable(name)
        entry = var.get(None)
        if entry is None or entry[0] is not _crossing.get():
            raise _missing(name)
        var.set(None)

    def _context_variable(self, name: str) -> "contextvars.ContextVar[Any]":
        """The ContextVar behind ``<name>`` in async code, created on first use."""
        data: dict[str, contextvars.ContextVar[Any]] = _data_of(self)
        var = data.get(name)
        if var is None:
            # setdefault is atomic: racing threads end up sharing one variable.
            var = data.setdefault(name, contextvars.ContextVar(_CRITICAL_PREFIX + name))
        return var


# Names of the context variables of thread-critical values, which tell them
# from those of default-mode ones (``Local.<name>``).
_CRITICAL_PREFIX: Final = "Local(thread_critical=True)."


# Reads of the instance's own slots from inside __getattribute__ (plain
# attribute access would recurse).
_threads_of: Final = _ThreadCriticalLocal.__dict__["_threads"].__get__
_data_of: Final = _ThreadCriticalLocal.__dict__["_data"].__get__


def _local_get(local: "Local", name: str, default: Any) -> Any:  # pyright: ignore[reportUnusedFunction]
    """``getattr(local, name, default)`` without raising internally (hot path)."""
    if type(local) is _DefaultLocal:
        var = _storage.get(name)
        if var is None:
            return default
        written_under, value = _written(local, var.get())
        return value if _visible(written_under) else default
    return getattr(local, name, default)


def _push_value(  # pyright: ignore[reportUnusedFunction]
    local: "Local", name: str, make: "Callable[[Any], _T]"
) -> "tuple[_T, Callable[[], None]]":
    """Set ``local.<name>`` to ``make(value visible before)`` here, claiming
    the context as a write does; returns the new value and an undo.

    For the bridge's per-call bookkeeping: one home check instead of one per
    read and per write, and the undo restores exactly what ``local`` had
    written before, leaving what other Locals wrote under the same name (say,
    values that flowed back from the call) alone.
    """
    # Every async_to_sync call comes here: the home claim and _visible are
    # inlined (one thread-home read for both). The home written under is the
    # context's, except that a plain thread finding a foreign context takes
    # it over with its own home (as __setattr__ does).
    home = _home.get()
    try:
        mine: _Home = _per_thread.home
    except AttributeError:
        mine = _new_thread_home()
    async_or_bridged = _get_running_loop() is not None or _bridge_state.depth > 0
    if home is not mine and not async_or_bridged:
        home = mine
        _home.set(home)
    if type(local) is not _DefaultLocal:
        previous = getattr(local, name, None)
        value = make(previous)
        setattr(local, name, value)
        return value, functools.partial(setattr, local, name, previous)
    var = _storage_for(name)
    entry = var.get()
    before = _written(local, entry)
    visible = before[0] is mine or (before[0] is home and async_or_bridged)
    value = make(before[1] if visible else None)
    pushed = _with_written(local, entry, (home, value))
    var.set(pushed)
    # A partial of a module function: cheaper to build than a closure (this
    # runs on every async_to_sync call).
    return value, functools.partial(_pop_value, var, local, entry, pushed, before)


def _pop_value(
    var: "contextvars.ContextVar[_Entry]",
    local: "Local",
    entry: "_Entry",
    pushed: "_Entry",
    before: "tuple[Any, Any]",
) -> None:
    """The undo of :func:`_push_value`."""
    current = var.get()
    if current is pushed:
        # Nothing wrote the name since the push: the entry from before is exact.
        var.set(entry)
        return
    var.set(_with_written(local, current, None if before is _NOT_WRITTEN else before))


# -- moving a context onto another thread (asgiref.sync._restore_context) -----------


class _Storage:
    """Upstream's record of a default-mode ``Local``'s values and the thread
    they belong to, in its shape (``_Storage(thread_id, data)``).

    Our ``Local`` does not store values in it (see the storage notes above);
    it exists for code that builds or re-homes such records itself, and
    ``_restore_context`` re-homes any it finds, as upstream's does.
    """

    __slots__ = ("data", "thread_id")

    def __init__(self, thread_id: int, data: "dict[str, Any]") -> None:
        self.thread_id = thread_id
        self.data = data


def _rehome(storage: "_Storage") -> "_Storage":
    """A record of the same values that belongs to the current thread."""
    return _Storage(threading.get_ident(), storage.data)


# What _moved_here returns for a variable whose value must not be moved.
_MOVE_LEAVES_ALONE: Final = object()


def _moved_here(var: "contextvars.ContextVar[Any]", value: Any) -> Any:  # pyright: ignore[reportUnusedFunction]
    """The value ``var`` takes when a context holding ``value`` is moved onto
    the current thread on purpose.

    Default-mode ``Local`` values become this thread's own (written under its
    home, which also becomes the context's), so they are visible here in sync
    and async code alike, as upstream's re-homing makes them; thread-critical
    values stay with the thread that set them (_MOVE_LEAVES_ALONE).
    """
    if type(value) is _Storage:
        return _rehome(value)
    name = var.name
    if name.startswith(_CRITICAL_PREFIX):
        return _MOVE_LEAVES_ALONE
    if var is _home:
        return _thread_home()
    if name.startswith("Local.") and _storage.get(name[6:]) is var:
        return _rehomed_entry(value, _thread_home())
    return value


def _rehomed_entry(entry: "_Entry", home: "_Home") -> "_Entry":
    owner, _, value = entry
    if owner is None:  # nothing written
        return entry
    if owner is _SHARED:
        writers = cast("dict[Local, tuple[Any, Any]]", value)
        return (_SHARED, None, {local: (home, held) for local, (_, held) in writers.items()})
    return (owner, home, value)
