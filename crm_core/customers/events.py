"""Events of the customers module (stream ``customers``)."""

from __future__ import annotations

import dataclasses

from callcenter.bus.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class _CustomersEvent(Event):
    STREAM = "customers"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CustomerCreated(_CustomersEvent):
    customer_id: int
    kind: str
    name: str
    phones: tuple[str, ...]
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CustomerUpdated(_CustomersEvent):
    customer_id: int
    fields: tuple[str, ...]
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContactAdded(_CustomersEvent):
    customer_id: int
    contact_id: int
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallNoteAdded(_CustomersEvent):
    customer_id: int
    note_id: int
    author_id: int | None
