"""Records held by agents who went away come back to dialing; a record in a live call stays where it is."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from dialer.campaigns.repository import DialRecords
from tests.conftest import MakeUser


async def _record(conn: asyncpg.Connection, pool: int, phone: str, agent: int) -> int:
    record_id: int = await conn.fetchval(
        """INSERT INTO pool_records (pool_id, phone, status, claimed_by, claimed_at)
           VALUES ($1, $2, 'in_progress', $3, now()) RETURNING id""",
        pool,
        phone,
        agent,
    )
    return record_id


async def test_records_of_logged_out_agents_are_given_back(conn: asyncpg.Connection, make_user: MakeUser) -> None:
    away_user, here_user, talking_user = [await make_user(name) for name in ("gitti", "burada", "konusuyor")]
    pool = await conn.fetchval("INSERT INTO pools (name) VALUES ('Liste') RETURNING id")
    now = datetime.now(UTC)
    for user, state in ((away_user, "logged_out"), (here_user, "ready"), (talking_user, "logged_out")):
        await conn.execute("INSERT INTO agent_states (user_id, state, since) VALUES ($1, $2, $3)", user.id, state, now)
    left = await _record(conn, pool, "+905320000001", away_user.id)
    kept = await _record(conn, pool, "+905320000002", here_user.id)
    live = await _record(conn, pool, "+905320000003", talking_user.id)
    await conn.execute(
        """INSERT INTO call_records (call_id, direction, pool_record_id, agent_id, phone, dialed_at)
           VALUES ('c1', 'outbound', $1, $2, '+905320000003', now())""",
        live,
        talking_user.id,
    )

    assert await DialRecords(conn).release_absent_claims() == [left]
    rows = {r["id"]: (r["status"], r["claimed_by"]) for r in await conn.fetch("SELECT * FROM pool_records")}
    assert rows[left] == ("assigned", None)
    assert rows[kept] == ("in_progress", here_user.id)
    assert rows[live] == ("in_progress", talking_user.id)
