"""The ASGI message reference, written from the validators' specification tables.

``render()`` walks ``SCOPES`` and ``MESSAGES`` of ``asgiref.typing.validate._spec``
(the tables ``asgiref.typing.validate`` checks against) and returns
reStructuredText: one section per scope and message type, one table row per
key. The documented keys are therefore the checked keys. A rule this module
cannot describe raises ``UndescribedRuleError``, so a new kind of check fails
the docs build instead of vanishing from the page. No Sphinx import: the tests
run it on every Python of the matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from asgiref.typing.validate import _rules
from asgiref.typing.validate._spec import MESSAGES, SCOPES, MessageSpec

# What the "Introduced" column shows for a key the tables give no version or
# extension: the page's legend explains it.
BASE = "base"

_DIRECTIONS = {
    "receive": "the server sends it, the application gets it from ``receive()``",
    "send": "the application passes it to ``send()``",
}


class UndescribedRuleError(TypeError):
    """A spec table uses a rule that this page cannot put into words."""


@dataclass(frozen=True)
class KeyRow:
    """One key of a scope or message, as the tables define it."""

    key: str
    value: str
    required: bool
    introduced: str


@dataclass
class _Nested:
    """Dict-valued keys (``scope["asgi"]``, ...) get a table of their own, once."""

    found: dict[int, tuple[str, str, _rules.Shape]] = field(default_factory=dict)

    def label_for(self, shape: _rules.Shape, title: str) -> str:
        known = self.found.get(id(shape))
        if known is not None:
            return known[0]
        label = "asgi-" + "-".join(part for part in _slug(title).split("-") if part)
        self.found[id(shape)] = (label, title, shape)
        return label


def _slug(text: str) -> str:
    return "".join(char if char.isalnum() else "-" for char in text.lower())


def scope_label(kind: str) -> str:
    """The reference target (``:ref:``) of a scope type's section."""
    return f"asgi-scope-{_slug(kind)}"


def message_label(kind: str) -> str:
    """The reference target (``:ref:``) of a message type's section."""
    return f"asgi-message-{_slug(kind)}"


def _literal(value: object) -> str:
    return f'``"{value}"``' if isinstance(value, str) else f"``{value}``"


def _text(rule: _rules.Text) -> str:
    limits = [
        word
        for word, applies in (
            ("non-empty", rule.non_empty),
            ("upper-case", rule.upper),
            ("an absolute file path", rule.absolute_path),
        )
        if applies
    ]
    return "Unicode string" + (f" ({', '.join(limits)})" if limits else "")


def _int(rule: _rules.Int) -> str:
    words = "int" if rule.meaning == "an int" else f"int ({rule.meaning.removeprefix('a ')})"
    if rule.low is not None and rule.high is not None:
        return f"{words}, {rule.low} to {rule.high}"
    if rule.low is not None:
        return f"{words}, at least {rule.low}"
    return words


def _headers(rule: _rules.HeaderPairs) -> str:
    notes = ["no pseudo headers"]
    if rule.lowercase_names:
        notes.insert(0, "lower-case names")
    notes += [f"no ``{name.decode()}``" for name in rule.forbidden]
    return f"iterable of ``[name, value]`` byte-string pairs ({', '.join(notes)})"


def _address(rule: _rules.Address) -> str:
    port = "int port (0 to 65535)" + (" or None" if rule.port_may_be_none else "")
    return f"``[host, port]``: Unicode string host, {port}"


# What each kind of rule checks, in words. Keyed by exact type: a new rule
# class (or a subclass) has no entry and fails the build in describe().
_WORDS: dict[type, Callable[[Any, _Nested, str], str]] = {
    _rules.Const: lambda rule, nested, title: _literal(rule.value),
    _rules.Bytes: lambda rule, nested, title: "byte string",
    _rules.Bool: lambda rule, nested, title: "bool",
    _rules.StrKeyedDict: lambda rule, nested, title: "dict with Unicode string keys",
    _rules.FileDescriptor: lambda rule, nested, title: (
        "file object with an OS descriptor (``fileno()``)"
    ),
    _rules.Choice: lambda rule, nested, title: (
        "one of " + ", ".join(_literal(value) for value in rule.values)
    ),
    _rules.Text: lambda rule, nested, title: _text(rule),
    _rules.Int: lambda rule, nested, title: _int(rule),
    _rules.HeaderPairs: lambda rule, nested, title: _headers(rule),
    _rules.Address: lambda rule, nested, title: _address(rule),
    _rules.Nullable: lambda rule, nested, title: f"{describe(rule.inner, nested, title)}, or None",
    _rules.Each: lambda rule, nested, title: (
        f"iterable of {rule.what} ({describe(rule.inner, nested, title)} each)"
    ),
    _rules.Shape: lambda rule, nested, title: f"dict, see :ref:`{nested.label_for(rule, title)}`",
}


def describe(rule: object, nested: _Nested, title: str) -> str:
    """The rule in words; a dict-valued rule is linked to its own table."""
    words = _WORDS.get(type(rule))
    if words is None:
        raise UndescribedRuleError(f"{title}: no description for {type(rule).__name__} rules")
    return words(rule, nested, title)


def _introduced(key: str, spec: _rules.Field, extension_keys: bool) -> str:
    """``BASE``: no later spec version recorded, checked whatever the scope declares."""
    if extension_keys:
        return f"extension ``{key}``"
    if spec.since is not None:
        return f"spec {spec.since}"
    if spec.extension_if_true is not None:
        return f"``True`` needs extension ``{spec.extension_if_true}``"
    return BASE


def key_rows(
    shape: _rules.Shape, nested: _Nested, where: str, *, extension_keys: bool = False
) -> list[KeyRow]:
    """The rows of one table; ``where`` (``scope``, ``message``, ...) titles nested dicts."""
    return [
        KeyRow(
            key,
            describe(spec.rule, nested, f'{where}["{key}"]'),
            spec.required,
            _introduced(key, spec, extension_keys),
        )
        for key, spec in shape.fields.items()
    ]


def _table(rows: list[KeyRow]) -> Iterator[str]:
    yield ".. list-table::"
    yield "   :header-rows: 1"
    yield "   :widths: 18 52 12 18"
    yield "   :class: asgi-keys"
    yield ""
    for cells in [("Key", "Value", "Required", "Introduced")] + [
        (f"``{row.key}``", row.value, "required" if row.required else "optional", row.introduced)
        for row in rows
    ]:
        yield f"   * - {cells[0]}"
        for cell in cells[1:]:
            yield f"     - {cell}"
    yield ""


def _constraints(shape: _rules.Shape, nested: _Nested, where: str) -> Iterator[str]:
    for rule in shape.together:
        names = " or ".join(f"``{key}``" for key in rule.keys)
        yield f"Exactly one of {names} must be present and not None."
        yield ""
    if shape.other_values is not None:
        other = describe(shape.other_values, nested, f"{where} (other keys)")
        yield f"Keys not listed (extensions a server adds): each value a {other}."
        yield ""


def _section(label: str, title: str, underline: str) -> Iterator[str]:
    yield f".. _{label}:"
    yield ""
    yield title
    yield underline * len(title)
    yield ""


def _message_intro(spec: MessageSpec) -> str:
    needs = (
        f" Only where the scope advertises the ``{spec.extension}`` extension."
        if spec.extension
        else ""
    )
    return f"Protocol ``{spec.protocol}``: {_DIRECTIONS[spec.direction]}.{needs}"


def _summary() -> Iterator[str]:
    yield ".. list-table::"
    yield "   :header-rows: 1"
    yield "   :widths: 40 15 15 30"
    yield ""
    yield "   * - Message type"
    yield "     - Protocol"
    yield "     - Direction"
    yield "     - Needs extension"
    for kind, spec in MESSAGES.items():
        yield f"   * - :ref:`{kind} <{message_label(kind)}>`"
        yield f"     - ``{spec.protocol}``"
        yield f"     - {spec.direction}"
        yield f"     - ``{spec.extension}``" if spec.extension else "     -"
    yield ""


def render() -> str:
    """The whole reference (scopes, messages, then nested dicts) as reStructuredText."""
    nested = _Nested()
    lines: list[str] = [*_section("asgi-scopes", "Scopes", "-")]
    for kind, shape in SCOPES.items():
        lines += _section(scope_label(kind), f"``{kind}`` scope", "~")
        lines += _table(key_rows(shape, nested, "scope"))
        lines += _constraints(shape, nested, f"{kind} scope")
    lines += _section("asgi-messages", "Messages", "-")
    lines += _summary()
    for kind, spec in MESSAGES.items():
        lines += _section(message_label(kind), f"``{kind}``", "~")
        lines += [_message_intro(spec), ""]
        lines += _table(key_rows(spec.shape, nested, "message"))
        lines += _constraints(spec.shape, nested, f"{kind} message")
    lines += _section("asgi-nested", "Dicts inside scopes", "-")
    done: set[int] = set()
    # Rendering a nested table can find further nested dicts (``tls``).
    while len(done) < len(nested.found):
        for ident, (label, title, shape) in list(nested.found.items()):
            if ident in done:
                continue
            done.add(ident)
            lines += _section(label, f"``{title}``", "~")
            extension_keys = shape.other_values is not None
            lines += _table(key_rows(shape, nested, title, extension_keys=extension_keys))
            lines += _constraints(shape, nested, title)
    return "\n".join(lines) + "\n"
