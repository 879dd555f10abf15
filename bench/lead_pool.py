"""Benchmark of the data pools: importing a big lead file, and the preview-dialing pick on a big pool.

1. Writes a 1,000,000-row CSV as Turkish Excel does (Windows-1254, ``;``, numbers written every which way, a few
   bad numbers and repeats) and imports it through the real path (``PoolService.import_file``: parse, COPY into
   staging, duplicate rule, INSERT ... SELECT, report, the file kept) into a scratch database.
2. Builds a 10,000,000-row pool with ``generate_series`` (records owned by agents and by teams, some not yet due),
   then has a few agents take their next record (``PoolService.next_record``) at 100 picks per second in all, for
   about 20 seconds, and prints the latency percentiles.
3. The same with the campaign pick the dialer uses (``DialRecords.claim``: call-backs first, then the agent's own
   records, his team's, retries and new records, with the calling rules checked per record).

    .venv/bin/python bench/lead_pool.py [--rows 1000000] [--pool-rows 10000000] [--rate 100] [--seconds 20]

Targets (issue 4): the import under 60 s; the pick p99 under 5 ms at 100 picks/s. The scratch database is dropped
at the end. Needs the PostgreSQL of CALLCENTER_TEST_DATABASE_URL (default: the local one, as the tests).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path

import asyncpg

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database, init_connection
from callcenter.db.migrate import migrate
from crm_core.audit.repository import SYSTEM
from dialer.campaigns.model import CallingRules, Campaign, DialMode
from dialer.campaigns.repository import CampaignRepository, DialRecords
from dialer.pools import imports
from dialer.pools.service import PoolService

ADMIN_URL = os.environ.get("CALLCENTER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CITIES = ["İSTANBUL", "Ankara", "izmir", "Bursa", "ŞANLIURFA", "Muğla", "Iğdır", "Kadıköy", "Diyarbakır", "Van"]
MAPPING = {
    "Telefon": "phone",
    "Ad Soyad": "name",
    "Şehir": "city",
    "Öncelik": "priority",
    "Abone No": "custom:abone_no",
    "Segment": "custom:segment",
}
AGENTS, TEAMS, TEAM_ONLY = 50, 5, 4  # the last TEAM_ONLY agents own no records: they live on their team's


def write_csv(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    shapes = ["0{a} {b} {c} {d}", "+90 {a} {b} {c}{d}", "{a}{b}{c}{d}", "90{a}{b}{c}{d}", "({a}) {b}-{c}-{d}"]
    with path.open("w", encoding="cp1254", newline="") as out:
        out.write("Telefon;Ad Soyad;Şehir;Öncelik;Abone No;Segment\r\n")
        for i in range(rows):
            n = f"53{i % 10}{i:07d}"  # unique mobile numbers
            if i % 200 == 7:
                n = "011" + n[3:]  # not a Turkish range: refused, reported
            elif i % 200 == 11 and i > 100:
                n = f"53{(i - 100) % 10}{i - 100:07d}"  # a repeat of an earlier line: refused, reported
            phone = rng.choice(shapes).format(a=n[:3], b=n[3:6], c=n[6:8], d=n[8:])
            name = f'"Müşteri {i}; Ltd. Şti."' if i % 50 == 0 else f"Ayşe Öztürk {i}"
            out.write(f"{phone};{name};{CITIES[i % 10]};{i % 10};AB-{i};{'ABC'[i % 3]}\r\n")


async def create_scratch() -> str:
    name = f"bench_pool_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = ADMIN_URL.rpartition("/")[0] + "/" + name
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


async def drop_scratch(url: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await admin.close()


def timed(owner: object, name: str, spent: dict[str, float]) -> None:
    """Wrap ``owner.name`` (a function or coroutine function) to add its time to ``spent[name]``."""
    original = getattr(owner, name)
    if asyncio.iscoroutinefunction(original):

        async def async_wrapper(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

        setattr(owner, name, async_wrapper)
    else:

        def wrapper(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

        setattr(owner, name, wrapper)


async def bench_import(pools: PoolService, rows: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        started = time.perf_counter()
        write_csv(path, rows)
        content = path.read_bytes()
    print(f"  generated {rows:,} rows, {len(content) / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")
    pool = await pools.create_pool(SYSTEM, "Bench import")
    spent: dict[str, float] = {}
    for step in ("stage_batch", "_conflicts", "store_batch", "_insert_records"):
        timed(imports.ImportRepository, step, spent)
    started = time.perf_counter()
    report = await pools.import_file(SYSTEM, pool.id, filename="leads.csv", content=content, mapping=MAPPING)
    total = time.perf_counter() - started
    s = report.summary
    print(f"  stored {s.stored_rows:,}, rejected {s.rejected_rows:,} (reported), blank lines {s.blank_lines}")
    reasons: dict[str, int] = {}
    for issue in report.issues:
        reasons[issue.reason] = reasons.get(issue.reason, 0) + 1
    print(f"  report reasons: {dict(sorted(reasons.items()))}")
    steps = ", ".join(f"{k.strip('_')} {v:.1f} s" for k, v in spent.items())
    print(f"  database time: {steps} (reading the file runs alongside inserts, in a thread)")
    print(f"  IMPORT: {rows:,} rows in {total:.1f} s = {rows / total:,.0f} rows/s  (target < 60 s)")
    return total


async def build_pool(db: asyncpg.Pool, rows: int) -> tuple[list[int], list[int]]:
    """Agents (10 per team), and a pool of ``rows`` records: 70% owned by an agent (all but the last TEAM_ONLY),
    25% by a team, 5% unassigned; priorities 0-9; one in ten not due for an hour."""
    teams = [await db.fetchval("INSERT INTO teams (name) VALUES ($1) RETURNING id", f"Takım {t}") for t in range(TEAMS)]
    agents = [
        await db.fetchval(
            "INSERT INTO users (username, full_name, role, team_id, password_hash) "
            "VALUES ($1, $1, 'agent', $2, 'x') RETURNING id",
            f"ajan{a}",
            teams[a % TEAMS],
        )
        for a in range(AGENTS)
    ]
    pool_id = await db.fetchval("INSERT INTO pools (name, dial_priority) VALUES ('Bench pick', 5) RETURNING id")
    started = time.perf_counter()
    async with db.acquire() as conn:
        # A bulk load as a DBA would do it: indexes rebuilt afterwards, no per-row foreign-key checks (the rows are
        # consistent by construction). The pick that is measured runs on the same indexes the migration defines.
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET session_replication_role = replica")
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'pool_records' AND indexname <> $1",
            "pool_records_pkey",
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        await conn.execute(
            """INSERT INTO pool_records (pool_id, phone, name, city, priority, agent_id, team_id, status,
                                         next_attempt_at, created_at)
               SELECT $1, '+9054' || lpad(g::text, 8, '0'), 'Kişi ' || g, 'İstanbul', g % 10,
                      CASE WHEN g % 20 < 14 THEN ($2::bigint[])[1 + g % ($4::integer - $7::integer)] END,
                      CASE WHEN g % 20 BETWEEN 14 AND 18 THEN ($3::bigint[])[1 + g % $5] END,
                      CASE WHEN g % 20 = 19 THEN 'new' ELSE 'assigned' END,
                      CASE WHEN g % 10 = 3 THEN now() + interval '1 hour' END,
                      now() - (g || ' seconds')::interval
                 FROM generate_series(1, $6::integer) AS g""",
            pool_id,
            agents,
            teams,
            AGENTS,
            TEAMS,
            rows,
            TEAM_ONLY,
        )
        loaded = time.perf_counter()
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("RESET session_replication_role")
        indexed = time.perf_counter()
        await conn.execute("VACUUM ANALYZE pool_records")
        # Let the gigabytes just written reach the disk first: the picks are measured on a settled database, not
        # during the write-back of the load (which adds a few milliseconds to the slowest picks on a small VM).
        await conn.execute("CHECKPOINT")
    print(
        f"  built {rows:,} records: loaded in {loaded - started:.0f} s, indexed in {indexed - loaded:.0f} s, "
        f"vacuumed in {time.perf_counter() - indexed:.0f} s"
    )
    return agents, teams


async def bench_picks(
    pick: Callable[[int], Awaitable[object]], agents: list[int], rate: float, seconds: float, pickers: int
) -> None:
    """``pickers`` agents take records on a fixed schedule adding up to ``rate`` per second. Two figures: the pick
    itself (call to return), and from the scheduled moment to return (adds the event loop's wake-up lateness,
    up to a millisecond with epoll, and any queueing behind a slow pick)."""
    # Half the pickers have records of their own; the other half own none and take their team's.
    chosen = agents[: pickers - pickers // 2] + agents[len(agents) - min(pickers // 2, TEAM_ONLY) :]
    picks: list[float] = []
    scheduled: list[float] = []
    empty = 0
    interval = len(chosen) / rate
    start = time.perf_counter() + 0.5

    async def picker(index: int, agent: int) -> None:
        nonlocal empty
        due = start + index * interval / len(chosen)
        while due < start + seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            began = time.perf_counter()
            record = await pick(agent)
            done = time.perf_counter()
            picks.append(done - began)
            scheduled.append(done - due)
            empty += record is None
            due += interval

    async with asyncio.TaskGroup() as tasks:
        for i, agent in enumerate(chosen):
            tasks.create_task(picker(i, agent))
    print(f"  {len(picks):,} picks by {len(chosen)} agents in {seconds:.0f} s, {empty} of them empty")
    p99 = 0.0
    for label, values in (("PICK (call to return)", picks), ("from scheduled moment", scheduled)):
        ms = sorted(x * 1000 for x in values)
        p50, p90, p99_ = statistics.median(ms), ms[int(len(ms) * 0.9) - 1], ms[int(len(ms) * 0.99) - 1]
        print(f"  {label}: p50 {p50:.2f} ms, p90 {p90:.2f} ms, p99 {p99_:.2f} ms, max {ms[-1]:.2f} ms")
        p99 = p99 or p99_
    verdict = "met" if p99 < 5 else f"MISSED by {p99 - 5:.2f} ms"
    print(f"  target p99 < 5 ms at {rate:.0f} picks/s: {verdict}")


async def campaign_pick(db: asyncpg.Pool, teams: list[int]) -> Callable[[int], Awaitable[object]]:
    """A campaign dialing the bench pool for every team; the pick is ``DialRecords.claim`` (for preview)."""
    pool_id = await db.fetchval("SELECT id FROM pools WHERE name = 'Bench pick'")
    rules = CallingRules(call_days=frozenset(range(1, 8)), call_from=dtime(0), call_until=dtime(23, 59, 59))
    campaign = Campaign(0, "Bench", DialMode.PREVIEW, rules=rules, pool_ids=(pool_id,), team_ids=tuple(teams))
    async with db.acquire() as conn:
        campaign = dataclasses.replace(campaign, id=await CampaignRepository(conn).add(campaign))
        team_of = dict(await conn.fetch("SELECT id, team_id FROM users WHERE role = 'agent'"))

    async def pick(agent: int) -> object:
        async with db.acquire() as conn:
            now = datetime.now(UTC)
            return await DialRecords(conn).claim(
                campaign, now, agent_id=agent, team_id=team_of[agent], for_preview=True
            )

    return pick


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pool-rows", type=int, default=10_000_000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pickers", type=int, default=8)
    args = parser.parse_args()

    url = await create_scratch()
    print(f"scratch database {url.rpartition('/')[2]}")
    db = await asyncpg.create_pool(url, min_size=2, max_size=args.pickers + 2, init=init_connection)
    bus = InProcessBus()
    await bus.start()
    try:
        pools = PoolService(Database(db), bus)
        print(f"1. import of {args.rows:,} CSV rows")
        import_seconds = await bench_import(pools, args.rows)
        if import_seconds >= 60:
            print(f"  target MISSED by {import_seconds - 60:.1f} s")
        print(f"2. next_record on a pool of {args.pool_rows:,} records")
        agents, teams = await build_pool(db, args.pool_rows)
        await bench_picks(pools.next_record, agents, args.rate, args.seconds, args.pickers)
        print("3. the campaign pick (preview and progressive dialing) on the same pool")
        await bench_picks(await campaign_pick(db, teams), agents, args.rate, args.seconds, args.pickers)
    finally:
        await bus.close()
        await db.close()
        await drop_scratch(url)
        print("scratch database dropped")


if __name__ == "__main__":
    asyncio.run(main())
