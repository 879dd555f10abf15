"""Importing lead files into pools on the real PostgreSQL: every row stored or reported, duplicates handled by the
pool's rule, the file kept and downloadable, and nothing at all left behind by a failed import."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Connection, Database
from crm_core.audit.repository import Actor
from crm_core.customers.model import CustomerKind
from crm_core.customers.service import CustomerService
from crm_core.users.service import NotFoundError
from dialer.pools import events
from dialer.pools import service as pool_service
from dialer.pools.files import FileFormatError
from dialer.pools.imports import ImportRepository
from dialer.pools.mapping import MappingError
from dialer.pools.model import DuplicateRule, RecordStatus
from dialer.pools.service import PoolService

from .conftest import MAPPING, csv_file, xlsx_file

PHONE_ONLY = {"Telefon": "phone", "Ad Soyad": "name"}


def phones_file(*numbers: str) -> bytes:
    return csv_file(["Telefon;Ad Soyad", *(f"{n};Kişi {i}" for i, n in enumerate(numbers))])


async def live(conn: asyncpg.Connection, pool_id: int) -> list[str]:
    rows = await conn.fetch(
        "SELECT phone FROM pool_records WHERE pool_id = $1 AND status <> 'archived' ORDER BY phone", pool_id
    )
    return [r["phone"] for r in rows]


async def test_every_row_is_stored_or_reported_with_its_line_and_reason(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, memory_bus: InProcessBus
) -> None:
    pool = await service.create_pool(admin, "Kampanya Kasım")
    content = csv_file(
        [
            "Telefon;Ad Soyad;Şehir;Öncelik;Abone No",
            "0532 123 45 67;İsmail Şahin;İSTANBUL;3;A-1",
            "0111 111 11 11;Yanlış;Ankara;0;A-2",
            ";Numarasız;Ankara;0;A-3",
            "05321234568;Kısa",
            "",
            "05321234569;Ayşe Gül;izmir;çok;A-5",
            "+90 532 123 45 67;Tekrar;Ankara;1;A-6",
            "05321234570;Zeynep Ak;Muğla;-2;",
        ],
        encoding="cp1254",
    )
    report = await service.import_file(admin, pool.id, filename="kasım.csv", content=content, mapping=MAPPING)

    summary = report.summary
    assert (summary.total_rows, summary.stored_rows, summary.rejected_rows, summary.blank_lines) == (7, 2, 5, 1)
    assert [(i.line_no, i.reason) for i in report.rejected] == [
        (3, "phone.invalid"),
        (4, "phone.empty"),
        (5, "row.too_short"),
        (7, "priority.invalid"),
        (8, "duplicate.in_file"),
    ]
    stored = await ImportRepository(conn).issues(summary.id)
    assert stored == list(report.issues)
    assert stored[0].raw == ("0111 111 11 11", "Yanlış", "Ankara", "0", "A-2")

    records = await conn.fetch(
        "SELECT line_no, phone, name, city, priority, custom_fields, status, import_id FROM pool_records ORDER BY id"
    )
    assert [tuple(r.values()) for r in records] == [
        (2, "+905321234567", "İsmail Şahin", "İstanbul", 3, {"abone_no": "A-1"}, "new", summary.id),
        (9, "+905321234570", "Zeynep Ak", "Muğla", -2, {}, "new", summary.id),
    ]
    audit = await conn.fetchrow("SELECT changes FROM audit_log WHERE action = 'pool.imported'")
    assert audit is not None
    assert audit["changes"]["stored_rows"] == [None, 2]
    published = [e.event for e in await memory_bus.read("pools")]
    assert isinstance(published[-1], events.PoolImported)
    assert (published[-1].stored, published[-1].rejected) == (2, 5)


async def test_the_uploaded_file_is_kept_as_it_was_with_its_name_and_date(
    service: PoolService, admin: Actor, conn: asyncpg.Connection
) -> None:
    pool = await service.create_pool(admin, "Arşiv")
    content = xlsx_file([["Telefon", "Ad Soyad"], [5321234567, "Ayşe"], ["bozuk", "Ali"]])
    report = await service.import_file(
        admin, pool.id, filename="Kasım listesi.xlsx", content=content, mapping=PHONE_ONLY
    )
    stored = await service.uploaded_file(report.summary.id)
    assert (stored.filename, stored.content, stored.uploaded_by) == ("Kasım listesi.xlsx", content, admin.id)
    assert stored.uploaded_at == report.summary.uploaded_at
    assert [s.id for s in await service.imports(pool.id)] == [report.summary.id]
    assert report.summary.mapping == PHONE_ONLY
    assert (report.summary.file_format, report.summary.stored_rows, report.summary.rejected_rows) == ("xlsx", 1, 1)
    with pytest.raises(NotFoundError):
        await service.uploaded_file(999_999)


async def test_a_bad_file_or_mapping_stores_nothing_not_even_the_file(
    service: PoolService, admin: Actor, conn: asyncpg.Connection
) -> None:
    pool = await service.create_pool(admin, "Boş")
    with pytest.raises(FileFormatError) as error:
        await service.import_file(admin, pool.id, filename="x.xlsx", content=b"PK\x03\x04junk", mapping=PHONE_ONLY)
    assert error.value.code == "file.unreadable"
    with pytest.raises(MappingError) as mapping_error:
        await service.import_file(
            admin, pool.id, filename="x.csv", content=phones_file("05321234567"), mapping={"GSM": "phone"}
        )
    assert (mapping_error.value.code, mapping_error.value.detail) == ("mapping.unknown_column", "GSM")
    assert await conn.fetchval("SELECT count(*) FROM pool_imports") == 0


async def test_a_failure_in_the_middle_of_an_import_leaves_nothing(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = await service.create_pool(admin, "Yarım")
    content = phones_file("05321234567", "05321234568", "bozuk")

    async def explode(self: ImportRepository, pool_id: int, import_id: int, keys: list[str]) -> int:
        await original(self, pool_id, import_id, keys)  # the rows are in ...
        raise RuntimeError("disk full")  # ... and then the import fails

    original = ImportRepository._insert_records
    monkeypatch.setattr(ImportRepository, "_insert_records", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        await service.import_file(admin, pool.id, filename="x.csv", content=content, mapping=PHONE_ONLY)
    for table in ("pool_imports", "pool_import_files", "pool_import_issues", "pool_records"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'pool.imported'") == 0

    monkeypatch.undo()
    report = await service.import_file(admin, pool.id, filename="x.csv", content=content, mapping=PHONE_ONLY)
    assert (report.summary.stored_rows, report.summary.rejected_rows) == (2, 1)


async def test_a_file_found_malformed_after_some_batches_were_stored_leaves_nothing(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_service, "BATCH_ROWS", 3)
    pool = await service.create_pool(admin, "Geç hata")
    lines = ["Telefon;Ad Soyad"] + [f"0532{i:07d};Kişi {i}" for i in range(10)] + ['05329999999;"Kapanmayan']
    lines += [f"0533{i:07d};Kişi {i}" for i in range(20_000)]  # swallowed by the open quote: over csv's field limit
    with pytest.raises(FileFormatError) as error:
        await service.import_file(admin, pool.id, filename="x.csv", content=csv_file(lines), mapping=PHONE_ONLY)
    assert (error.value.code, error.value.detail.split(":")[0]) == ("file.malformed", "line 12")
    for table in ("pool_imports", "pool_import_files", "pool_import_issues", "pool_records"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608


async def test_the_blacklist_hook_refuses_its_numbers_and_a_failing_hook_imports_nothing(
    service: PoolService, admin: Actor, conn: asyncpg.Connection
) -> None:
    pool = await service.create_pool(admin, "Kara liste")
    content = phones_file("05321234567", "05321234568")

    async def blocked(_conn: Connection, numbers: Sequence[str]) -> set[str]:
        return {n for n in numbers if n.endswith("8")}

    report = await service.import_file(
        admin, pool.id, filename="x.csv", content=content, mapping=PHONE_ONLY, blocked=blocked
    )
    assert [(i.line_no, i.reason) for i in report.rejected] == [(3, "blacklisted")]
    assert await live(conn, pool.id) == ["+905321234567"]

    async def broken(_conn: Connection, _numbers: Sequence[str]) -> set[str]:
        raise ConnectionError("blacklist unreachable")

    other = await service.create_pool(admin, "Kara liste 2")
    with pytest.raises(ConnectionError):
        await service.import_file(
            admin, other.id, filename="y.csv", content=phones_file("05339999999"), mapping=PHONE_ONLY, blocked=broken
        )
    assert await conn.fetchval("SELECT count(*) FROM pool_imports WHERE pool_id = $1", other.id) == 0


async def test_a_number_already_in_the_pool_is_refused_whatever_the_rule(
    service: PoolService, admin: Actor, conn: asyncpg.Connection
) -> None:
    pool = await service.create_pool(admin, "Tek", duplicate_rule=DuplicateRule.ALLOW)
    await service.import_file(admin, pool.id, filename="1.csv", content=phones_file("05321234567"), mapping=PHONE_ONLY)
    again = await service.import_file(
        admin, pool.id, filename="2.csv", content=phones_file("0532 123 45 67", "05321234568"), mapping=PHONE_ONLY
    )
    assert [(i.line_no, i.reason) for i in again.rejected] == [(2, "duplicate.in_pool")]
    assert await live(conn, pool.id) == ["+905321234567", "+905321234568"]


@pytest.mark.parametrize(
    ("rule", "stored", "reason", "left_in_first"),
    [
        (DuplicateRule.SKIP, 1, "duplicate.other_pool", ["+905321234567", "+905321234568"]),
        (DuplicateRule.ALLOW, 2, "duplicate.allowed", ["+905321234567", "+905321234568"]),
        (DuplicateRule.MOVE, 2, "duplicate.moved", ["+905321234568"]),
    ],
)
async def test_numbers_in_another_pool_follow_the_pools_rule(
    service: PoolService,
    admin: Actor,
    conn: asyncpg.Connection,
    rule: DuplicateRule,
    stored: int,
    reason: str,
    left_in_first: list[str],
) -> None:
    first = await service.create_pool(admin, "Eski liste")
    await service.import_file(
        admin, first.id, filename="1.csv", content=phones_file("05321234567", "05321234568"), mapping=PHONE_ONLY
    )
    second = await service.create_pool(admin, "Yeni liste", duplicate_rule=rule)
    report = await service.import_file(
        admin, second.id, filename="2.csv", content=phones_file("0532 123 45 67", "05329999999"), mapping=PHONE_ONLY
    )
    assert report.summary.stored_rows == stored
    assert [(i.line_no, i.outcome, i.reason) for i in report.issues] == [
        (2, "rejected" if rule is DuplicateRule.SKIP else "stored", reason)
    ]
    assert report.issues[0].detail is not None and str(first.id) in report.issues[0].detail
    assert await live(conn, first.id) == left_in_first
    assert (report.summary.moved_rows, report.summary.allowed_duplicates) == (
        int(rule is DuplicateRule.MOVE),
        int(rule is DuplicateRule.ALLOW),
    )
    if rule is DuplicateRule.MOVE:
        moved = await conn.fetchrow(
            "SELECT status, disposition FROM pool_records WHERE pool_id = $1 AND phone = $2", first.id, "+905321234567"
        )
        assert moved is not None
        assert (moved["status"], moved["disposition"]) == ("archived", "moved")


async def test_move_does_not_take_a_record_an_agent_is_calling(
    service: PoolService, admin: Actor, conn: asyncpg.Connection
) -> None:
    first = await service.create_pool(admin, "Aranıyor")
    await service.import_file(admin, first.id, filename="1.csv", content=phones_file("05321234567"), mapping=PHONE_ONLY)
    await conn.execute(
        "UPDATE pool_records SET status = $1, agent_id = $2, claimed_by = $2, claimed_at = now()",
        RecordStatus.IN_PROGRESS.value,
        admin.id,
    )
    second = await service.create_pool(admin, "Taşı", duplicate_rule=DuplicateRule.MOVE)
    report = await service.import_file(
        admin, second.id, filename="2.csv", content=phones_file("05321234567"), mapping=PHONE_ONLY
    )
    assert [(i.line_no, i.reason) for i in report.rejected] == [(2, "duplicate.in_use")]
    assert await live(conn, first.id) == ["+905321234567"]


async def test_imported_records_are_linked_to_the_customer_with_that_number(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, db: Database, memory_bus: InProcessBus
) -> None:
    customers = CustomerService(db, memory_bus)
    customer = await customers.create_customer(admin, kind=CustomerKind.CUSTOMER, name="Ayşe", phones=["05321234567"])
    pool = await service.create_pool(admin, "Bağlantı")
    await service.import_file(
        admin, pool.id, filename="x.csv", content=phones_file("0532 123 45 67", "05321234568"), mapping=PHONE_ONLY
    )
    rows = await conn.fetch("SELECT phone, customer_id FROM pool_records ORDER BY phone")
    assert [(r["phone"], r["customer_id"]) for r in rows] == [("+905321234567", customer.id), ("+905321234568", None)]
