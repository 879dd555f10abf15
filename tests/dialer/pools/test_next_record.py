"""Preview dialing: the agent's next record. His own first, then his team's; by pool dial priority, record priority,
then age; records not yet due are left alone; and two agents asking at once never get the same record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database, init_connection
from crm_core.audit.repository import Actor
from crm_core.users.repository import TeamRepository
from crm_core.users.service import NotFoundError
from dialer.pools import events
from dialer.pools.model import RecordStatus
from dialer.pools.repository import RecordRepository
from dialer.pools.service import PoolChanges, PoolService
from tests.conftest import MakeUser, create_database, drop_database

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def add(
    conn: asyncpg.Connection,
    pool_id: int,
    phone: str,
    *,
    agent: int | None = None,
    team: int | None = None,
    priority: int = 0,
    due: datetime | None = None,
) -> int:
    record_id: int = await conn.fetchval(
        """INSERT INTO pool_records (pool_id, phone, name, priority, agent_id, team_id, status, next_attempt_at)
           VALUES ($1, $2, $2, $3, $4, $5, 'assigned', $6) RETURNING id""",
        pool_id,
        phone,
        priority,
        agent,
        team,
        due,
    )
    return record_id


async def test_own_records_first_then_the_teams_by_priority_then_age_skipping_those_not_due(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, make_user: MakeUser, memory_bus: InProcessBus
) -> None:
    team = (await TeamRepository(conn).add("Satış", None)).id
    agent = (await make_user("ajan1", team_id=team)).id
    colleague = (await make_user("ajan2", team_id=team)).id
    pool = (await service.create_pool(admin, "Havuz")).id
    team_high = await add(conn, pool, "+905320000001", team=team, priority=9)
    own_old = await add(conn, pool, "+905320000002", agent=agent, priority=1)
    own_new = await add(conn, pool, "+905320000003", agent=agent, priority=1)
    own_high = await add(conn, pool, "+905320000004", agent=agent, priority=5)
    await add(conn, pool, "+905320000005", agent=agent, priority=7, due=NOW + timedelta(hours=1))
    own_due = await add(conn, pool, "+905320000006", agent=agent, priority=3, due=NOW - timedelta(minutes=1))
    await add(conn, pool, "+905320000007", agent=colleague, priority=99)
    team_low = await add(conn, pool, "+905320000008", team=team, priority=0)

    picked = []
    while (record := await service.next_record(agent, now=NOW)) is not None:
        assert (record.status, record.claimed_by, record.claimed_at) == (RecordStatus.IN_PROGRESS, agent, NOW)
        picked.append(record.id)
    assert picked == [own_high, own_due, own_old, own_new, team_high, team_low]
    claimed = [e.event for e in await memory_bus.read("pools") if isinstance(e.event, events.PoolRecordClaimed)]
    assert [e.record_id for e in claimed] == picked
    later = await service.next_record(agent, now=NOW + timedelta(hours=2))
    assert later is not None and later.phone == "+905320000005"


async def test_pools_are_taken_by_dial_priority_and_inactive_pools_not_at_all(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    agent = (await make_user("ajan1")).id
    low = (await service.create_pool(admin, "Düşük", dial_priority=1)).id
    high = (await service.create_pool(admin, "Yüksek", dial_priority=5)).id
    off = (await service.create_pool(admin, "Kapalı", dial_priority=9, active=False)).id
    in_low = await add(conn, low, "+905320000001", agent=agent, priority=50)
    in_high = await add(conn, high, "+905320000002", agent=agent, priority=0)
    await add(conn, off, "+905320000003", agent=agent, priority=99)
    first, second = await service.next_record(agent, now=NOW), await service.next_record(agent, now=NOW)
    assert (first and first.id, second and second.id) == (in_high, in_low)
    assert await service.next_record(agent, now=NOW) is None
    await service.update_pool(admin, off, PoolChanges(active=True))
    third = await service.next_record(agent, now=NOW)
    assert third is not None and third.pool_id == off


async def test_an_attempt_is_counted_and_the_record_comes_back_when_due(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    agent = (await make_user("ajan1")).id
    other = (await make_user("ajan2")).id
    pool = (await service.create_pool(admin, "Tekrar")).id
    record_id = await add(conn, pool, "+905320000001", agent=agent)
    record = await service.next_record(agent, now=NOW)
    assert record is not None
    with pytest.raises(NotFoundError):  # not his record
        await service.finish_attempt(other, record_id, "no_answer")
    retry = NOW + timedelta(hours=3)
    again = await service.finish_attempt(agent, record_id, "no_answer", retry_at=retry)
    assert (again.status, again.attempts, again.next_attempt_at, again.claimed_by) == (
        RecordStatus.ASSIGNED,
        1,
        retry,
        None,
    )
    assert await service.next_record(agent, now=NOW + timedelta(hours=1)) is None
    back = await service.next_record(agent, now=retry)
    assert back is not None and back.id == record_id
    assert await service.release(agent, record_id)
    assert await service.next_record(agent, now=retry) is not None
    done = await service.finish_attempt(agent, record_id, "sale")
    assert (done.status, done.attempts, done.disposition) == (RecordStatus.DONE, 2, "sale")
    assert await service.next_record(agent, now=retry + timedelta(days=1)) is None


# --- concurrency: committed data, several connections ----------------------------------------------------------


@pytest.fixture(scope="module")
async def scratch_url() -> AsyncIterator[str]:
    url = await create_database("callcenter_pools", migrated=True)
    yield url
    await drop_database(url)


@pytest.fixture
async def scratch(scratch_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(scratch_url, min_size=2, max_size=12, init=init_connection)
    try:
        yield pool
    finally:
        await pool.execute("TRUNCATE pool_records, pools, users, teams RESTART IDENTITY CASCADE")
        await pool.close()


async def _team_with_agents(db: asyncpg.Pool, agents: int, records: int) -> tuple[int, list[int]]:
    team = await db.fetchval("INSERT INTO teams (name) VALUES ('Yarış') RETURNING id")
    ids = [
        await db.fetchval(
            "INSERT INTO users (username, full_name, role, team_id, password_hash) VALUES ($1, $1, 'agent', $2, 'x') "
            "RETURNING id",
            f"ajan{i}",
            team,
        )
        for i in range(agents)
    ]
    pool = await db.fetchval("INSERT INTO pools (name) VALUES ('Yarış') RETURNING id")
    await db.executemany(
        "INSERT INTO pool_records (pool_id, phone, team_id, status) VALUES ($1, $2, $3, 'assigned')",
        [(pool, f"+90532{i:07d}", team) for i in range(records)],
    )
    return team, ids


async def test_a_record_held_by_one_agent_is_skipped_not_waited_for(scratch: asyncpg.Pool) -> None:
    _, (first, second) = await _team_with_agents(scratch, 2, 2)
    async with scratch.acquire() as one, scratch.acquire() as two:
        tx = one.transaction()
        await tx.start()  # the first agent's claim is not committed yet: its row stays locked
        mine = await RecordRepository(one).claim_next(first, NOW)
        async with asyncio.timeout(2):
            theirs = await RecordRepository(two).claim_next(second, NOW)
        await tx.commit()
    assert mine is not None and theirs is not None
    assert mine.id != theirs.id


async def test_agents_picking_at_once_never_get_the_same_record(
    scratch: asyncpg.Pool, memory_bus: InProcessBus
) -> None:
    _, agents = await _team_with_agents(scratch, 10, 300)
    service = PoolService(Database(scratch), memory_bus)
    got: dict[int, list[int]] = {a: [] for a in agents}

    async def work(agent: int) -> None:
        while (record := await service.next_record(agent, now=NOW)) is not None:
            got[agent].append(record.id)

    async with asyncio.TaskGroup() as tasks:
        for agent in agents:
            tasks.create_task(work(agent))
    everything = [r for records in got.values() for r in records]
    assert len(everything) == len(set(everything)) == 300
    assert sum(1 for records in got.values() if records) > 1  # they really did work side by side
    claimed = await scratch.fetchval("SELECT count(DISTINCT claimed_by) FROM pool_records WHERE status = 'in_progress'")
    assert claimed == sum(1 for records in got.values() if records)
