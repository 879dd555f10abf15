"""The agent period log on the real PostgreSQL: transitions, the daily login/logout/break report, and races."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from dialer.agents.repository import AgentStateRepository
from dialer.state.agent import AgentStatus
from dialer.state.reasons import PauseReasons
from tests.conftest import MakeUser

IST = ZoneInfo("Europe/Istanbul")
S = AgentStatus
DAY = date(2026, 11, 23)


def ist(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=IST)


async def test_a_transition_closes_the_open_period_and_opens_the_next(
    conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    agent = await make_user("ajan1")
    repo = AgentStateRepository(conn)
    assert await repo.current(agent.id) is None
    first = await repo.record_transition(agent.id, S.ONLINE_NOT_TAKING, None, ist(DAY, 9))
    again = await repo.record_transition(agent.id, S.ONLINE_NOT_TAKING, None, ist(DAY, 9, 5))
    assert again == first  # the state he is already in: nothing recorded
    ringing = await repo.record_transition(agent.id, S.RINGING, None, ist(DAY, 9, 1), "1795431704.0")
    assert await repo.current(agent.id) == ringing
    periods = await repo.periods(agent.id, ist(DAY, 0), ist(DAY, 23))
    assert [(p.state, p.started_at, p.ended_at, p.call_id) for p in periods] == [
        (S.ONLINE_NOT_TAKING, ist(DAY, 9), ist(DAY, 9, 1), None),
        (S.RINGING, ist(DAY, 9, 1), None, "1795431704.0"),
    ]


async def test_a_transition_stamped_before_the_open_period_never_runs_time_backwards(
    conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    agent = await make_user("ajan1")
    repo = AgentStateRepository(conn)
    await repo.record_transition(agent.id, S.READY, None, ist(DAY, 9, 0, 10))
    late = await repo.record_transition(agent.id, S.PAUSED, "break", ist(DAY, 9, 0, 9))
    assert late.started_at == ist(DAY, 9, 0, 10)
    with pytest.raises(ValueError, match="timezone"):
        await repo.record_transition(agent.id, S.READY, None, datetime(2026, 11, 23, 9))


async def test_the_table_refuses_periods_that_contradict_the_machine(
    conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    agent = await make_user("ajan1")
    repo = AgentStateRepository(conn)
    with pytest.raises(asyncpg.CheckViolationError):
        await repo.record_transition(agent.id, S.PAUSED, None, ist(DAY, 9))
    with pytest.raises(asyncpg.CheckViolationError):
        await repo.record_transition(agent.id, S.ON_CALL, None, ist(DAY, 9))
    await repo.record_transition(agent.id, S.READY, None, ist(DAY, 9))
    with pytest.raises(asyncpg.UniqueViolationError):  # a second open period, written behind the repository's back
        await conn.execute(
            "INSERT INTO agent_state_log (user_id, state, started_at) VALUES ($1, 'ready', now())", agent.id
        )


async def record_day(
    repo: AgentStateRepository, user_id: int, steps: list[tuple[datetime, AgentStatus, str | None]]
) -> None:
    for at, state, reason in steps:
        call_id = "c1" if state in (S.RESERVED, S.RINGING, S.ON_CALL, S.WRAP_UP) else None
        await repo.record_transition(user_id, state, reason, at, call_id)


async def test_a_day_of_an_agent_gives_the_login_logout_and_break_report(
    conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    """Login 09:00, ready, break 10:30-10:45, a call with wrap-up, lunch 12:00-13:00, a meeting, logout 18:00."""
    agent = await make_user("ajan1", full_name="Ayşe Yılmaz")
    repo = AgentStateRepository(conn)
    d = DAY
    await record_day(
        repo,
        agent.id,
        [
            (ist(d, 9), S.ONLINE_NOT_TAKING, None),
            (ist(d, 9, 2), S.READY, None),
            (ist(d, 10, 30), S.PAUSED, "break"),
            (ist(d, 10, 45), S.READY, None),
            (ist(d, 11), S.RESERVED, None),
            (ist(d, 11, 0, 5), S.RINGING, None),
            (ist(d, 11, 0, 12), S.ON_CALL, None),
            (ist(d, 11, 8, 12), S.WRAP_UP, None),
            (ist(d, 11, 9, 42), S.READY, None),
            (ist(d, 12), S.PAUSED, "lunch"),
            (ist(d, 13), S.READY, None),
            (ist(d, 15), S.PAUSED, "meeting"),
            (ist(d, 15, 30), S.PAUSED, "break"),  # straight from the meeting to a break
            (ist(d, 15, 40), S.READY, None),
            (ist(d, 18), S.LOGGED_OUT, None),
        ],
    )
    [row] = await repo.daily_report(d, "Europe/Istanbul", as_of=ist(d + timedelta(days=2), 0))
    assert (row.user_id, row.full_name, row.day) == (agent.id, "Ayşe Yılmaz", d)
    assert (row.first_login, row.last_logout) == (ist(d, 9), ist(d, 18))
    assert (row.logged_in_at_start, row.logged_in_at_end) == (False, False)
    assert row.logged_in == timedelta(hours=9)
    minutes = timedelta(minutes=1)
    assert dict(row.by_pause_reason) == {"break": 25 * minutes, "lunch": 60 * minutes, "meeting": 30 * minutes}
    assert dict(row.pauses_by_reason) == {"break": 2, "lunch": 1, "meeting": 1}
    assert row.pause_count == 4
    assert row.time_in(S.PAUSED) == 115 * minutes
    assert row.time_in(S.ONLINE_NOT_TAKING) == 2 * minutes
    assert (row.time_in(S.RESERVED), row.time_in(S.RINGING)) == (timedelta(seconds=5), timedelta(seconds=7))
    assert (row.time_in(S.ON_CALL), row.time_in(S.WRAP_UP)) == (8 * minutes, timedelta(seconds=90))
    assert row.time_in(S.READY) == timedelta(hours=9) - sum(
        (t for s, t in row.by_state.items() if s is not S.READY), timedelta(0)
    )
    assert S.LOGGED_OUT not in row.by_state
    assert row.productive_pause(PauseReasons()) == 30 * minutes
    assert await repo.daily_report(d + timedelta(days=1), "Europe/Istanbul") == []


async def test_a_period_crossing_midnight_is_split_in_the_report_time_zone(
    conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    agent = await make_user("gece")
    repo = AgentStateRepository(conn)
    d, next_day = DAY, DAY + timedelta(days=1)
    await record_day(
        repo,
        agent.id,
        [
            (ist(d, 23), S.READY, None),
            (ist(d, 23, 50), S.PAUSED, "break"),
            (ist(next_day, 0, 20), S.READY, None),
            (ist(next_day, 1), S.LOGGED_OUT, None),
        ],
    )
    as_of = ist(next_day, 12)
    [first] = await repo.daily_report(d, "Europe/Istanbul", as_of=as_of)
    assert (first.first_login, first.last_logout, first.logged_in_at_end) == (ist(d, 23), None, True)
    assert (first.logged_in, first.by_pause_reason["break"], first.pause_count) == (
        timedelta(hours=1),
        timedelta(minutes=10),
        1,
    )
    [second] = await repo.daily_report(next_day, "Europe/Istanbul", as_of=as_of)
    assert (second.first_login, second.last_logout, second.logged_in_at_start) == (None, ist(next_day, 1), True)
    assert (second.logged_in, second.by_pause_reason["break"], second.pause_count) == (
        timedelta(hours=1),
        timedelta(minutes=20),
        0,  # the break began the day before
    )
    [utc_day] = await repo.daily_report(d, "UTC", as_of=as_of)  # 20:00-22:00 UTC: all of it on one UTC day
    assert (utc_day.logged_in, utc_day.last_logout) == (timedelta(hours=2), ist(next_day, 1))
    with pytest.raises(ValueError, match="time zone"):
        await repo.daily_report(d, "Mars/Olympus")


async def test_an_open_period_counts_until_now_and_the_team_filter_applies(
    conn: asyncpg.Connection, make_user: MakeUser
) -> None:
    team = await conn.fetchval("INSERT INTO teams (name) VALUES ('Satış') RETURNING id")
    inside = await make_user("satis1", team_id=team)
    outside = await make_user("destek1")
    repo = AgentStateRepository(conn)
    for user in (inside, outside):
        await repo.record_transition(user.id, S.READY, None, ist(DAY, 9))
    rows = await repo.daily_report(DAY, "Europe/Istanbul", team, as_of=ist(DAY, 9, 30))
    assert [(r.user_id, r.logged_in, r.logged_in_at_end, r.last_logout) for r in rows] == [
        (inside.id, timedelta(minutes=30), True, None)
    ]
    everyone = await repo.daily_report(DAY, "Europe/Istanbul", as_of=ist(DAY, 9, 30))
    assert {r.user_id for r in everyone} == {inside.id, outside.id}


async def test_two_concurrent_transitions_leave_one_open_period(database_url: str) -> None:
    """Two processes record a transition for one agent at once: the second waits, then closes the first's period."""
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    user_id = await first.fetchval(
        "INSERT INTO users (username, full_name, role, password_hash) VALUES ($1, 'Yarış', 'agent', 'x') RETURNING id",
        f"race-{uuid.uuid4().hex[:8]}",
    )
    try:
        start = datetime(2026, 11, 23, 9, tzinfo=UTC)
        async with first.transaction():
            await AgentStateRepository(first).record_transition(user_id, S.READY, None, start)
            racing = asyncio.create_task(
                AgentStateRepository(second).record_transition(user_id, S.PAUSED, "break", start)
            )
            await asyncio.sleep(0.3)
            assert not racing.done()  # held back by the agent's lock until the first commits
        paused = await asyncio.wait_for(racing, 5)
        together = await asyncio.gather(
            AgentStateRepository(first).record_transition(user_id, S.READY, None, start + timedelta(seconds=1)),
            AgentStateRepository(second).record_transition(
                user_id, S.ONLINE_NOT_TAKING, None, start + timedelta(seconds=1)
            ),
        )
        rows = await first.fetch(
            "SELECT state, started_at, ended_at FROM agent_state_log WHERE user_id = $1 ORDER BY id", user_id
        )
        assert [r["ended_at"] for r in rows].count(None) == 1
        assert len(rows) == 4 and paused.started_at == start and rows[0]["state"] == "ready"
        assert all(a["ended_at"] == b["started_at"] for a, b in itertools.pairwise(rows))
        assert rows[-1]["state"] in {p.state.value for p in together}
    finally:
        await first.execute("DELETE FROM agent_state_log WHERE user_id = $1", user_id)
        await first.execute("DELETE FROM users WHERE id = $1", user_id)
        await first.close()
        await second.close()
