"""Customers, their phone numbers, contacts, call notes and call history in PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from asyncpg import Record

from callcenter.db.database import Connection
from crm_core.customers.model import (
    CallDirection,
    CallNote,
    CallRecord,
    Contact,
    Customer,
    CustomerKind,
)
from crm_core.customers.phones import PhoneKind, PhoneNumber

_CUSTOMER_COLUMNS = "id, kind, name, city, region, custom_fields, owner_id, created_at, updated_at"
_CONTACT_COLUMNS = "id, customer_id, name, title, phone, phone_kind, email, created_at"
_NOTE_COLUMNS = "id, customer_id, author_id, noted_at, body, call_id, pool_record_id"
_CALL_COLUMNS = "id, customer_id, call_id, direction, phone, agent_id, started_at, ended_at, outcome"


@dataclasses.dataclass(frozen=True)
class NewCustomer:
    kind: CustomerKind
    name: str
    city: str | None = None
    region: str | None = None
    custom_fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    owner_id: int | None = None
    phones: tuple[PhoneNumber, ...] = ()


def _customer(row: Record, phones: Sequence[Record]) -> Customer:
    return Customer(
        id=row["id"],
        kind=CustomerKind(row["kind"]),
        name=row["name"],
        city=row["city"],
        region=row["region"],
        custom_fields=row["custom_fields"],
        owner_id=row["owner_id"],
        phones=tuple(PhoneNumber(p["number"], PhoneKind(p["kind"])) for p in phones),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _contact(row: Record) -> Contact:
    phone = PhoneNumber(row["phone"], PhoneKind(row["phone_kind"])) if row["phone"] else None
    return Contact(
        id=row["id"],
        customer_id=row["customer_id"],
        name=row["name"],
        title=row["title"],
        phone=phone,
        email=row["email"],
        created_at=row["created_at"],
    )


def _call(row: Record) -> CallRecord:
    values = dict(row.items())
    values["direction"] = CallDirection(values["direction"])
    return CallRecord(**values)


class CustomerRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, customer_id: int) -> Customer | None:
        row = await self._conn.fetchrow(
            f"SELECT {_CUSTOMER_COLUMNS} FROM customers WHERE id = $1",  # noqa: S608
            customer_id,
        )
        if row is None:
            return None
        return _customer(row, await self._phones(customer_id))

    async def _phones(self, customer_id: int) -> list[Record]:
        return await self._conn.fetch(
            "SELECT number, kind FROM customer_phones WHERE customer_id = $1 ORDER BY position, number",
            customer_id,
        )

    async def add(self, new: NewCustomer) -> Customer:
        async with self._conn.transaction():
            row = await self._conn.fetchrow(
                f"""INSERT INTO customers (kind, name, city, region, custom_fields, owner_id)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    RETURNING {_CUSTOMER_COLUMNS}""",  # noqa: S608
                new.kind.value,
                new.name,
                new.city,
                new.region,
                dict(new.custom_fields),
                new.owner_id,
            )
            assert row is not None
            await self._set_phones(row["id"], new.phones)
        return _customer(row, await self._phones(row["id"]))

    async def save(self, customer: Customer) -> None:
        async with self._conn.transaction():
            await self._conn.execute(
                """UPDATE customers SET kind = $2, name = $3, city = $4, region = $5, custom_fields = $6,
                          owner_id = $7, updated_at = now()
                    WHERE id = $1""",
                customer.id,
                customer.kind.value,
                customer.name,
                customer.city,
                customer.region,
                dict(customer.custom_fields),
                customer.owner_id,
            )
            await self._set_phones(customer.id, customer.phones)

    async def _set_phones(self, customer_id: int, phones: Sequence[PhoneNumber]) -> None:
        await self._conn.execute("DELETE FROM customer_phones WHERE customer_id = $1", customer_id)
        await self._conn.executemany(
            "INSERT INTO customer_phones (customer_id, number, kind, position) VALUES ($1, $2, $3, $4)",
            [(customer_id, p.e164, p.kind.value, i) for i, p in enumerate(dict.fromkeys(phones))],
        )

    async def ids_by_phone(self, number: PhoneNumber) -> list[int]:
        """Customers reached at ``number``: their own numbers first, then their contacts' numbers."""
        rows = await self._conn.fetch(
            """SELECT customer_id, min(rank) AS rank FROM (
                   SELECT customer_id, 0 AS rank FROM customer_phones WHERE number = $1
                   UNION ALL
                   SELECT customer_id, 1 AS rank FROM customer_contacts WHERE phone = $1
               ) AS found
               GROUP BY customer_id
               ORDER BY rank, customer_id""",
            number.e164,
        )
        return [r["customer_id"] for r in rows]

    # --- contacts -------------------------------------------------------------------------------------------------

    async def add_contact(
        self, customer_id: int, name: str, title: str | None, phone: PhoneNumber | None, email: str | None
    ) -> Contact:
        row = await self._conn.fetchrow(
            f"""INSERT INTO customer_contacts (customer_id, name, title, phone, phone_kind, email)
                VALUES ($1, $2, $3, $4, $5, $6)
                RETURNING {_CONTACT_COLUMNS}""",  # noqa: S608
            customer_id,
            name,
            title,
            phone.e164 if phone else None,
            phone.kind.value if phone else None,
            email,
        )
        assert row is not None
        return _contact(row)

    async def contacts(self, customer_id: int) -> list[Contact]:
        rows = await self._conn.fetch(
            f"SELECT {_CONTACT_COLUMNS} FROM customer_contacts WHERE customer_id = $1 ORDER BY lower(name), id",  # noqa: S608
            customer_id,
        )
        return [_contact(r) for r in rows]

    # --- call notes -----------------------------------------------------------------------------------------------

    async def add_note(
        self,
        customer_id: int,
        author_id: int | None,
        body: str,
        *,
        noted_at: datetime | None = None,
        call_id: str | None = None,
        pool_record_id: int | None = None,
    ) -> CallNote:
        row = await self._conn.fetchrow(
            f"""INSERT INTO call_notes (customer_id, author_id, noted_at, body, call_id, pool_record_id)
                VALUES ($1, $2, coalesce($3, now()), $4, $5, $6)
                RETURNING {_NOTE_COLUMNS}""",  # noqa: S608
            customer_id,
            author_id,
            noted_at,
            body,
            call_id,
            pool_record_id,
        )
        assert row is not None
        return CallNote(**dict(row.items()))

    async def notes(self, customer_id: int, *, limit: int = 20) -> list[CallNote]:
        """The latest notes, newest first."""
        rows = await self._conn.fetch(
            f"""SELECT {_NOTE_COLUMNS} FROM call_notes WHERE customer_id = $1
                 ORDER BY noted_at DESC, id DESC LIMIT $2""",  # noqa: S608
            customer_id,
            limit,
        )
        return [CallNote(**dict(r.items())) for r in rows]

    # --- call history ---------------------------------------------------------------------------------------------

    async def add_call(
        self,
        customer_id: int,
        call_id: str,
        direction: CallDirection,
        phone: PhoneNumber,
        agent_id: int | None,
        started_at: datetime,
        ended_at: datetime | None = None,
        outcome: str | None = None,
    ) -> CallRecord:
        """Record a call (again: the same ``call_id`` updates its end and outcome)."""
        row = await self._conn.fetchrow(
            f"""INSERT INTO customer_calls (customer_id, call_id, direction, phone, agent_id, started_at, ended_at,
                                            outcome)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (customer_id, call_id) DO UPDATE
                   SET ended_at = coalesce(EXCLUDED.ended_at, customer_calls.ended_at),
                       outcome = coalesce(EXCLUDED.outcome, customer_calls.outcome)
                RETURNING {_CALL_COLUMNS}""",  # noqa: S608
            customer_id,
            call_id,
            direction.value,
            phone.e164,
            agent_id,
            started_at,
            ended_at,
            outcome,
        )
        assert row is not None
        return _call(row)

    async def calls(self, customer_id: int, *, limit: int = 20) -> list[CallRecord]:
        rows = await self._conn.fetch(
            f"""SELECT {_CALL_COLUMNS} FROM customer_calls WHERE customer_id = $1
                 ORDER BY started_at DESC, id DESC LIMIT $2""",  # noqa: S608
            customer_id,
            limit,
        )
        return [_call(r) for r in rows]
