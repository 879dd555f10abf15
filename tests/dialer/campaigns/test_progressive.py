"""A progressive campaign of 1,000 records with 10 simulated agents on an accelerated clock, against the PBX
simulator over real AMI. The simulator's own log of the customers it called is the witness: every record ends
final or scheduled, the counts add up, no number is ever in two calls at once, no blacklisted number is dialed,
and every retry waits at least its disposition's delay."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from callcenter.db.database import Database
from dialer.blacklist.service import BlacklistService
from dialer.campaigns.model import DEFAULT_DISPOSITIONS, CampaignStatus, DialMode, Disposition
from dialer.events import CallEnded
from dialer.state.agent_commands import LogIn
from tests.dialer.campaigns.conftest import Rig, eventually, rig_running

SPEED = 100.0
RECORDS = 1000
AGENTS = 10
# Short retry delays (simulated minutes), so that a rehearsal of a day's retries fits in the test.
RETRIES = {"no_answer": (10, 3), "busy": (5, 3), "congestion": (5, 3), "failed": (10, 2), "abandoned": (5, 3)}
CALLBACK_IN = timedelta(days=1)


def dispositions() -> list[Disposition]:
    out = []
    for d in DEFAULT_DISPOSITIONS:
        if d.code in RETRIES:
            minutes, attempts = RETRIES[d.code]
            d = Disposition(d.code, d.label, d.action, minutes, attempts, outcome=d.outcome, position=d.position)
        out.append(d)
    return out


def phones(count: int) -> list[str]:
    """Mobile numbers whose last digit picks the simulated customer's behaviour (7 busy, 8 no answer, 9 congestion)."""
    return [f"+90532{1000000 + n:07d}" for n in range(count)]


async def simulated_agents(rig: Rig, agents: list[int], seed: int = 7) -> None:
    """Each agent sets a disposition as soon as his call ends: a sale, not interested, or a call-back tomorrow."""
    rng = random.Random(seed)
    async with rig.bus.subscribe(["calls"]) as calls:
        async for envelope in calls:
            event = envelope.event
            if isinstance(event, CallEnded) and event.agent_id in agents:
                code = rng.choices(["sale", "not_interested", "call_back"], [3, 5, 2])[0]
                callback = rig.now() + CALLBACK_IN if code == "call_back" else None
                await _dispose_when_recorded(rig, event.agent_id, event.linkedid, code, callback)


async def _dispose_when_recorded(rig: Rig, agent: int, call_id: str, code: str, callback: object) -> None:
    for _ in range(200):  # the dialer writes the call's end right after the engine publishes it
        async with rig.db.acquire() as conn:
            status = await conn.fetchval("SELECT status FROM call_records WHERE call_id = $1", call_id)
        if status != "live":
            await rig.dialer.dispose(agent, call_id, code, callback_at=callback)  # type: ignore[arg-type]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"call {call_id} never finished")


async def test_progressive_campaign_of_a_thousand_records(campaign_db: Database) -> None:
    async with rig_running(campaign_db, speed=SPEED) as rig:
        agents = await rig.team_of_agents(AGENTS)
        numbers = phones(RECORDS)
        pool = await rig.pool(numbers)
        campaign = await rig.campaign(DialMode.PROGRESSIVE, pool, dispositions=dispositions())
        # Numbers put on the do-not-call list after the import: the dialer must never dial them.
        blacklist = BlacklistService(rig.db, rig.bus)
        listed = numbers[100:120]
        for number in listed:
            await blacklist.add(rig.admin, number, reason="Müşteri aranmak istemiyor")

        bots = asyncio.create_task(simulated_agents(rig, agents))
        for agent in agents:
            await rig.agents.execute(agent, LogIn(ready=True), rig.now())
        await rig.dialer.campaigns.set_status(rig.admin, campaign.id, CampaignStatus.RUNNING)
        rig.dialer.start()

        async def settled() -> bool:
            async with rig.db.acquire() as conn:
                open_records = await conn.fetchval(
                    """SELECT count(*) FROM pool_records
                        WHERE status IN ('new', 'in_progress')
                           OR (status = 'assigned' AND disposition IS DISTINCT FROM 'call_back')""",
                )
                live = await conn.fetchval("SELECT count(*) FROM call_records WHERE status = 'live'")
            return bool(open_records == 0 and live == 0)

        try:
            await eventually(settled, timeout=240, what="every record final or scheduled")
        finally:
            bots.cancel()
            await rig.dialer.close()

        async with rig.db.acquire() as conn:
            by_status = {
                r[0]: r[1] for r in await conn.fetch("SELECT status, count(*) FROM pool_records GROUP BY status")
            }
            attempts = await conn.fetchval("SELECT sum(attempts) FROM pool_records")
            calls = await conn.fetchval("SELECT count(*) FROM call_records")
            undisposed = await conn.fetchval("SELECT count(*) FROM call_records WHERE disposition IS NULL")
            callbacks = await conn.fetchval(
                "SELECT count(*) FROM pool_records WHERE status = 'assigned' AND disposition = 'call_back'"
            )
            blocked = await conn.fetch("SELECT phone FROM pool_records WHERE disposition = 'blocked'")
            early = await conn.fetch(
                """SELECT a.call_id, a.disposition, b.dialed_at - a.ended_at AS waited
                     FROM call_records a
                     JOIN call_records b ON b.pool_record_id = a.pool_record_id AND b.attempt = a.attempt + 1
                     JOIN dispositions d ON d.campaign_id = a.campaign_id AND d.code = a.disposition
                    WHERE d.action = 'retry'
                      AND b.dialed_at < a.disposition_at + make_interval(mins => d.retry_minutes)"""
            )
            by_disposition: dict[str, int] = {
                r[0]: r[1]
                for r in await conn.fetch("SELECT disposition, count(*) FROM call_records GROUP BY disposition")
            }

        log = rig.sim.pbx.customer_log
        # Every record is final (done / archived) or scheduled (a call-back), and the counts add up.
        assert sum(by_status.values()) == RECORDS
        assert set(by_status) <= {"done", "archived", "assigned"}
        assert by_status.get("assigned", 0) == callbacks
        assert attempts == calls == len(log.calls), (attempts, calls, len(log.calls))
        assert undisposed == 0
        # No blacklisted number was dialed: the simulator never saw them; their records left dialing.
        assert not set(listed) & log.numbers()
        assert sorted(r["phone"] for r in blocked) == sorted(listed)
        # No number was ever in two calls at once.
        assert max(log.max_concurrent.values()) == 1
        # Retries waited their time, and they did happen (busy, no-answer and congested numbers were retried).
        assert early == []
        assert by_disposition.get("busy", 0) > 100 and by_disposition.get("no_answer", 0) > 100
        assert max(log.count(n) for n in numbers) == 3
        # Outcomes agents talked on and the dialer's own are all there.
        assert {"sale", "not_interested", "call_back", "busy", "no_answer", "congestion"} <= set(by_disposition)
        assert by_disposition.get("call_back", 0) == callbacks
