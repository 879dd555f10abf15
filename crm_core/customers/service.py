"""Use cases on customers: the card, its contacts and call notes, and the screen-pop lookup by phone number.

Each change runs in one transaction together with its audit record; events are published once it has committed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from callcenter.bus import EventBus
from callcenter.db.database import Connection, Database
from crm_core.audit.repository import Actor, AuditRepository
from crm_core.customers import events, places
from crm_core.customers.model import (
    CallNote,
    Contact,
    Customer,
    CustomerKind,
    ScreenPop,
    changes,
    clean_custom_fields,
)
from crm_core.customers.phones import InvalidPhoneError, PhoneNumber, parse_phone
from crm_core.customers.repository import CustomerRepository, NewCustomer
from crm_core.users.repository import UserRepository
from crm_core.users.service import InvalidInputError, NotFoundError

__all__ = ["CustomerChanges", "CustomerService", "InvalidInputError", "NotFoundError"]


@dataclasses.dataclass(frozen=True)
class CustomerChanges:
    """Fields to change; None leaves a field as it is (``owner_id=0`` clears the owner)."""

    kind: CustomerKind | None = None
    name: str | None = None
    city: str | None = None
    region: str | None = None
    custom_fields: Mapping[str, Any] | None = None
    owner_id: int | None = None
    phones: Sequence[str] | None = None


class CustomerService:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._bus = bus

    async def create_customer(
        self,
        actor: Actor,
        *,
        kind: CustomerKind,
        name: str,
        phones: Sequence[str] = (),
        city: str | None = None,
        region: str | None = None,
        custom_fields: Mapping[str, Any] | None = None,
        owner_id: int | None = None,
    ) -> Customer:
        new = NewCustomer(
            kind=kind,
            name=_required(name, "name"),
            city=places.city(city or ""),
            region=places.region(region or "") or places.region_of(places.city(city or "")),
            custom_fields=_custom(custom_fields or {}),
            owner_id=owner_id,
            phones=_phones(phones),
        )
        async with self._db.acquire() as conn, conn.transaction():
            await _check_owner(conn, owner_id)
            customer = await CustomerRepository(conn).add(new)
            await AuditRepository(conn).record(
                actor, "customer.created", "customer", customer.id, changes({}, customer.audit_view())
            )
        await self._bus.publish(
            events.CustomerCreated(
                customer_id=customer.id,
                kind=kind.value,
                name=customer.name,
                phones=tuple(p.e164 for p in customer.phones),
                actor_id=actor.id,
            )
        )
        return customer

    async def update_customer(self, actor: Actor, customer_id: int, change: CustomerChanges) -> Customer:
        async with self._db.acquire() as conn, conn.transaction():
            repo = CustomerRepository(conn)
            customer = await repo.get(customer_id)
            if customer is None:
                raise NotFoundError(customer_id)
            owner_id = customer.owner_id if change.owner_id is None else (change.owner_id or None)
            updated = dataclasses.replace(
                customer,
                kind=change.kind or customer.kind,
                name=customer.name if change.name is None else _required(change.name, "name"),
                city=customer.city if change.city is None else places.city(change.city),
                region=customer.region if change.region is None else places.region(change.region),
                custom_fields=(
                    customer.custom_fields if change.custom_fields is None else _custom(change.custom_fields)
                ),
                owner_id=owner_id,
                phones=customer.phones if change.phones is None else _phones(change.phones),
            )
            if owner_id != customer.owner_id:
                await _check_owner(conn, owner_id)
            diff = changes(customer.audit_view(), updated.audit_view())
            if not diff:
                return customer
            await repo.save(updated)
            await AuditRepository(conn).record(actor, "customer.updated", "customer", customer_id, diff)
        await self._bus.publish(events.CustomerUpdated(customer_id=customer_id, fields=tuple(diff), actor_id=actor.id))
        return updated

    async def add_contact(
        self,
        actor: Actor,
        customer_id: int,
        *,
        name: str,
        title: str | None = None,
        phone: str | None = None,
        email: str | None = None,
    ) -> Contact:
        name = _required(name, "name")
        number = _phone(phone, "phone") if phone and phone.strip() else None
        email = (email or "").strip() or None
        if email is not None and ("@" not in email or " " in email):
            raise InvalidInputError("email", "error.email_format")
        async with self._db.acquire() as conn, conn.transaction():
            repo = CustomerRepository(conn)
            if await repo.get(customer_id) is None:
                raise NotFoundError(customer_id)
            contact = await repo.add_contact(customer_id, name, (title or "").strip() or None, number, email)
            await AuditRepository(conn).record(
                actor,
                "customer.contact_added",
                "customer",
                customer_id,
                {"contact": [None, {"name": name, "phone": number.e164 if number else None, "email": email}]},
            )
        await self._bus.publish(events.ContactAdded(customer_id=customer_id, contact_id=contact.id, actor_id=actor.id))
        return contact

    async def add_call_note(
        self,
        actor: Actor,
        customer_id: int,
        body: str,
        *,
        noted_at: datetime | None = None,
        call_id: str | None = None,
        pool_record_id: int | None = None,
    ) -> CallNote:
        """A dated note on the customer ("görüşme kaydı"); ``noted_at`` defaults to now."""
        body = _required(body, "body")
        async with self._db.acquire() as conn, conn.transaction():
            repo = CustomerRepository(conn)
            if await repo.get(customer_id) is None:
                raise NotFoundError(customer_id)
            note = await repo.add_note(
                customer_id, actor.id, body, noted_at=noted_at, call_id=call_id, pool_record_id=pool_record_id
            )
            await AuditRepository(conn).record(
                actor, "customer.note_added", "customer", customer_id, {"note_id": [None, note.id]}
            )
        await self._bus.publish(events.CallNoteAdded(customer_id=customer_id, note_id=note.id, author_id=actor.id))
        return note

    async def screen_pop(self, phone: str, *, notes: int = 5, calls: int = 5) -> list[ScreenPop]:
        """The customers reached at ``phone`` (usually none or one), each with its contacts, latest notes and calls.

        An unusable caller number (withheld, malformed) finds nobody rather than failing the console."""
        try:
            number = parse_phone(phone)
        except InvalidPhoneError:
            return []
        async with self._db.acquire() as conn:
            repo = CustomerRepository(conn)
            found: list[ScreenPop] = []
            for customer_id in await repo.ids_by_phone(number):
                customer = await repo.get(customer_id)
                if customer is None:
                    continue
                found.append(
                    ScreenPop(
                        customer=customer,
                        matched=number,
                        contacts=tuple(await repo.contacts(customer_id)),
                        notes=tuple(await repo.notes(customer_id, limit=notes)),
                        calls=tuple(await repo.calls(customer_id, limit=calls)),
                    )
                )
            return found


def _required(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInputError(field, "error.required")
    return value


def _custom(fields: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return clean_custom_fields(fields)
    except ValueError:
        raise InvalidInputError("custom_fields", "error.custom_field") from None


def _phone(text: str, field: str) -> PhoneNumber:
    try:
        return parse_phone(text)
    except InvalidPhoneError as exc:
        raise InvalidInputError(field, "error." + exc.code.replace(".", "_")) from None


def _phones(texts: Sequence[str]) -> tuple[PhoneNumber, ...]:
    return tuple(dict.fromkeys(_phone(t, "phones") for t in texts if t.strip()))


async def _check_owner(conn: Connection, owner_id: int | None) -> None:
    if owner_id is not None and await UserRepository(conn).get(owner_id) is None:
        raise InvalidInputError("owner_id", "error.no_such_user")
