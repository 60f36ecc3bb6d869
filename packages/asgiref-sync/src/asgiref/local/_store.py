"""Where ``Local`` values live: thread homes, the per-name context variables,
what a thread knows about the bridge calls it serves, and the hooks through
which asgiref.sync reads, pushes and moves values without attribute access.

Not API: the names carry no underscore because other modules of
asgiref-sync use them (``Local`` itself, and the bridge); none is exported.

Storage, in short: one ContextVar per attribute *name*, shared by every
default-mode ``Local``, holding in each context who wrote it::

    (local, home, value)                      one Local uses the name here
    (SHARED, None, {local: (home, value)})     several do

Keyed by name because a dict lookup by a str (hash cached) is the cheapest
way from ``local.name`` to storage; reaching per-instance state from inside
``__getattribute__`` takes a C call that costs more than the ContextVar read.
The trades: the first Local of a context to use a name stays cheapest, a
second one makes writes copy a small dict; and entries refer to their Local,
so a Local lives as long as some context holds a value it wrote.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

from asgiref.local._cpython import get_running_loop

__all__: list[str] = []  # nothing here is API


class Home:
    """Marks the values one sync thread owns, and the contexts it claimed.

    Each thread has exactly one, created on first use there and compared by
    identity. Not ``threading.get_ident()``: the OS hands an ended thread's
    ident to the next new thread at once, which would then pass for the old
    one and see the values of every context that old thread left behind.
    """

    __slots__ = ()


# The current thread's Home, as ``.home``. A plain threading.local with the
# first-use case handled by the caller (try/except): a subclass with
# __init__ costs noticeably more per read, and this read is on every access.
per_thread: Final = threading.local()


def thread_home() -> Home:
    """This thread's Home, created on first use."""
    try:
        home: Home = per_thread.home
    except AttributeError:
        return new_thread_home()
    return home


def new_thread_home() -> Home:
    """Create and record this thread's Home (its first use)."""
    home = per_thread.home = Home()
    return home


# A context no plain thread has claimed yet (e.g. a server's task).
UNCLAIMED: Final = Home()

# Never any context's home: values compared against it are invisible.
FOREIGN: Final = Home()

# The home of the current context. Each stored value carries the home it was
# written under and counts only in that home's thread, or (async code and
# bridged sync code) while that home is the context's current one.
home_var: contextvars.ContextVar[Home] = contextvars.ContextVar(
    "asgiref.local.home", default=UNCLAIMED
)

# Fresh for every async side of an ``async_to_sync`` call (asgiref.sync sets
# it to a new object there): thread-critical values written by async code
# count only in the crossing that wrote them.
crossing: contextvars.ContextVar[object] = contextvars.ContextVar(
    "asgiref.local.crossing", default=None
)


class BridgeThreadState(threading.local):
    """What a thread knows about the bridge calls it is serving.

    ``depth`` is counted by asgiref.sync and read by ``Local``; the rest is
    asgiref.sync's ``SyncToAsync.threadlocal``.
    """

    # Above zero while this thread runs sync code handed over by a bridge;
    # such code legitimately uses a context that came from another thread.
    depth = 0
    # The loop (and its PID) of the async code this thread serves, and the
    # list of async_to_sync tasks it started (for cancellation).
    main_event_loop: asyncio.AbstractEventLoop | None = None
    main_event_loop_pid: int | None = None
    task_context: list[asyncio.Task[Any]] | None = None


bridge_state: Final = BridgeThreadState()


def visible(written_under: Home) -> bool:
    """Whether a value written under ``written_under`` counts here: in this
    thread's own home, or in the context's home in async or bridged code."""
    return written_under is thread_home() or (
        written_under is home_var.get()
        and (get_running_loop() is not None or bridge_state.depth > 0)
    )


Entry = tuple[Any, Any, Any]
SHARED: Final = object()
UNSET: Final = cast("Entry", (None, FOREIGN, None))
NOT_WRITTEN: Final = (FOREIGN, None)
storage: dict[str, contextvars.ContextVar[Entry]] = {}

# Names Local keeps for itself; user code may not assign them.
RESERVED: Final = frozenset({"_data", "_thread_critical", "_threads"})

# Names of the context variables of thread-critical values, which tell them
# from those of default-mode ones (``Local.<name>``).
CRITICAL_PREFIX: Final = "Local(thread_critical=True)."


def storage_for(name: str) -> contextvars.ContextVar[Entry]:
    """The context variable behind attribute ``name``, created on first use."""
    var = storage.get(name)
    if var is None:
        if name in RESERVED:
            raise AttributeError(f"{name!r} is reserved by asgiref.local.Local")
        # setdefault is atomic: racing threads end up sharing one variable.
        var = storage.setdefault(name, contextvars.ContextVar(f"Local.{name}", default=UNSET))
    return var


def written(local: object, entry: Entry) -> tuple[Any, Any]:
    """(home, value) that ``local`` wrote in ``entry``, or NOT_WRITTEN."""
    owner, home, value = entry
    if owner is local:
        return home, value
    if owner is SHARED:
        return cast("dict[object, tuple[Any, Any]]", value).get(local, NOT_WRITTEN)
    return NOT_WRITTEN


def with_written(local: object, entry: Entry, new: tuple[Any, Any] | None) -> Entry:
    """``entry`` with what ``local`` wrote replaced by ``new`` (None: removed)."""
    owner, home, value = entry
    if owner is local or owner is None:
        return UNSET if new is None else (local, new[0], new[1])
    if owner is SHARED:
        writers = dict(cast("dict[object, tuple[Any, Any]]", value))
    else:
        writers = {owner: (home, value)}
    if new is None:
        writers.pop(local, None)
    else:
        writers[local] = new
    return (SHARED, None, writers) if writers else UNSET


class ContextStored:
    """Marks the ``Local`` classes whose values live in :data:`storage`
    (default mode); thread-critical ones keep theirs elsewhere."""

    __slots__ = ()


# -- the hooks of asgiref.sync ------------------------------------------------

_T = TypeVar("_T")


def local_get(local: object, name: str, default: Any) -> Any:
    """``getattr(local, name, default)`` without raising internally (hot path)."""
    if isinstance(local, ContextStored):
        var = storage.get(name)
        if var is None:
            return default
        written_under, value = written(local, var.get())
        return value if visible(written_under) else default
    return getattr(local, name, default)


def push_value(
    local: object, name: str, make: Callable[[Any], _T]
) -> tuple[_T, Callable[[], None]]:
    """Set ``local.<name>`` to ``make(value visible before)`` here, claiming
    the context as a write does; returns the new value and an undo.

    For the bridge's per-call bookkeeping: one home check instead of one per
    read and per write, and the undo restores exactly what ``local`` had
    written before, leaving what other Locals wrote under the same name (say,
    values that flowed back from the call) alone.
    """
    # Every async_to_sync call comes here: the home claim and visible() are
    # inlined (one thread-home read for both). A plain thread finding a
    # foreign context takes it over with its own home, as a write does.
    home = home_var.get()
    try:
        mine: Home = per_thread.home
    except AttributeError:
        mine = new_thread_home()
    async_or_bridged = get_running_loop() is not None or bridge_state.depth > 0
    if home is not mine and not async_or_bridged:
        home = mine
        home_var.set(home)
    if not isinstance(local, ContextStored):
        previous = getattr(local, name, None)
        value = make(previous)
        setattr(local, name, value)
        return value, functools.partial(setattr, local, name, previous)
    var = storage_for(name)
    entry = var.get()
    before = written(local, entry)
    seen = before[0] is mine or (before[0] is home and async_or_bridged)
    value = make(before[1] if seen else None)
    pushed = with_written(local, entry, (home, value))
    var.set(pushed)
    # A partial of a module function: cheaper to build than a closure.
    return value, functools.partial(_pop_value, var, local, entry, pushed, before)


def _pop_value(
    var: contextvars.ContextVar[Entry],
    local: object,
    entry: Entry,
    pushed: Entry,
    before: tuple[Any, Any],
) -> None:
    # The undo of push_value.
    current = var.get()
    if current is pushed:
        # Nothing wrote the name since the push: the entry from before is exact.
        var.set(entry)
        return
    var.set(with_written(local, current, None if before is NOT_WRITTEN else before))


class Storage:
    """Upstream's record of a default-mode ``Local``'s values and the thread
    they belong to, in its shape (``_Storage(thread_id, data)``).

    Our ``Local`` does not store values in it (see asgiref.local._store); it
    exists for code that builds or re-homes such records itself, and
    ``_restore_context`` re-homes any it finds, as upstream's does.
    """

    __slots__ = ("data", "thread_id")

    def __init__(self, thread_id: int, data: dict[str, Any]) -> None:
        self.thread_id = thread_id
        self.data = data


def rehome(storage: Storage) -> Storage:
    """A record of the same values that belongs to the current thread."""
    return Storage(threading.get_ident(), storage.data)


# What moved_here returns for a variable whose value must not be moved.
MOVE_LEAVES_ALONE: Final = object()


def moved_here(var: contextvars.ContextVar[Any], value: Any) -> Any:
    """The value ``var`` takes when a context holding ``value`` is moved onto
    the current thread on purpose.

    Default-mode ``Local`` values become this thread's own (written under its
    home, which also becomes the context's), so they are visible here in sync
    and async code alike, as upstream's re-homing makes them; thread-critical
    values stay with the thread that set them (MOVE_LEAVES_ALONE).
    """
    if type(value) is Storage:
        return rehome(value)
    name = var.name
    if name.startswith(CRITICAL_PREFIX):
        return MOVE_LEAVES_ALONE
    if var is home_var:
        return thread_home()
    if name.startswith("Local.") and storage.get(name[6:]) is var:
        return _rehomed_entry(value, thread_home())
    return value


def _rehomed_entry(entry: Entry, home: Home) -> Entry:
    owner, _, value = entry
    if owner is None:  # nothing written
        return entry
    if owner is SHARED:
        writers = cast("dict[object, tuple[Any, Any]]", value)
        return (SHARED, None, {local: (home, held) for local, (_, held) in writers.items()})
    return (owner, home, value)
