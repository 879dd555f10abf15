"""The check every dial and every import runs, on the real PostgreSQL: the global blacklist, a campaign's own
entries, removed entries, and İYS consents under each campaign rule; one query for any number of numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from crm_core.audit.repository import Actor
from crm_core.customers.phones import InvalidPhoneError
from dialer.blacklist.service import BlacklistService, blocked_at_import, blocked_for_campaign, blocked_numbers
from dialer.pools.model import DuplicateRule
from dialer.pools.service import PoolService

from .conftest import MakeCampaign, csv_file

A, B, C, D = "+905321234567", "+905321234568", "+905321234569", "+905321234570"


async def consent(conn: asyncpg.Connection, phone: str, status: str, channel: str = "ARAMA") -> None:
    await conn.execute(
        """INSERT INTO iys_consents (phone, channel, status, recipient_type, source, consent_date)
           VALUES ($1, $2, $3, 'BIREYSEL', 'HS_WEB', now())""",
        phone,
        channel,
        status,
    )


async def test_a_global_entry_blocks_every_campaign_and_calls_outside_campaigns(
    service: BlacklistService, admin: Actor, conn: asyncpg.Connection, make_campaign: MakeCampaign
) -> None:
    kasim = await make_campaign()
    await service.add(admin, "0532 123 45 67", reason="Müşteri aranmak istemiyor")

    assert await blocked_numbers(conn, [A, B]) == {A: "blacklist"}
    # Numbers are answered as the caller wrote them.
    assert await blocked_numbers(conn, ["0532 123 45 67", "0532 123 45 68"], campaign_id=kasim) == {
        "0532 123 45 67": "blacklist"
    }


async def test_a_campaign_entry_blocks_only_that_campaign(
    service: BlacklistService, admin: Actor, conn: asyncpg.Connection, make_campaign: MakeCampaign
) -> None:
    kasim = await make_campaign("Kasım")
    aralik = await make_campaign("Aralık")
    await service.add(admin, A, reason="Bu kampanyayı istemiyor", campaign_id=kasim)

    assert await blocked_numbers(conn, [A], campaign_id=kasim) == {A: "blacklist_campaign"}
    assert await blocked_numbers(conn, [A], campaign_id=aralik) == {}
    assert await blocked_numbers(conn, [A]) == {}


async def test_a_removed_entry_no_longer_blocks_and_its_history_is_kept(
    service: BlacklistService, admin: Actor, conn: asyncpg.Connection
) -> None:
    entry = await service.add(admin, A, reason="Şikâyet etti")
    await service.remove(admin, entry.id, "Yanlışlıkla eklenmiş")

    assert await blocked_numbers(conn, [A]) == {}
    row = await conn.fetchrow(
        "SELECT reason, added_by, removed_by, removal_reason, removed_at IS NOT NULL AS removed "
        "FROM blacklist_entries WHERE id = $1",
        entry.id,
    )
    assert tuple(row.values()) == ("Şikâyet etti", admin.id, admin.id, "Yanlışlıkla eklenmiş", True)


async def test_iys_refusal_of_calls_blocks_under_the_default_rule_and_outside_campaigns(
    conn: asyncpg.Connection, make_campaign: MakeCampaign
) -> None:
    kasim = await make_campaign()  # refused_blocked, the default
    await consent(conn, A, "RET")
    await consent(conn, B, "ONAY")
    await consent(conn, C, "RET", channel="MESAJ")  # refused SMS, not calls

    assert await blocked_numbers(conn, [A, B, C, D], campaign_id=kasim) == {A: "iys_refused"}
    assert await blocked_numbers(conn, [A, B, C, D]) == {A: "iys_refused"}


async def test_a_consent_required_campaign_calls_only_numbers_that_consented_to_calls(
    conn: asyncpg.Connection, make_campaign: MakeCampaign
) -> None:
    strict = await make_campaign(consent_rule="consent_required")
    await consent(conn, A, "RET")
    await consent(conn, B, "ONAY")
    await consent(conn, D, "ONAY", channel="EPOSTA")  # consent to e-mail is no consent to calls

    assert await blocked_numbers(conn, [A, B, C, D], campaign_id=strict) == {
        A: "iys_refused",
        C: "iys_no_consent",
        D: "iys_no_consent",
    }


async def test_a_campaign_that_ignores_iys_still_respects_the_blacklist(
    service: BlacklistService, admin: Actor, conn: asyncpg.Connection, make_campaign: MakeCampaign
) -> None:
    collections = await make_campaign("Tahsilat", consent_rule="ignore")
    await consent(conn, A, "RET")
    await consent(conn, B, "RET")
    await service.add(admin, B, reason="Avukat talebi")
    await service.add(admin, C, reason="Bu kampanyada aranmasın", campaign_id=collections)

    assert await blocked_numbers(conn, [A, B, C, D], campaign_id=collections) == {
        B: "blacklist",
        C: "blacklist_campaign",
    }


async def test_a_number_that_is_no_phone_number_is_a_clear_error(conn: asyncpg.Connection) -> None:
    with pytest.raises(InvalidPhoneError) as raised:
        await blocked_numbers(conn, [A, "0532 12"])
    assert raised.value.text == "0532 12"


class CountingConnection:
    """The test connection, counting the statements sent through it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.statements = 0

    async def fetch(self, sql: str, *args: Any) -> Sequence[asyncpg.Record]:
        self.statements += 1
        return await self._conn.fetch(sql, *args)


async def test_twenty_thousand_numbers_are_checked_with_one_query(
    service: BlacklistService, admin: Actor, conn: asyncpg.Connection
) -> None:
    numbers = [f"+90532{i:07d}" for i in range(20_000)]
    await service.add(admin, numbers[7], reason="Şikâyet")
    await service.add(admin, numbers[19_999], reason="Şikâyet")
    await consent(conn, numbers[12_345], "RET")
    counting = CountingConnection(conn)

    blocked = await blocked_numbers(counting, numbers)  # type: ignore[arg-type]

    assert blocked == {numbers[7]: "blacklist", numbers[19_999]: "blacklist", numbers[12_345]: "iys_refused"}
    assert counting.statements == 1


async def test_an_import_into_a_pool_refuses_blacklisted_and_refusing_numbers(
    service: BlacklistService,
    admin: Actor,
    conn: asyncpg.Connection,
    db: Database,
    memory_bus: InProcessBus,
    make_campaign: MakeCampaign,
) -> None:
    kasim = await make_campaign()
    await service.add(admin, A, reason="Aranmak istemiyor")
    await service.add(admin, C, reason="Yalnızca bu kampanyada", campaign_id=kasim)
    await consent(conn, B, "RET")
    pools = PoolService(db, memory_bus)
    content = csv_file(
        ["Telefon;Ad Soyad", "0532 123 45 67;Ali", "0532 123 45 68;Veli", "05321234569;Ayşe", "05321234570;Can"]
    )

    pool = await pools.create_pool(admin, "Kasım listesi")
    report = await pools.import_file(
        admin,
        pool.id,
        filename="liste.csv",
        content=content,
        mapping={"Telefon": "phone", "Ad Soyad": "name"},
        blocked=blocked_at_import,
    )

    assert [(i.line_no, i.reason) for i in report.rejected] == [(2, "blacklisted"), (3, "blacklisted")]
    stored = await conn.fetch("SELECT phone FROM pool_records WHERE pool_id = $1 ORDER BY phone", pool.id)
    assert [r["phone"] for r in stored] == [C, D]  # a campaign's own entry does not keep a number out of a pool

    other = await pools.create_pool(admin, "Kasım kampanyasının listesi", duplicate_rule=DuplicateRule.ALLOW)
    report = await pools.import_file(
        admin,
        other.id,
        filename="liste.csv",
        content=content,
        mapping={"Telefon": "phone", "Ad Soyad": "name"},
        blocked=blocked_for_campaign(kasim),
    )
    assert [(i.line_no, i.reason) for i in report.rejected] == [
        (2, "blacklisted"),
        (3, "blacklisted"),
        (4, "blacklisted"),
    ]
