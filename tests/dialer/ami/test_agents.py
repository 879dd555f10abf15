"""Queue calls on the simulator drive the real agent state service (PostgreSQL, rolled back) through the engine."""

from __future__ import annotations

import re
from typing import Any

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from callcenter.metrics import Metrics
from dialer import events as ev
from dialer.agents.service import AgentStateService
from dialer.ami import ChannelRoles
from dialer.state.agent import AgentStatus
from dialer.state.agent_commands import LogIn
from pbx_sim.app import PbxSim
from tests.conftest import MakeUser
from tests.dialer.ami.conftest import gauge, outcome, running_engine

QUEUE_CALL: dict[str, Any] = {
    "context": "to-queue",
    "exten": "sales",
    "variables": {"__TALK": "8", "__AGENT_TALK": "5"},
}


async def test_queue_calls_reach_the_agents_state(
    sim: PbxSim, db: Database, memory_bus: InProcessBus, make_user: MakeUser, metrics: Metrics
) -> None:
    users = {n: (await make_user(f"ajan{n}")).id for n in (1, 2, 3)}  # the members of queue "sales"
    service = AgentStateService(db, memory_bus, max_missed_rings=None)
    for user_id in users.values():
        await service.execute(user_id, LogIn(ready=True))

    def user_of(name: str) -> int | None:  # Local/agentN@sim-agents/n -> the user whose phone it is
        match = re.search(r"agent(\d+)", name)
        return users.get(int(match.group(1))) if match else None

    roles = ChannelRoles(agent_lookup=user_of)
    async with running_engine(sim.port, memory_bus, metrics, agents=service, roles=roles, wrap_up_seconds=0) as e:
        assert e.queues.available is True
        assert {m.interface for (q, _), m in e.queues.members.items() if q == "sales"} == {
            f"Local/agent{n}@sim-agents/n" for n in (1, 2, 3)
        }
        linkedids = [await e.originate("5551234", **QUEUE_CALL) for _ in range(3)]
        outcomes = [await outcome(memory_bus, linkedid, timeout=30) for linkedid in linkedids]
        assert gauge(metrics, "callcenter_calls_in_progress") == 0

    agent_events = [envelope.event for envelope in await memory_bus.read("agents", limit=10_000)]
    for linkedid, events in zip(linkedids, outcomes, strict=True):
        assert [type(x).__name__ for x in events][-2:] == ["CallConnectedToAgent", "CallEnded"]
        connected, ended = events[-2], events[-1]
        assert isinstance(connected, ev.CallConnectedToAgent) and isinstance(ended, ev.CallEnded)
        assert connected.agent_id in users.values() and ended.agent_id == connected.agent_id
        # The agent who took it was rung for it, answered it, and is ready again (no wrap-up configured).
        took = [x for x in agent_events if isinstance(x, ev.AgentAnsweredCall) and x.call_id == linkedid]
        assert [x.user_id for x in took] == [connected.agent_id]
        assert any(isinstance(x, ev.AgentRinging) and x.call_id == linkedid for x in agent_events)
    for user_id in users.values():
        assert (await service.state(user_id)).status is AgentStatus.READY
