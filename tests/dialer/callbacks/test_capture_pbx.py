"""Missed-call capture against the PBX simulator over real AMI: callers who give up waiting in a queue whose
members are all on a break, and a campaign call the customer answered that no agent took. Each number becomes one
entry, written as it happens: a new process (a restart) finds them all; an answered call back closes the entry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database, connect
from config.settings import DatabaseSettings
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role
from crm_core.users.service import UserService
from dialer.callbacks.model import EntryKind, MissedStatus, MissSource
from dialer.callbacks.service import MissedCallService
from dialer.campaigns.model import CampaignStatus, DialMode
from dialer.campaigns.repository import CallRecordRepository
from dialer.state.agent_commands import LogIn
from tests.dialer.callbacks.conftest import inbound_call, pbx_rig
from tests.dialer.campaigns.conftest import Rig, eventually

SPEED = 25.0


async def _abandons(rig: Rig) -> int:
    queue = rig.sim.pbx.queues.get("destek")
    assert queue is not None
    return queue.abandoned


async def _missed_calls(db: Database) -> int:
    async with db.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM missed_call_events")
    return count


async def test_callers_who_give_up_in_a_queue_are_one_entry_per_number_and_survive_a_restart(
    pbx_db: tuple[str, Database],
) -> None:
    url, db = pbx_db
    async with pbx_rig(db, speed=SPEED) as rig:
        # Every member of the queue is on a break: callers wait until they give up.
        await rig.engine.queue_pause("Local/agent9@sim-agents/n", True, reason="mola", queue="destek")
        for n in range(1, 4):  # the same caller tries three times
            inbound_call(rig.sim, 0, n)

            async def gave_up(count: int = n) -> bool:
                return await _abandons(rig) == count and await _missed_calls(db) == count

            await eventually(gave_up, timeout=10, what=f"abandon {n}")
            await asyncio.sleep(1 / SPEED)
        inbound_call(rig.sim, 1, 9)

        async def all_in() -> bool:
            return await _abandons(rig) == 4 and await _missed_calls(db) == 4

        await eventually(all_in, timeout=10, what="the fourth abandon")
        now = rig.now()

    # A new process on the same database: the entries are there, oldest first, one per number.
    restarted = await connect(DatabaseSettings(url=url, pool_min_size=1, pool_max_size=6, migrate_on_start=False))
    bus = InProcessBus()
    await bus.start()
    try:
        service = MissedCallService(restarted, bus)
        first, second = await service.live()
        assert (first.phone, first.misses, first.queue, first.source, first.status) == (
            "+905321112233",
            3,
            "destek",
            MissSource.QUEUE_ABANDON,
            MissedStatus.OPEN,
        )
        assert first.first_missed_at < first.last_missed_at <= now
        assert (second.phone, second.misses) == ("+902124445566", 1)
        assert first.waited(now) >= first.last_missed_at - first.first_missed_at > timedelta(seconds=3)
        async with restarted.acquire() as conn:
            holds = await conn.fetch(
                "SELECT phone, hold_seconds FROM missed_call_events ORDER BY missed_at",
            )
        # Patience 3 s (and 4 s), counted from the caller's arrival; the queue counts from its join.
        assert [h["phone"] for h in holds] == ["+905321112233"] * 3 + ["+902124445566"]
        assert all(2 <= h["hold_seconds"] <= 5 for h in holds), [h["hold_seconds"] for h in holds]

        users = UserService(restarted, bus)
        agents = [
            (
                await users.create_user(
                    SYSTEM, username=f"geri{n}", full_name=f"Geri {n}", password="dogru-parola-1", role=Role.AGENT
                )
            ).id
            for n in range(2)
        ]
        lines = await service.list_for(agents[0])
        assert [(e.kind, e.phone, e.misses) for e in lines] == [
            (EntryKind.MISSED, "+905321112233", 3),
            (EntryKind.MISSED, "+902124445566", 1),
        ]
        # Two agents asking at the same moment never get the same entry.
        taken = await asyncio.gather(*(service.take(agent) for agent in agents))
        assert sorted(t.phone for t in taken if t is not None) == ["+902124445566", "+905321112233"]
        assert {t.taken_by for t in taken if t is not None} == set(agents)
    finally:
        await bus.close()
        await restarted.close()


async def _settled(rig: Rig, call_id: str) -> bool:
    async with rig.db.acquire() as conn:
        call = await CallRecordRepository(conn).get(call_id)
    return call is not None and call.status != "live"


async def test_an_answered_campaign_call_no_agent_took_is_missed_until_an_agent_reaches_the_number(
    pbx_db: tuple[str, Database],
) -> None:
    _, db = pbx_db
    async with pbx_rig(db, speed=SPEED) as rig:
        unanswering, answering = await rig.team_of_agents(2)
        for agent in (unanswering, answering):
            await rig.agents.execute(agent, LogIn(ready=True), rig.now())
        pool = await rig.pool(["0532 111 00 01", "0532 111 00 02"])
        campaign = await rig.campaign(DialMode.PREVIEW, pool)
        await rig.dialer.campaigns.set_status(rig.admin, campaign.id, CampaignStatus.RUNNING)
        missed = MissedCallService(rig.db, rig.bus, clock=rig.now)

        taken = await rig.dialer.take_next(unanswering, campaign.id)
        assert taken is not None
        record, _ = taken
        first = await rig.dialer.dial(unanswering, record.id)
        await eventually(lambda: _settled(rig, first), timeout=15, what="the unanswered agent's call")
        async with rig.db.acquire() as conn:
            call = await CallRecordRepository(conn).get(first)
        assert call is not None and call.answered_at is not None and call.connected_at is None
        assert call.disposition == "abandoned"

        [entry] = await missed.live()
        assert (entry.phone, entry.misses, entry.source) == ("+905321110001", 1, MissSource.CAMPAIGN_ABANDON)
        assert (entry.pool_record_id, entry.campaign_id) == (record.id, campaign.id)
        lines = await missed.list_for(answering)
        assert [(e.kind, e.phone, e.pool_record_id) for e in lines] == [(EntryKind.MISSED, "+905321110001", record.id)]

        # Another agent takes it: the record is his to dial; the customer answers, he talks: the entry closes.
        took = await missed.take(answering)
        assert took is not None and took.id == entry.id
        second = await rig.dialer.dial(answering, record.id)
        await eventually(lambda: _settled(rig, second), timeout=15, what="the call back")
        async with rig.db.acquire() as conn:
            back = await CallRecordRepository(conn).get(second)
        assert back is not None and back.connected_at is not None and back.agent_id == answering
        closed = await missed.get(entry.id)
        assert closed is not None and closed.status is MissedStatus.CLOSED
        assert (closed.close_reason, closed.closed_call_id, closed.closed_by) == ("answered", second, answering)
        assert await missed.live() == []
        assert await missed.list_for(unanswering) == []
