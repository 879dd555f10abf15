"""Preview dialing against the PBX simulator over real AMI: the agent takes a record, sees its history, dials,
talks, sets a disposition and a note; the call record and his state history say exactly that."""

from __future__ import annotations

import wave
from datetime import timedelta
from pathlib import Path

import pytest

from callcenter.db.database import Database
from dialer.agents.repository import AgentStateRepository
from dialer.blacklist.service import BlacklistService
from dialer.campaigns.dialer import DialRefusedError
from dialer.campaigns.model import CampaignStatus, DialMode
from dialer.campaigns.repository import CallRecordRepository
from dialer.campaigns.service import DispositionRefusedError
from dialer.state.agent import AgentStatus
from dialer.state.agent_commands import LogIn
from tests.dialer.campaigns.conftest import Rig, eventually, rig_running

SPEED = 25.0


async def _settled(rig: Rig, call_id: str) -> bool:
    """The dialer has written the call's end (after the engine told the agent)."""
    async with rig.db.acquire() as conn:
        call = await CallRecordRepository(conn).get(call_id)
    return call is not None and call.status != "live"


async def test_agent_previews_dials_talks_and_disposes(campaign_db: Database, tmp_path: Path) -> None:
    async with rig_running(campaign_db, speed=SPEED, recordings=tmp_path) as rig:
        [agent] = await rig.team_of_agents(1)
        await rig.agents.execute(agent, LogIn(ready=True), rig.now())
        pool = await rig.pool(["0532 111 00 01", "0532 111 00 02"])
        campaign = await rig.campaign(DialMode.PREVIEW, pool)

        with pytest.raises(DialRefusedError) as refused:
            await rig.dialer.take_next(agent, campaign.id)
        assert refused.value.code == "error.campaign_not_running"
        await rig.dialer.campaigns.set_status(rig.admin, campaign.id, CampaignStatus.RUNNING)

        taken = await rig.dialer.take_next(agent, campaign.id)
        assert taken is not None
        record, history = taken
        assert record.phone == "+905321110001" and history == []

        call_id = await rig.dialer.dial(agent, record.id)
        state = await rig.agents.state(agent)
        assert state.status in (AgentStatus.RESERVED, AgentStatus.RINGING, AgentStatus.ON_CALL)

        await eventually(lambda: _settled(rig, call_id), timeout=10, what="the end of the call")
        assert (await rig.agents.state(agent)).status is AgentStatus.WRAP_UP

        # A disposition the dialer sets by itself, or a call-back without a time, is refused.
        with pytest.raises(DispositionRefusedError):
            await rig.dialer.dispose(agent, call_id, "no_answer")
        with pytest.raises(DispositionRefusedError):
            await rig.dialer.dispose(agent, call_id, "call_back")
        disposed = await rig.dialer.dispose(agent, call_id, "sale", note="Paket B'yi aldı, fatura adresi aynı.")
        assert disposed.status == "done"
        assert (await rig.agents.state(agent)).status is AgentStatus.READY

        async with rig.db.acquire() as conn:
            call = await CallRecordRepository(conn).get(call_id)
            assert call is not None
            assert call.status == "ended" and call.agent_id == agent and call.pool_record_id == record.id
            assert call.phone == "+905321110001" and call.attempt == 1
            assert call.disposition == "sale" and call.disposition_by == agent
            assert call.note == "Paket B'yi aldı, fatura adresi aynı."
            assert call.ringing_at and call.answered_at and call.connected_at and call.ended_at
            assert call.dialed_at <= call.ringing_at <= call.answered_at <= call.connected_at <= call.ended_at
            assert call.cause == 16
            # The conversation was recorded (MixMonitor, only while the customer was bridged to the agent).
            assert call.recording == f"{call_id}.wav"
            with wave.open(str(tmp_path / call.recording)) as recording:
                assert recording.getframerate() == 8000 and recording.getnframes() > 8000
            status = await conn.fetchval("SELECT status FROM pool_records WHERE id = $1", record.id)
            assert status == "done"
            periods = await AgentStateRepository(conn).periods(
                agent, call.dialed_at - timedelta(hours=1), rig.now() + timedelta(hours=1)
            )
        states = [p.state for p in periods]
        assert states == [
            AgentStatus.READY,
            AgentStatus.RESERVED,
            AgentStatus.RINGING,
            AgentStatus.ON_CALL,
            AgentStatus.WRAP_UP,
            AgentStatus.READY,
        ]
        assert all(p.call_id == call_id for p in periods[1:5])

        # The next record shows the history of nothing yet; the dialed one shows its attempt.
        history = await rig.dialer.campaigns.history(record.id)
        assert [h.call_id for h in history] == [call_id]


async def test_a_blacklisted_number_is_never_dialed_even_by_hand(campaign_db: Database) -> None:
    async with rig_running(campaign_db, speed=SPEED) as rig:
        [agent] = await rig.team_of_agents(1)
        await rig.agents.execute(agent, LogIn(ready=True), rig.now())
        pool = await rig.pool(["0532 111 00 03"])
        campaign = await rig.campaign(DialMode.PREVIEW, pool)
        await rig.dialer.campaigns.set_status(rig.admin, campaign.id, CampaignStatus.RUNNING)
        taken = await rig.dialer.take_next(agent, campaign.id)
        assert taken is not None
        # Listed after the agent took the record: the check at the dial still stops it.
        await BlacklistService(rig.db, rig.bus).add(
            rig.admin, "+905321110003", reason="Aranmak istemiyor", campaign_id=campaign.id
        )
        with pytest.raises(DialRefusedError) as refused:
            await rig.dialer.dial(agent, taken[0].id)
        assert refused.value.code == "error.number_blocked"
        assert (await rig.agents.state(agent)).status is AgentStatus.READY
        assert "+905321110003" not in rig.sim.pbx.customer_log.numbers()
        async with rig.db.acquire() as conn:
            row = await conn.fetchrow("SELECT status, disposition FROM pool_records WHERE id = $1", taken[0].id)
            assert row is not None
            calls = await conn.fetchval("SELECT count(*) FROM call_records")
        assert (row["status"], row["disposition"], calls) == ("archived", "blocked", 0)
        assert await rig.dialer.take_next(agent, campaign.id) is None


async def test_a_campaigns_wrap_up_time_sends_the_agent_back_to_ready(campaign_db: Database) -> None:
    async with rig_running(campaign_db, speed=SPEED) as rig:
        [agent] = await rig.team_of_agents(1)
        await rig.agents.execute(agent, LogIn(ready=True), rig.now())
        pool = await rig.pool(["0532 111 00 04"])
        campaign = await rig.campaign(DialMode.PREVIEW, pool, wrap_up_seconds=30)
        await rig.dialer.campaigns.set_status(rig.admin, campaign.id, CampaignStatus.RUNNING)
        taken = await rig.dialer.take_next(agent, campaign.id)
        assert taken is not None
        call_id = await rig.dialer.dial(agent, taken[0].id)
        await eventually(lambda: _settled(rig, call_id), timeout=10, what="the end of the call")

        state = await rig.agents.state(agent)
        assert state.status is AgentStatus.WRAP_UP and state.wrap_up_until is not None
        async with rig.db.acquire() as conn:
            call = await CallRecordRepository(conn).get(call_id)
        assert call is not None and call.ended_at is not None
        assert abs((state.wrap_up_until - call.ended_at).total_seconds() - 30) < 2
        # The wrap-up timer (run every second by the composition root) ends it on time, disposition or not.
        assert await rig.agents.finish_due_wrap_ups(state.wrap_up_until - timedelta(seconds=1)) == []
        await rig.agents.finish_due_wrap_ups(state.wrap_up_until)
        assert (await rig.agents.state(agent)).status is AgentStatus.READY
        # The call still waits for its disposition, which the agent may give afterwards.
        await rig.dialer.dispose(agent, call_id, "not_interested")
