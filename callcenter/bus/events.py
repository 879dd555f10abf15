"""Typed, past-tense, versioned, JSON-serialisable events.

Every event is a frozen dataclass deriving from :class:`Event`. Its class names the stream it is published on
(``STREAM``) and its schema version (``VERSION``). Subclasses register themselves by class name so that an event
read back from Redis (or any JSON source) becomes the same typed object again.

Field types understood by the (de)serialiser: str, int, float, bool, None, datetime, date, UUID, Enum subclasses,
tuples/lists of those, dicts with str keys, and Optional/Union of those. Keep events flat and small.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, ClassVar

_REGISTRY: dict[str, type[Event]] = {}
_FIELD_TYPES: dict[type[Event], dict[str, Any]] = {}


class UnknownEventError(ValueError):
    """A serialised event names a type this process does not know."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event. Name subclasses in the past tense (``CallAnswered``, ``UserLoggedIn``)."""

    STREAM: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    occurred_at: datetime = dataclasses.field(default_factory=utc_now)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.STREAM:
            raise TypeError(f"{cls.__name__} must set STREAM")
        previous = _REGISTRY.get(cls.__name__)
        if previous is not None and previous.__module__ != cls.__module__:
            raise TypeError(f"event name {cls.__name__} already used by {previous.__module__}")
        _REGISTRY[cls.__name__] = cls

    @property
    def type_name(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """``{"type": ..., "version": ..., "data": {...}}`` with JSON-compatible values only."""
        data = {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {"type": self.type_name, "version": self.VERSION, "data": data}

    @classmethod
    def upcast(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Turn the data of an older ``version`` into the current one. Override when VERSION is raised."""
        if version != cls.VERSION:
            raise ValueError(f"{cls.__name__}: no upcast from version {version} to {cls.VERSION}")
        return data


def event_from_dict(payload: Mapping[str, Any]) -> Event:
    """Rebuild a typed event from :meth:`Event.to_dict` output."""
    name = payload["type"]
    cls = _REGISTRY.get(name)
    if cls is None:
        raise UnknownEventError(f"unknown event type {name!r}")
    data = cls.upcast(int(payload.get("version", 1)), dict(payload["data"]))
    kwargs = {field: _decode(tp, data[field]) for field, tp in _field_types(cls).items() if field in data}
    return cls(**kwargs)


def _field_types(cls: type[Event]) -> Mapping[str, Any]:
    """The resolved types of the fields ``__init__`` takes (resolving annotations is slow: once per class)."""
    types_ = _FIELD_TYPES.get(cls)
    if types_ is None:
        hints = typing.get_type_hints(cls)
        types_ = _FIELD_TYPES[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}
    return types_


def event_types() -> Mapping[str, type[Event]]:
    return dict(_REGISTRY)


def known_streams() -> set[str]:
    return {cls.STREAM for cls in _REGISTRY.values()}


def _encode(value: Any) -> Any:
    if isinstance(value, enum.Enum):  # before the primitives: a StrEnum or IntEnum member is a str or int too
        return _encode(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | frozenset | set):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    raise TypeError(f"cannot serialise {type(value).__name__} in an event")


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None):
                continue
            try:
                return _decode(arg, value)
            except (TypeError, ValueError):
                continue
        raise ValueError(f"{value!r} matches no member of {tp}")
    if origin in (tuple,):
        args = typing.get_args(tp)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return tuple(_decode(args[0] if args else Any, v) for v in value)
        if len(args) != len(value):
            raise ValueError(f"{value!r} does not have the {len(args)} items of {tp}")
        return tuple(_decode(item, v) for item, v in zip(args, value, strict=True))
    if origin in (list,):
        args = typing.get_args(tp)
        return [_decode(args[0] if args else Any, v) for v in value]
    if origin in (frozenset,):
        args = typing.get_args(tp)
        return frozenset(_decode(args[0] if args else Any, v) for v in value)
    if origin in (dict, Mapping):
        args = typing.get_args(tp)
        vt = args[1] if len(args) == 2 else Any
        return {k: _decode(vt, v) for k, v in value.items()}
    if tp is Any:
        return value
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return tp(value)
        if tp is datetime:
            return datetime.fromisoformat(value)
        if tp is date:
            return date.fromisoformat(value)
        if tp is uuid.UUID:
            return uuid.UUID(value)
        if tp in (int, float) and isinstance(value, bool):
            raise TypeError(f"bool is not {tp.__name__}")
        if tp is float and isinstance(value, int | float):
            return float(value)
        if tp in (str, int, bool) and isinstance(value, tp):
            return value
        if tp in (tuple, list, dict) and isinstance(value, list | dict):
            return tp(value)
    raise TypeError(f"cannot decode {value!r} as {tp}")
