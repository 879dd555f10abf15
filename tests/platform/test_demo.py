"""The demo seed on the real PostgreSQL: its users and team, and its data pool imported from a CSV file and shared
among the team's agents; seeding twice changes nothing."""

from __future__ import annotations

import collections
import re

import asyncpg

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from callcenter.demo import DEMO_USERS, POOL_FILE, POOL_NAME, POOL_RECORDS, TEAM_NAME, demo_pool_csv, seed_demo
from callcenter.demo_campaigns import PREVIEW_NAME, PROGRESSIVE_NAME
from dialer.campaigns.model import DEFAULT_DISPOSITIONS


async def test_the_demo_pool_is_imported_from_its_file_and_shared_among_the_agents_once(
    db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    await seed_demo(db, memory_bus)
    await seed_demo(db, memory_bus)

    assert await conn.fetchval("SELECT count(*) FROM users") == len(DEMO_USERS)
    team_id = await conn.fetchval("SELECT id FROM teams WHERE name = $1", TEAM_NAME)
    pool_id = await conn.fetchval("SELECT id FROM pools WHERE name = $1", POOL_NAME)
    assert await conn.fetchval("SELECT count(*) FROM pools") == 1

    imports = await conn.fetch(
        """SELECT i.filename, i.stored_rows, i.rejected_rows, i.encoding, f.content
             FROM pool_imports i JOIN pool_import_files f ON f.import_id = i.id WHERE i.pool_id = $1""",
        pool_id,
    )
    assert len(imports) == 1
    kept = imports[0]
    assert (kept["filename"], kept["stored_rows"], kept["rejected_rows"]) == (POOL_FILE, POOL_RECORDS, 3)
    assert kept["encoding"] == "windows-1254" and kept["content"] == demo_pool_csv()
    reasons = await conn.fetch("SELECT reason FROM pool_import_issues ORDER BY line_no")
    assert [r["reason"] for r in reasons] == ["phone.invalid", "phone.too_short", "duplicate.in_file"]

    records = await conn.fetch(
        "SELECT phone, name, city, region, status, agent_id, custom_fields FROM pool_records WHERE pool_id = $1",
        pool_id,
    )
    assert len(records) == POOL_RECORDS
    assert all(re.fullmatch(r"\+905\d{9}", r["phone"]) for r in records)
    assert all(r["name"] and r["city"] and r["region"] and r["custom_fields"]["ilce"] for r in records)
    # Every last digit equally often: the simulator's demo world gives busy (7), no answer (8), congestion (9).
    assert set(collections.Counter(r["phone"][-1] for r in records).values()) == {POOL_RECORDS // 10}

    agents = await conn.fetch("SELECT id FROM users WHERE role = 'agent' AND team_id = $1", team_id)
    shares = collections.Counter(r["agent_id"] for r in records)
    assert {r["status"] for r in records} == {"assigned"}
    assert shares == dict.fromkeys((a["id"] for a in agents), POOL_RECORDS // len(agents))


async def test_the_demo_agents_have_phones_and_campaigns_dial_the_demo_pool(
    db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    await seed_demo(db, memory_bus)
    await seed_demo(db, memory_bus)

    rows = await conn.fetch("SELECT username, extension FROM users WHERE role = 'agent' ORDER BY username")
    phones = {r["username"]: r["extension"] for r in rows}
    assert phones == {f"ajan{n}": f"agent{n}" for n in range(1, 6)}
    campaigns = await conn.fetch(
        """SELECT c.name, c.dial_mode, c.status, array_agg(p.name) AS pools FROM campaigns c
             JOIN campaign_pools cp ON cp.campaign_id = c.id JOIN pools p ON p.id = cp.pool_id
            GROUP BY c.id ORDER BY c.name"""
    )
    assert [(c["name"], c["dial_mode"], c["status"], c["pools"]) for c in campaigns] == [
        (PROGRESSIVE_NAME, "progressive", "draft", [POOL_NAME]),
        (PREVIEW_NAME, "preview", "running", [POOL_NAME]),
    ]
    assert await conn.fetchval("SELECT count(*) FROM dispositions") == 2 * len(DEFAULT_DISPOSITIONS)
