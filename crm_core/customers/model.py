"""Customers (seed 001 "Cari hesap", "Görüşme kayıt"): the customer card, its phone numbers, contacts, dated call
notes and call history. Pure domain, no I/O. The full CRM (offers, orders, the ledger) comes later.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crm_core.customers.phones import PhoneNumber


class CustomerKind(enum.StrEnum):
    """Prospect ("ön müşteri"), lead ("potansiyel müşteri"), customer ("müşteri")."""

    PROSPECT = "prospect"
    LEAD = "lead"
    CUSTOMER = "customer"


@dataclasses.dataclass(frozen=True)
class Customer:
    id: int
    kind: CustomerKind
    name: str
    city: str | None = None
    region: str | None = None
    custom_fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    owner_id: int | None = None
    phones: tuple[PhoneNumber, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def audit_view(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "name": self.name,
            "city": self.city,
            "region": self.region,
            "custom_fields": dict(self.custom_fields),
            "owner_id": self.owner_id,
            "phones": [p.e164 for p in self.phones],
        }


@dataclasses.dataclass(frozen=True)
class Contact:
    """A person at the customer ("ilgili kişi")."""

    id: int
    customer_id: int
    name: str
    title: str | None = None
    phone: PhoneNumber | None = None
    email: str | None = None
    created_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class CallNote:
    """A dated note written after a conversation ("görüşme kaydı"); ``noted_at`` is the date the agent gives it."""

    id: int
    customer_id: int
    author_id: int | None
    noted_at: datetime
    body: str
    call_id: str | None = None
    pool_record_id: int | None = None


class CallDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclasses.dataclass(frozen=True)
class CallRecord:
    """One call with the customer, as the call-record writer saw it."""

    id: int
    customer_id: int
    call_id: str
    direction: CallDirection
    phone: str
    agent_id: int | None
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None


@dataclasses.dataclass(frozen=True)
class ScreenPop:
    """What the agent console shows when a call with this customer starts: the card, its contacts, the latest call
    notes (newest first) and the latest calls. ``matched`` is the number that found it."""

    customer: Customer
    matched: PhoneNumber
    contacts: tuple[Contact, ...]
    notes: tuple[CallNote, ...]
    calls: tuple[CallRecord, ...]

    @property
    def has_history(self) -> bool:
        """Seed 001: when the customer has earlier call notes the console warns the agent."""
        return bool(self.notes or self.calls)


def tr_title(text: str) -> str:
    """Title-case with Turkish letters: ``İSTANBUL``, ``istanbul`` -> ``İstanbul``; ``ŞANLIURFA`` -> ``Şanlıurfa``."""
    words = []
    for word in text.split():
        lowered = tr_lower(word)
        words.append(tr_upper(lowered[:1]) + lowered[1:])
    return " ".join(words)


def tr_lower(text: str) -> str:
    return text.replace("I", "ı").replace("İ", "i").lower()


def tr_upper(text: str) -> str:
    return text.replace("i", "İ").replace("ı", "I").upper()


def clean_custom_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Custom fields keep JSON scalars under non-empty, trimmed keys; ValueError names a bad key."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        name = str(key).strip()
        if not name:
            raise ValueError("custom field without a name")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValueError(name)
        out[name] = value.strip() if isinstance(value, str) else value
    return out


def changes(before: Mapping[str, object], after: Mapping[str, object]) -> dict[str, list[object]]:
    return {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)}
