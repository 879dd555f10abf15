"""Distributing a pool's records to agents and teams by criteria, in fair shares."""

from __future__ import annotations

import asyncpg
import pytest

from crm_core.audit.repository import Actor
from crm_core.users.model import Role
from crm_core.users.repository import TeamRepository
from crm_core.users.service import InvalidInputError
from dialer.pools.model import Criteria, TargetKind, fair_shares, order_for_remainder
from dialer.pools.service import PoolService
from tests.conftest import MakeUser

from .conftest import csv_file

CITIES = ["İstanbul", "Ankara", "İzmir"]


async def fill(conn: asyncpg.Connection, pool_id: int, count: int, *, start: int = 0) -> None:
    """``count`` new records: cities in turn, priorities 0..4 in turn, custom field ``segment`` a/b in turn."""
    await conn.executemany(
        """INSERT INTO pool_records (pool_id, phone, name, city, priority, custom_fields)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [
            (pool_id, f"+90532{start + i:07d}", f"Kişi {i}", CITIES[i % 3], i % 5, {"segment": "ab"[i % 2]})
            for i in range(count)
        ],
    )


async def assigned(conn: asyncpg.Connection, pool_id: int, column: str = "agent_id") -> dict[int, int]:
    rows = await conn.fetch(
        f"SELECT {column} AS t, count(*) AS n FROM pool_records WHERE pool_id = $1 AND status = 'assigned' GROUP BY 1",  # noqa: S608
        pool_id,
    )
    return {r["t"]: r["n"] for r in rows}


@pytest.mark.parametrize(("total", "targets"), [(0, 3), (1, 3), (10, 3), (12, 4), (7, 7), (100, 6), (5, 1)])
def test_fair_shares_differ_by_at_most_one_and_add_up(total: int, targets: int) -> None:
    shares = fair_shares(total, targets)
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)


def test_the_remainder_goes_to_the_least_loaded() -> None:
    assert order_for_remainder([5, 6, 7], {5: 10, 6: 0, 7: 3}) == [6, 7, 5]
    assert order_for_remainder([7, 5, 5], {}) == [5, 7]


@pytest.mark.parametrize(("records", "agents"), [(10, 3), (11, 4), (3, 5), (30, 2)])
async def test_records_are_shared_equally_between_agents(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, make_user: MakeUser, records: int, agents: int
) -> None:
    pool = await service.create_pool(admin, "Paylaştır")
    await fill(conn, pool.id, records)
    team = [(await make_user(f"ajan{i}")).id for i in range(agents)]
    result = await service.distribute(admin, pool.id, agents=team)
    counts = await assigned(conn, pool.id)
    assert result.kind is TargetKind.AGENT
    assert dict(result.counts) == {a: counts.get(a, 0) for a in team}
    assert result.total == records
    assert max(result.counts.values()) - min(result.counts.values()) <= 1


async def test_each_agent_gets_an_even_mix_of_priorities_and_the_least_loaded_gets_the_remainder(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    pool = await service.create_pool(admin, "Karışık")
    busy, idle = (await make_user("mesgul")).id, (await make_user("bos")).id
    await fill(conn, pool.id, 1)
    await service.distribute(admin, pool.id, agents=[busy])  # busy has one open record already
    await fill(conn, pool.id, 5, start=100)  # priorities 0, 1, 2, 3, 4
    result = await service.distribute(admin, pool.id, agents=[busy, idle])
    assert dict(result.counts) == {idle: 3, busy: 2}
    rows = await conn.fetch(
        "SELECT agent_id, array_agg(priority ORDER BY priority DESC) AS p FROM pool_records "
        "WHERE pool_id = $1 AND phone LIKE '+905320000%' AND phone >= '+905320000100' GROUP BY agent_id",
        pool.id,
    )
    assert {r["agent_id"]: r["p"] for r in rows} == {idle: [4, 2, 0], busy: [3, 1]}


async def test_criteria_choose_which_records_are_distributed(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    pool = await service.create_pool(admin, "Ölçüt")
    await fill(conn, pool.id, 30)
    agent = (await make_user("ajan1")).id
    rows = await conn.fetch("SELECT city, priority, custom_fields FROM pool_records")
    expected = [
        r
        for r in rows
        if r["city"] in ("İstanbul", "İzmir") and 1 <= r["priority"] <= 3 and r["custom_fields"]["segment"] == "a"
    ]
    result = await service.distribute(
        admin,
        pool.id,
        agents=[agent],
        criteria=Criteria(cities=("ISTANBUL ", "izmir"), custom={"segment": "a"}, priority_min=1, priority_max=3),
    )
    assert result.total == len(expected) > 0
    taken = await conn.fetch("SELECT city, priority, custom_fields FROM pool_records WHERE status = 'assigned'")
    assert all(r["city"] in ("İstanbul", "İzmir") and 1 <= r["priority"] <= 3 for r in taken)
    assert all(r["custom_fields"] == {"segment": "a"} for r in taken)

    best = await conn.fetch("SELECT id FROM pool_records WHERE status = 'new' ORDER BY priority DESC, id LIMIT 4")
    limited = await service.distribute(admin, pool.id, agents=[agent], criteria=Criteria(limit=4))
    assert limited.total == 4
    assert await conn.fetchval(
        "SELECT bool_and(status = 'assigned') FROM pool_records WHERE id = ANY($1::bigint[])", [r["id"] for r in best]
    )


async def test_distribution_to_teams_and_to_the_agents_of_a_team(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    pool = await service.create_pool(admin, "Takım")
    await fill(conn, pool.id, 9)
    teams = TeamRepository(conn)
    red, blue = (await teams.add("Kırmızı", None)).id, (await teams.add("Mavi", None)).id
    result = await service.distribute(admin, pool.id, teams=[red, blue], criteria=Criteria(cities=("Ankara",)))
    assert result.kind is TargetKind.TEAM
    assert sorted(result.counts.values()) == [1, 2]
    assert await assigned(conn, pool.id, "team_id") == dict(result.counts)
    assert (
        await conn.fetchval("SELECT count(*) FROM pool_records WHERE team_id IS NOT NULL AND agent_id IS NOT NULL") == 0
    )

    members = [(await make_user(f"mavi{i}", team_id=blue)).id for i in range(2)]
    await make_user("lider", team_id=blue, role=Role.TEAM_LEADER)
    await make_user("kirmizi1", team_id=red)
    result = await service.distribute(admin, pool.id, members_of=blue)
    assert set(result.counts) == set(members)
    assert sorted(result.counts.values()) == [3, 3]
    audit = await conn.fetchval("SELECT changes FROM audit_log WHERE action = 'pool.distributed' ORDER BY id DESC")
    assert audit["assigned"][1] == {str(m): 3 for m in members}


async def test_a_distribution_needs_exactly_one_kind_of_existing_target(
    service: PoolService, admin: Actor, make_user: MakeUser
) -> None:
    pool = await service.create_pool(admin, "Hedef")
    agent = (await make_user("ajan1")).id
    for kwargs in ({}, {"agents": [agent], "teams": [1]}):
        with pytest.raises(InvalidInputError) as error:
            await service.distribute(admin, pool.id, **kwargs)  # type: ignore[arg-type]
        assert error.value.code == "error.one_kind_of_target"
    with pytest.raises(InvalidInputError) as error:
        await service.distribute(admin, pool.id, agents=[agent, 999_999])
    assert error.value.code == "error.no_such_user"
    with pytest.raises(InvalidInputError) as error:
        await service.distribute(admin, pool.id, teams=[999_999])
    assert error.value.code == "error.no_such_team"


async def test_a_region_criterion_uses_the_region_derived_from_the_city(
    service: PoolService, admin: Actor, conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    pool = await service.create_pool(admin, "Bölge")
    content = csv_file(["Telefon;Şehir", "05321234567;IZMIR", "05321234568;Ankara", "05321234569;mugla"])
    await service.import_file(
        admin, pool.id, filename="x.csv", content=content, mapping={"Telefon": "phone", "Şehir": "city"}
    )
    agent = (await make_user("ajan1")).id
    result = await service.distribute(admin, pool.id, agents=[agent], criteria=Criteria(regions=("ege",)))
    assert result.total == 2
    rows = await conn.fetch("SELECT city, region FROM pool_records WHERE status = 'assigned' ORDER BY city")
    assert [(r["city"], r["region"]) for r in rows] == [("Muğla", "Ege"), ("İzmir", "Ege")]
