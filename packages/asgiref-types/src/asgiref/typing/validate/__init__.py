"""Runtime validators for ASGI scopes and messages, driven by the spec tables.

Import this module explicitly (``from asgiref.typing.validate import ...``);
``asgiref.typing`` never loads it. Pure Python, no dependency. Every check
raises ``ASGIValidationError`` whose message names the offending key and the
rule it breaks. Extra keys are always allowed, as the ASGI core spec requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from asgiref.typing.validate._rules import PathPart, Violation, as_dict
from asgiref.typing.validate._spec import (
    DEFAULT_WWW_SPEC_VERSION,
    MESSAGES,
    SCOPES,
    Direction,
    MessageSpec,
)

if TYPE_CHECKING:
    from asgiref.typing import (
        ASGI3Application,
        ASGIReceiveCallable,
        ASGIReceiveEvent,
        ASGISendCallable,
        ASGISendEvent,
        Scope,
    )

__all__ = [
    "ASGIValidationError",
    "validate_receive_event",
    "validate_scope",
    "validate_send_event",
    "validating",
]


class ASGIValidationError(ValueError):
    """A scope or message breaks the ASGI specification.

    ``subject`` says what was checked (``"http scope"``, ``"websocket.send
    message"``), ``path`` where (a tuple of keys and indexes; empty for the
    object itself), ``key`` the top-level key involved (or None) and ``rule``
    what the specification demands.
    """

    def __init__(self, subject: str, path: tuple[PathPart, ...], rule: str) -> None:
        self.subject = subject
        self.path = path
        self.key = str(path[0]) if path else None
        self.rule = rule
        if path:
            root = "scope" if subject.endswith("scope") else "message"
            where = root + "".join(f"[{part!r}]" for part in path)
            super().__init__(f"{subject}: {where} {rule}")
        else:
            super().__init__(f"{subject}: {rule}")


def validate_scope(scope: object) -> Scope:
    """Check a connection scope (http, websocket or lifespan); return it unchanged."""
    mapping = as_dict(scope)
    if mapping is None:
        rule = f"a scope must be a dict (got {type(scope).__name__})"
        raise ASGIValidationError("scope", (), rule)
    kind = mapping.get("type")
    shape = SCOPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        known = ", ".join(map(repr, SCOPES))
        raise ASGIValidationError("scope", ("type",), f"must be one of {known} (got {kind!r})")
    _raise_if(f"{kind} scope", shape.find(mapping))
    return cast("Scope", scope)


def validate_receive_event(
    message: object, scope: Mapping[str, object] | None = None
) -> ASGIReceiveEvent:
    """Check a message a server hands to an application; return it unchanged.

    With ``scope``, also check that the message belongs to the scope's protocol
    and uses only keys of the spec version the scope declares.
    """
    _validate_event(message, "receive", scope)
    return cast("ASGIReceiveEvent", message)


def validate_send_event(
    message: object, scope: Mapping[str, object] | None = None
) -> ASGISendEvent:
    """Check a message an application hands to a server; return it unchanged.

    With ``scope``, also check the protocol, the declared spec version, and
    that every extension the message relies on is advertised in
    ``scope["extensions"]``.
    """
    _validate_event(message, "send", scope)
    return cast("ASGISendEvent", message)


def validating(app: ASGI3Application) -> ASGI3Application:
    """Wrap an ASGI 3 application so that everything crossing it is validated.

    The scope is checked before the application starts, every message it
    receives and sends is checked against that scope, and the first breach
    raises ``ASGIValidationError`` out of the call (a test sees it directly;
    a server logs it and closes the connection).
    """

    async def checked_app(
        scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        validate_scope(scope)

        async def checked_receive() -> ASGIReceiveEvent:
            return validate_receive_event(await receive(), scope)

        async def checked_send(message: ASGISendEvent) -> None:
            await send(validate_send_event(message, scope))

        await app(scope, checked_receive, checked_send)

    return checked_app


def _raise_if(subject: str, violation: Violation | None) -> None:
    if violation is not None:
        raise ASGIValidationError(subject, violation.path, violation.describe())


def _validate_event(
    message: object, direction: Direction, scope: Mapping[str, object] | None
) -> None:
    mapping = as_dict(message)
    if mapping is None:
        rule = f"a message must be a dict (got {type(message).__name__})"
        raise ASGIValidationError("message", (), rule)
    kind = mapping.get("type")
    if not isinstance(kind, str):
        raise ASGIValidationError(
            "message", ("type",), f"must be a Unicode string message type (got {kind!r})"
        )
    spec = MESSAGES.get(kind)
    subject = f"{kind} message"
    if spec is None:
        raise ASGIValidationError(
            subject, ("type",), "is not a message type of the ASGI spec or its known extensions"
        )
    if spec.direction != direction:
        rule = (
            "is sent by applications; a server never delivers it through receive()"
            if spec.direction == "send"
            else "is delivered by servers through receive(); an application cannot send it"
        )
        raise ASGIValidationError(subject, ("type",), rule)
    _raise_if(subject, spec.shape.find(mapping))
    if scope is not None:
        _raise_if(subject, _against_scope(spec, mapping, scope))


def _against_scope(
    spec: MessageSpec, message: dict[object, object], scope: Mapping[str, object]
) -> Violation | None:
    """The rules that depend on the connection: protocol, spec version, extensions."""
    scope_type = scope.get("type")
    if scope_type != spec.protocol:
        return Violation(
            ("type",), f"is a {spec.protocol} message, not allowed in a {scope_type!r} scope"
        )
    extensions = as_dict(scope.get("extensions")) or {}
    if spec.extension is not None and spec.extension not in extensions:
        return Violation(
            ("type",),
            f"needs the {spec.extension!r} extension, which scope['extensions'] does not advertise",
        )
    declared = _declared_spec_version(scope)
    for key, field in spec.shape.fields.items():
        if key not in message:
            continue
        # The www spec makes a newer key an error only when sent to a server that
        # declared an older version; from a server it is a harmless extra key.
        too_new = field.since is not None and _version(declared) < _version(field.since)
        if too_new and spec.direction == "send":
            return Violation(
                (key,),
                f"was added in spec version {field.since}; the scope declares {declared}",
            )
        needed = field.extension_if_true
        if needed is not None and message[key] is True and needed not in extensions:
            return Violation(
                (key,), f"is True but scope['extensions'] does not advertise {needed!r}"
            )
    return None


def _declared_spec_version(scope: Mapping[str, object]) -> str:
    versions = as_dict(scope.get("asgi"))
    if versions is not None:
        declared = versions.get("spec_version")
        if isinstance(declared, str):
            return declared
    return DEFAULT_WWW_SPEC_VERSION


def _version(text: str) -> tuple[int, ...]:
    """``"2.10"`` > ``"2.9"``: compare dotted versions numerically; junk sorts first."""
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return ()
