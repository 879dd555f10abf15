"""The customer card on the real PostgreSQL: creation and changes with their audit, contacts, dated call notes and
the screen-pop lookup by phone number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from crm_core.audit.repository import Actor
from crm_core.customers import events
from crm_core.customers.model import CallDirection, CustomerKind, tr_title
from crm_core.customers.phones import PhoneKind, parse_phone
from crm_core.customers.repository import CustomerRepository
from crm_core.customers.service import CustomerChanges, CustomerService, InvalidInputError, NotFoundError
from crm_core.users.model import Role
from tests.conftest import MakeUser


@pytest.fixture
async def actor(make_user: MakeUser) -> Actor:
    user = await make_user("yonetici", role=Role.ADMIN)
    return Actor(user.id, user.username)


async def test_a_customer_is_created_with_normalised_numbers_and_audited(
    db: Database, memory_bus: InProcessBus, actor: Actor, conn: asyncpg.Connection
) -> None:
    customer = await CustomerService(db, memory_bus).create_customer(
        actor,
        kind=CustomerKind.LEAD,
        name="  Ayşe Yılmaz ",
        phones=["0532 123 45 67", "+90 532 123 45 67", "(0212) 555 12 34"],
        city="İSTANBUL",
        custom_fields={"abone_no": " 12345 "},
    )
    assert customer.name == "Ayşe Yılmaz"
    assert customer.city == "İstanbul"
    assert [(p.e164, p.kind) for p in customer.phones] == [
        ("+905321234567", PhoneKind.MOBILE),
        ("+902125551234", PhoneKind.FIXED),
    ]
    assert customer.custom_fields == {"abone_no": "12345"}
    audit = await conn.fetchrow("SELECT action, actor_name, changes FROM audit_log WHERE entity = 'customer'")
    assert audit is not None
    assert (audit["action"], audit["actor_name"]) == ("customer.created", "yonetici")
    assert audit["changes"]["phones"] == [None, ["+905321234567", "+902125551234"]]
    published = [e.event for e in await memory_bus.read("customers")]
    assert [type(e) for e in published] == [events.CustomerCreated]
    assert isinstance(published[0], events.CustomerCreated)
    assert published[0].customer_id == customer.id


async def test_a_bad_phone_number_is_refused_with_its_reason_and_nothing_is_stored(
    db: Database, memory_bus: InProcessBus, actor: Actor, conn: asyncpg.Connection
) -> None:
    with pytest.raises(InvalidInputError) as error:
        await CustomerService(db, memory_bus).create_customer(
            actor, kind=CustomerKind.PROSPECT, name="Ali", phones=["0532 123 45 67", "0111 111 11 11"]
        )
    assert (error.value.field, error.value.code) == ("phones", "error.phone_invalid")
    assert await conn.fetchval("SELECT count(*) FROM customers") == 0


async def test_changes_are_audited_field_by_field_and_no_change_records_nothing(
    db: Database, memory_bus: InProcessBus, actor: Actor, conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    service = CustomerService(db, memory_bus)
    owner = await make_user("ajan1")
    customer = await service.create_customer(actor, kind=CustomerKind.LEAD, name="Ali Kaya", phones=["05321234567"])
    await service.update_customer(
        actor,
        customer.id,
        CustomerChanges(kind=CustomerKind.CUSTOMER, owner_id=owner.id, phones=["0532 123 45 67", "0533 000 00 01"]),
    )
    stored = await CustomerRepository(conn).get(customer.id)
    assert stored is not None
    assert (stored.kind, stored.owner_id) == (CustomerKind.CUSTOMER, owner.id)
    assert [p.e164 for p in stored.phones] == ["+905321234567", "+905330000001"]
    await service.update_customer(actor, customer.id, CustomerChanges(name=" Ali Kaya "))  # no change
    rows = await conn.fetch("SELECT changes FROM audit_log WHERE action = 'customer.updated'")
    assert len(rows) == 1
    assert set(rows[0]["changes"]) == {"kind", "owner_id", "phones"}
    with pytest.raises(InvalidInputError):
        await service.update_customer(actor, customer.id, CustomerChanges(owner_id=999_999))
    with pytest.raises(NotFoundError):
        await service.update_customer(actor, 999_999, CustomerChanges(name="X"))


async def test_screen_pop_finds_the_customer_by_any_way_of_writing_its_number(
    db: Database, memory_bus: InProcessBus, actor: Actor, conn: asyncpg.Connection
) -> None:
    service = CustomerService(db, memory_bus)
    customer = await service.create_customer(
        actor, kind=CustomerKind.CUSTOMER, name="Demir Enerji A.Ş.", phones=["0212 555 12 34"]
    )
    await service.create_customer(actor, kind=CustomerKind.LEAD, name="Başka", phones=["0533 999 99 99"])
    contact = await service.add_contact(
        actor, customer.id, name="Mehmet Demir", title="Muhasebe", phone="0532 765 43 21", email="m@demir.example"
    )
    day = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    for i in range(7):
        await service.add_call_note(actor, customer.id, f"Görüşme {i}", noted_at=day + timedelta(days=i))
    repo = CustomerRepository(conn)
    await repo.add_call(customer.id, "1795431704.1", CallDirection.OUTBOUND, parse_phone("02125551234"), actor.id, day)

    pops = await service.screen_pop("+90 (212) 555 12 34")
    assert len(pops) == 1
    pop = pops[0]
    assert pop.customer.id == customer.id
    assert pop.matched.e164 == "+902125551234"
    assert [c.name for c in pop.contacts] == ["Mehmet Demir"]
    assert [n.body for n in pop.notes] == ["Görüşme 6", "Görüşme 5", "Görüşme 4", "Görüşme 3", "Görüşme 2"]
    assert [c.call_id for c in pop.calls] == ["1795431704.1"]
    assert pop.has_history

    by_contact = await service.screen_pop("05327654321")
    assert [p.customer.id for p in by_contact] == [customer.id]
    assert by_contact[0].contacts[0].id == contact.id
    assert await service.screen_pop("0544 000 00 00") == []
    assert await service.screen_pop("anonymous") == []


async def test_a_call_note_keeps_its_date_and_author(
    db: Database, memory_bus: InProcessBus, actor: Actor, conn: asyncpg.Connection
) -> None:
    service = CustomerService(db, memory_bus)
    customer = await service.create_customer(actor, kind=CustomerKind.LEAD, name="Zeynep", phones=["05321112233"])
    when = datetime(2026, 11, 1, 14, 30, tzinfo=UTC)
    note = await service.add_call_note(actor, customer.id, "Fatura sorusu; yarın aranacak.", noted_at=when)
    assert (note.noted_at, note.author_id) == (when, actor.id)
    with pytest.raises(InvalidInputError):
        await service.add_call_note(actor, customer.id, "   ")
    with pytest.raises(NotFoundError):
        await service.add_call_note(actor, 999_999, "x")
    with pytest.raises(InvalidInputError) as error:
        await service.add_contact(actor, customer.id, name="X", phone="12")
    assert error.value.code == "error.phone_too_short"
    assert await conn.fetchval("SELECT count(*) FROM call_notes") == 1


@pytest.mark.parametrize(
    ("written", "title"),
    [
        ("İSTANBUL", "İstanbul"),
        ("istanbul", "İstanbul"),
        ("ŞANLIURFA", "Şanlıurfa"),
        ("ığdır", "Iğdır"),
        ("AFYON KARAHİSAR", "Afyon Karahisar"),
    ],
)
def test_city_names_are_title_cased_the_turkish_way(written: str, title: str) -> None:
    assert tr_title(written) == title
