"""A caller's call through the simulator's queue over real AMI gets its call record and a line in the customer's
call history: who called, which agent took it and when; a caller no agent took is recorded too, unconnected."""

from __future__ import annotations

from callcenter.db.database import Database
from crm_core.audit.repository import SYSTEM
from crm_core.customers.model import CustomerKind
from crm_core.customers.service import CustomerService
from crm_core.users.model import Role
from crm_core.users.service import UserService
from dialer.agents.repository import AgentStateRepository
from dialer.campaigns.repository import CallRecord
from dialer.state.agent import AgentStatus
from dialer.state.agent_commands import LogIn
from tests.dialer.callbacks.conftest import inbound_call, pbx_rig
from tests.dialer.campaigns.conftest import Rig, eventually

SPEED = 25.0


async def _inbound(rig: Rig) -> list[CallRecord]:
    async with rig.db.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM call_records WHERE direction = 'inbound' ORDER BY dialed_at")
    return [CallRecord(**dict(r.items())) for r in rows]


async def test_a_callers_call_is_recorded_with_the_agent_who_took_it(campaign_db: Database) -> None:
    async with pbx_rig(campaign_db, speed=SPEED) as rig:
        users = UserService(rig.db, rig.bus)
        team = await users.create_team(SYSTEM, "Destek")
        agent = await users.create_user(
            SYSTEM, username="ajan9", full_name="Ajan 9", password="dogru-parola-1", role=Role.AGENT, team_id=team.id
        )
        async with rig.db.acquire() as conn:
            await conn.execute("UPDATE users SET extension = 'agent9' WHERE id = $1", agent.id)
            await rig.directory.load(conn)
        customer = await CustomerService(rig.db, rig.bus).create_customer(
            SYSTEM, kind=CustomerKind.CUSTOMER, name="Hüseyin Aydın", phones=["0532 111 22 33"]
        )
        await rig.agents.execute(agent.id, LogIn(ready=True), rig.now())

        inbound_call(rig.sim, 0, 1)  # 0532 111 22 33 calls the support queue; agent9's phone answers

        async def recorded() -> bool:
            return len(await _inbound(rig)) == 1

        await eventually(recorded, timeout=10, what="the caller's call record")
        [call] = await _inbound(rig)
        assert (call.phone, call.customer_id, call.agent_id, call.status) == (
            "+905321112233",
            customer.id,
            agent.id,
            "ended",
        )
        assert call.answered_at and call.connected_at and call.ended_at
        assert call.dialed_at <= call.answered_at <= call.connected_at <= call.ended_at
        async with rig.db.acquire() as conn:
            history = await conn.fetch("SELECT direction, agent_id, outcome, call_id FROM customer_calls")
            periods = await AgentStateRepository(conn).periods(agent.id, call.dialed_at, rig.now())
        assert [tuple(h.values()) for h in history] == [("inbound", agent.id, "answered", call.call_id)]
        assert [p.state for p in periods if p.call_id == call.call_id] == [
            AgentStatus.RINGING,
            AgentStatus.ON_CALL,
            AgentStatus.WRAP_UP,
        ]

        # With the only member on a break the next caller gives up: recorded, answered by the PBX, never connected.
        await rig.engine.queue_pause("Local/agent9@sim-agents/n", True, reason="mola", queue="destek")
        inbound_call(rig.sim, 1, 2)

        async def both() -> bool:
            return len(await _inbound(rig)) == 2

        await eventually(both, timeout=10, what="the second caller's record")
        missed = (await _inbound(rig))[1]
        assert (missed.phone, missed.agent_id, missed.connected_at, missed.customer_id) == (
            "+902124445566",
            None,
            None,
            None,
        )
        assert missed.answered_at is not None and missed.ended_at is not None
