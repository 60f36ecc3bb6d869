"""Small, composable checks for values found in scopes and messages.

Each rule answers one question about a value: ``find(value)`` returns None when
the value is fine, or a ``Violation`` naming where inside the value (a path of
keys and indexes) and which rule was broken. The spec tables in ``_spec`` are
built only from these pieces, so every rule is written exactly once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, cast

PathPart = str | int


_NOTHING = object()


@dataclass(frozen=True)
class Violation:
    """Where a value breaks a rule (a path relative to the value checked), and how."""

    path: tuple[PathPart, ...]
    rule: str
    value: object = _NOTHING

    def under(self, *prefix: PathPart) -> Violation:
        return Violation((*prefix, *self.path), self.rule, self.value)

    def describe(self) -> str:
        if self.value is _NOTHING:
            return self.rule
        return f"{self.rule} (got {_shown(self.value)})"


class Rule(Protocol):
    def find(self, value: object) -> Violation | None: ...


def as_dict(value: object) -> dict[object, object] | None:
    """The value as a dict of unknown content, or None when it is not a dict."""
    return cast("dict[object, object]", value) if isinstance(value, dict) else None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _broken(rule: str, value: object) -> Violation:
    return Violation((), rule, value)


@dataclass(frozen=True)
class Const:
    """Exactly this value."""

    value: object

    def find(self, value: object) -> Violation | None:
        if value == self.value and type(value) is type(self.value):
            return None
        return _broken(f"must be {self.value!r}", value)


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of strings."""

    values: tuple[str, ...]

    def find(self, value: object) -> Violation | None:
        if isinstance(value, str) and value in self.values:
            return None
        return _broken(f"must be one of {', '.join(map(repr, self.values))}", value)


@dataclass(frozen=True)
class Bytes:
    def find(self, value: object) -> Violation | None:
        return None if isinstance(value, bytes) else _broken("must be a byte string", value)


@dataclass(frozen=True)
class Bool:
    def find(self, value: object) -> Violation | None:
        return None if isinstance(value, bool) else _broken("must be a bool", value)


@dataclass(frozen=True)
class Text:
    """A Unicode string, optionally non-empty, upper-case or an absolute path."""

    non_empty: bool = False
    upper: bool = False
    absolute_path: bool = False

    def find(self, value: object) -> Violation | None:
        if not isinstance(value, str):
            return _broken("must be a Unicode string", value)
        if self.non_empty and not value:
            return _broken("must not be empty", value)
        if self.upper and value != value.upper():
            return _broken("must be upper-case", value)
        if self.absolute_path and not os.path.isabs(value):
            return _broken("must be an absolute file path", value)
        return None


@dataclass(frozen=True)
class Int:
    """An int (bool excluded) within an inclusive range."""

    low: int | None = None
    high: int | None = None
    meaning: str = "an int"

    def find(self, value: object) -> Violation | None:
        in_range = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (self.low is None or value >= self.low)
            and (self.high is None or value <= self.high)
        )
        if in_range:
            return None
        if self.low is not None and self.high is not None:
            return _broken(f"must be {self.meaning} from {self.low} to {self.high}", value)
        if self.low is not None:
            return _broken(f"must be {self.meaning} >= {self.low}", value)
        return _broken(f"must be {self.meaning}", value)


@dataclass(frozen=True)
class Nullable:
    """None, or whatever the inner rule accepts."""

    inner: Rule

    def find(self, value: object) -> Violation | None:
        if value is None:
            return None
        found = self.inner.find(value)
        if found is None or found.path:
            return found
        return Violation((), f"{found.rule} or None", value)


def _items(value: object, rule: str) -> tuple[list[object] | None, Violation | None]:
    """The items of a re-iterable container; a one-shot iterator is left unconsumed.

    Strings, bytes and mappings are iterable too, but never what the spec means
    by an iterable of items; they break ``rule``.
    """
    shown: object = value  # kept apart from the narrowing below
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        return None, _broken(rule, shown)
    iterable = cast("Iterable[object]", value)
    if iter(iterable) is iterable:
        # Checking would consume what the receiver needs; accept it unread.
        return None, None
    return list(iterable), None


def _pair(value: object, rule: str) -> tuple[tuple[object, object] | None, Violation | None]:
    """The two items of a two-item iterable (the spec's ``[a, b]``), else what is wrong.

    ``(None, None)``: a one-shot iterator, accepted unread like in ``_items``.
    """
    items, problem = _items(value, rule)
    if items is None:
        return None, problem
    if len(items) != 2:
        return None, _broken(rule, value)
    return (items[0], items[1]), None


@dataclass(frozen=True)
class Each:
    """An iterable whose every item passes the inner rule."""

    inner: Rule
    what: str

    def find(self, value: object) -> Violation | None:
        items, problem = _items(value, f"must be an iterable of {self.what}")
        for index, item in enumerate(items or ()):
            found = self.inner.find(item)
            if found is not None:
                return found.under(index)
        return problem


@dataclass(frozen=True)
class HeaderPairs:
    """``[name, value]`` byte-string pairs, with the naming rules of one direction."""

    lowercase_names: bool
    forbidden: tuple[bytes, ...] = ()

    def find(self, value: object) -> Violation | None:
        items, problem = _items(value, "must be an iterable of [name, value] byte-string pairs")
        for index, pair in enumerate(items or ()):
            found = self._check_pair(pair)
            if found is not None:
                return found.under(index)
        return problem

    def _check_pair(self, pair: object) -> Violation | None:
        both, problem = _pair(pair, "must be a two-item [name, value] pair")
        if both is None:
            return problem
        name, content = both
        if not isinstance(name, bytes):
            return _broken("must be a byte string", name).under(0)
        if not isinstance(content, bytes):
            return _broken("must be a byte string", content).under(1)
        if name.startswith(b":"):
            return _broken("must not be an HTTP/2 or HTTP/3 pseudo header", name).under(0)
        if self.lowercase_names and name != name.lower():
            return _broken("must be a lower-case header name", name).under(0)
        if name.lower() in self.forbidden:
            return _broken("is not allowed here", name).under(0)
        return None


@dataclass(frozen=True)
class Address:
    """A two-item ``[host, port]``; a unix socket server is ``[path, None]``."""

    port_may_be_none: bool

    def find(self, value: object) -> Violation | None:
        both, problem = _pair(value, "must be a two-item [host, port]")
        if both is None:
            return problem
        host, port = both
        if not isinstance(host, str):
            return _broken("must be a Unicode string", host).under(0)
        port_rule: Rule = Int(0, 65535, "a port number")
        if self.port_may_be_none:
            port_rule = Nullable(port_rule)
        found = port_rule.find(port)
        return None if found is None else found.under(1)


@dataclass(frozen=True)
class StrKeyedDict:
    def find(self, value: object) -> Violation | None:
        mapping = as_dict(value)
        if mapping is None:
            return _broken("must be a dict", value)
        for key in mapping:
            if not isinstance(key, str):
                return _broken("must have Unicode string keys", key)
        return None


@dataclass(frozen=True)
class FileDescriptor:
    """An open file with an OS-level descriptor (what ``os.sendfile`` needs)."""

    def find(self, value: object) -> Violation | None:
        fileno = getattr(value, "fileno", None)
        if not callable(fileno):
            return _broken("must be a file object with a fileno() method", value)
        try:
            descriptor = fileno()
        except (OSError, ValueError):
            return _broken("must have an OS file descriptor (fileno() failed)", value)
        return Int(0, meaning="a file descriptor").find(descriptor)


@dataclass(frozen=True)
class Field:
    """One key of a shape: its rule, whether it must be present, and spec metadata.

    ``since`` is the HTTP/WebSocket spec version that introduced the key;
    ``extension_if_true`` names the extension a true value relies on.
    """

    rule: Rule
    required: bool = True
    since: str | None = None
    extension_if_true: str | None = None


@dataclass(frozen=True)
class ExactlyOne:
    """Of these keys, exactly one holds a value other than None (absent counts as None)."""

    keys: tuple[str, ...]

    def find(self, mapping: Mapping[object, object]) -> Violation | None:
        present = [key for key in self.keys if mapping.get(key) is not None]
        if len(present) == 1:
            return None
        names = " or ".join(repr(key) for key in self.keys)
        got = {key: mapping.get(key) for key in self.keys}
        return Violation((), f"exactly one of {names} must be non-None", got)


@dataclass(frozen=True)
class Shape:
    """A dict with known keys; other keys are allowed, as the core spec demands.

    ``other_values`` checks the values of keys the shape does not name (for the
    ``extensions`` dict, where servers add their own entries).
    """

    fields: Mapping[str, Field]
    together: tuple[ExactlyOne, ...] = ()
    other_values: Rule | None = None
    kind: str = "a dict"

    def find(self, value: object) -> Violation | None:
        mapping = as_dict(value)
        if mapping is None:
            return _broken(f"must be {self.kind}", value)
        for key, spec in self.fields.items():
            if key not in mapping:
                if spec.required:
                    return Violation((key,), "is required but missing")
                continue
            found = spec.rule.find(mapping[key])
            if found is not None:
                return found.under(key)
        if self.other_values is not None:
            for other, item in mapping.items():
                if other not in self.fields:
                    found = self.other_values.find(item)
                    if found is not None:
                        return found.under(str(other))
        for constraint in self.together:
            found = constraint.find(mapping)
            if found is not None:
                return found
        return None
