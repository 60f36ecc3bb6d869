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

# Upstream's module binds these names (its imports); code may read them here.
import asyncio as asyncio
import contextvars
import threading
from typing import TYPE_CHECKING, Any, Final
from typing import final as final  # upstream's module has this name (it imports it)

from asgiref import mixed_install_check as _mixed_install_check  # noqa: F401  # pyright: ignore[reportUnusedImport]
from asgiref.local._cpython import get_running_loop as _get_running_loop
from asgiref.local._store import CRITICAL_PREFIX as _CRITICAL_PREFIX
from asgiref.local._store import FOREIGN as _FOREIGN
from asgiref.local._store import NOT_WRITTEN as _NOT_WRITTEN
from asgiref.local._store import RESERVED as _RESERVED
from asgiref.local._store import SHARED as _SHARED
from asgiref.local._store import ContextStored as _ContextStored
from asgiref.local._store import Storage, crossing, home_var, rehome
from asgiref.local._store import bridge_state as _bridge_state
from asgiref.local._store import new_thread_home as _new_thread_home
from asgiref.local._store import per_thread as _per_thread
from asgiref.local._store import storage as _storage
from asgiref.local._store import storage_for as _storage_for
from asgiref.local._store import visible as _visible
from asgiref.local._store import with_written as _with_written
from asgiref.local._store import written as _written

__all__ = ["Local"]

# Upstream's names: object.__setattr__ (its Local sets its own attributes
# with it), and its value record and re-homing function (see _store).
_object_setattr: Final = object.__setattr__
_Storage = Storage
_rehome = rehome

_ABSENT: Final = object()

# Bound by assignment, not by import: for a name bound by an import, Python
# 3.11 compiles ``name.method()`` without its method-call fast path, which
# cost writes in sync code about a fifth of their time.
_home: Final = home_var
_crossing: Final = crossing
del crossing, home_var


class Local:
    """Attribute storage local to the current thread or async task.

    ``Local()`` returns a default-mode instance, ``Local(thread_critical=True)``
    a strictly thread-local one. The class cannot be subclassed.
    """

    __slots__ = ("__weakref__", "_thread_critical")

    _thread_critical: bool

    def __new__(cls, thread_critical: bool = False) -> Local:
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


class _DefaultLocal(Local, _ContextStored):
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
        owner, written_under, held = entry
        home = _home.get()
        try:
            mine = _per_thread.home
        except AttributeError:
            mine = _new_thread_home()
        if home is mine:
            # The common write (this thread's context, the name this Local's
            # alone) settles here, with the fewest tests before the set.
            if owner is self:
                # Writing the value this Local already holds here is a no-op
                # (common: Django re-activates the same cached translation,
                # timezone or urlconf object on every request); a
                # ContextVar.set is by far the largest cost of a write.
                if held is not value or written_under is not mine:
                    var.set((self, mine, value))
                return
            if owner is _SHARED:
                # Several Locals use the name (Django's translation, timezone
                # and urlconf Locals all store ``.value``): the same no-op,
                # else a copy of the writers (other contexts share the dict)
                # built here rather than through _with_written, a call that
                # cost such writes about a tenth of their time.
                had = held.get(self)
                if had is None or had[1] is not value or had[0] is not mine:
                    writers = held.copy()
                    writers[self] = (mine, value)
                    var.set((_SHARED, None, writers))
                return
        elif _get_running_loop() is None and not _bridge_state.depth:
            home = mine
            _home.set(home)
        elif owner is self and held is value and written_under is home:
            # The same no-op in async or bridged code, where the home the
            # entry needs is the context's, not this thread's.
            return
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

    _data: dict[str, contextvars.ContextVar[Any]]
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

    def _context_variable(self, name: str) -> contextvars.ContextVar[Any]:
        """The ContextVar behind ``<name>`` in async code, created on first use."""
        data: dict[str, contextvars.ContextVar[Any]] = _data_of(self)
        var = data.get(name)
        if var is None:
            # setdefault is atomic: racing threads end up sharing one variable.
            var = data.setdefault(name, contextvars.ContextVar(_CRITICAL_PREFIX + name))
        return var


# Reads of the instance's own slots from inside __getattribute__ (plain
# attribute access would recurse).
_threads_of: Final = _ThreadCriticalLocal.__dict__["_threads"].__get__
_data_of: Final = _ThreadCriticalLocal.__dict__["_data"].__get__
