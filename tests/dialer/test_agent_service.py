"""The agent state service on the real database and the in-process bus: what is stored, what is published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from dialer.agents.repository import AgentStateRepository
from dialer.agents.service import AgentStateService, UnknownAgentError
from dialer.state.agent import AgentStatus, IllegalAgentTransitionError, NextState
from dialer.state.agent_commands import Answer, EndCall, GoReady, LogIn, LogOut, Pause, Ring
from dialer.state.reasons import PauseReason, PauseReasons
from tests.conftest import MakeUser

T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 09:00 in Istanbul
S = AgentStatus


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def published(bus: InProcessBus) -> list[str]:
    return [envelope.event.type_name for envelope in await bus.read("agents")]


async def test_a_pause_asked_during_a_call_is_kept_between_requests_and_taken_after_wrap_up(
    db: Database, memory_bus: InProcessBus, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    agent = await make_user("ajan1")
    service = AgentStateService(db, memory_bus)
    await service.execute(agent.id, LogIn(ready=True), at(0))
    await service.execute(agent.id, Ring("1795431704.0"), at(10))
    await service.execute(agent.id, Answer("1795431704.0"), at(10.2))
    during = await service.execute(agent.id, Pause("lunch"), at(12))
    assert (during.status, during.next) == (S.ON_CALL, NextState(S.PAUSED, "lunch"))
    assert (await service.state(agent.id)).next == NextState(S.PAUSED, "lunch")  # stored, not only in memory
    wrapping = await service.execute(agent.id, EndCall("1795431704.0", 30), at(15))
    assert wrapping.wrap_up_until == at(15.5)
    assert await service.finish_due_wrap_ups(at(15.4)) == []
    [after] = await service.finish_due_wrap_ups(at(15.5))
    assert (after.status, after.reason, after.since) == (S.PAUSED, "lunch", at(15.5))
    assert await published(memory_bus) == [
        "AgentLoggedIn",
        "AgentBecameReady",
        "AgentRinging",
        "AgentAnsweredCall",
        "AgentNextStateScheduled",
        "AgentStartedWrapUp",
        "AgentPaused",
    ]
    rows = await conn.fetch(
        "SELECT state, reason, call_id, started_at, ended_at FROM agent_state_log WHERE user_id = $1 ORDER BY id",
        agent.id,
    )
    assert [(r["state"], r["reason"], r["call_id"], r["started_at"]) for r in rows] == [
        ("ready", None, None, at(0)),  # login straight to ready: one period, not an empty "not taking" one
        ("ringing", None, "1795431704.0", at(10)),
        ("on_call", None, "1795431704.0", at(10.2)),
        ("wrap_up", None, "1795431704.0", at(15)),
        ("paused", "lunch", None, at(15.5)),
    ]


async def test_a_refused_command_stores_and_publishes_nothing(
    db: Database, memory_bus: InProcessBus, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    agent = await make_user("ajan1")
    service = AgentStateService(db, memory_bus)
    with pytest.raises(IllegalAgentTransitionError) as error:
        await service.execute(agent.id, GoReady(), at(0))
    assert error.value.status is S.LOGGED_OUT
    assert await published(memory_bus) == []
    assert await conn.fetchval("SELECT count(*) FROM agent_state_log WHERE user_id = $1", agent.id) == 0
    assert await conn.fetchval("SELECT count(*) FROM agent_states WHERE user_id = $1", agent.id) == 0
    with pytest.raises(UnknownAgentError):
        await service.execute(987654321, LogIn(), at(0))


async def test_configured_pause_reasons_and_a_repeated_command(
    db: Database, memory_bus: InProcessBus, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    agent = await make_user("ajan1")
    reasons = PauseReasons([PauseReason("prayer", "Namaz", "Prayer", max_minutes=20)])
    service = AgentStateService(db, memory_bus, reasons, max_missed_rings=None)
    await service.execute(agent.id, LogIn(), at(0))
    paused = await service.execute(agent.id, Pause("prayer"), at(1))
    again = await service.execute(agent.id, Pause("prayer"), at(2))
    assert again == paused and paused.since == at(1)
    assert await published(memory_bus) == ["AgentLoggedIn", "AgentPaused"]
    out = await service.execute(agent.id, LogOut(), at(20))
    assert out.status is S.LOGGED_OUT
    current = await AgentStateRepository(conn).current(agent.id)
    assert current is not None and (current.state, current.started_at) == (S.LOGGED_OUT, at(20))
