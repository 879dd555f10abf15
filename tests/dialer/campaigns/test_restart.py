"""Killing the dialer's process (SIGKILL, mid-campaign) and starting it again loses no call and no record: calls
still up in the PBX are adopted and finished, calls that ended while it was down are settled as lost and retried,
and in the end the simulator's own log and our call records agree call for call."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from config.settings import PbxSimSettings
from crm_core.audit.repository import SYSTEM, Actor
from crm_core.users.model import Role
from crm_core.users.service import UserService
from dialer.agents.service import AgentStateService
from dialer.campaigns.model import CampaignStatus, DialMode
from dialer.campaigns.service import CampaignService
from dialer.pools.service import PoolService
from dialer.state.agent import IllegalAgentTransitionError
from dialer.state.agent_commands import FinishWrapUp, LogIn
from pbx_sim.app import PbxSim, running_pbx_sim
from tests.dialer.campaigns.conftest import ALWAYS, WORLD, eventually
from tests.dialer.campaigns.test_progressive import dispositions, phones

SPEED = 100.0
ROOT = Path(__file__).resolve().parents[3]


async def _start_process(url: str, sim: PbxSim, ready: Path) -> asyncio.subprocess.Process:
    clock = sim.clock
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.dialer.campaigns.dialer_process",
        url,
        str(sim.port),
        repr(clock._epoch),
        repr(clock._mono),
        repr(clock.speed),
        str(ready),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
    )
    for _ in range(1500):
        if ready.exists():  # noqa: ASYNC240 - a test's poll
            return process
        assert process.returncode is None, "the dialer process died at start"
        await asyncio.sleep(0.02)
    raise AssertionError("the dialer process did not start")


async def _agents_dispose(db: Database, bus: InProcessBus, now: object) -> None:
    """The agents, from their own screens: a disposition for each call they talked on, once it is over."""
    campaigns = CampaignService(db, bus)
    agents = AgentStateService(db, bus)
    while True:
        async with db.acquire() as conn:
            rows = await conn.fetch(
                """SELECT call_id, agent_id FROM call_records
                    WHERE status = 'ended' AND agent_id IS NOT NULL AND disposition IS NULL"""
            )
        for row in rows:
            await campaigns.dispose(row["agent_id"], row["call_id"], "not_interested")
            with contextlib.suppress(IllegalAgentTransitionError):
                await agents.execute(row["agent_id"], FinishWrapUp(row["call_id"]))
        await asyncio.sleep(0.02)


async def test_killed_dialer_loses_no_call_and_no_record(restart_db: tuple[str, Database], tmp_path: Path) -> None:
    url, db = restart_db
    bus = InProcessBus()
    await bus.start()
    async with running_pbx_sim(PbxSimSettings(), port=0, speed=SPEED, world=WORLD) as sim:
        users = UserService(db, bus)
        admin = await users.create_user(
            SYSTEM, username="yonetici", full_name="Yönetici", password="dogru-parola-1", role=Role.ADMIN
        )
        actor = Actor(admin.id, admin.username)
        team = await users.create_team(SYSTEM, "Satış")
        agents = []
        for n in range(1, 9):
            user = await users.create_user(
                SYSTEM,
                username=f"ajan{n}",
                full_name=f"Ajan {n}",
                password="dogru-parola-1",
                role=Role.AGENT,
                team_id=team.id,
            )
            async with db.acquire() as conn:
                await conn.execute("UPDATE users SET extension = $2 WHERE id = $1", user.id, f"agent{n}")
            agents.append(user.id)
        pools = PoolService(db, bus)
        pool = await pools.create_pool(actor, "Liste")
        numbers = phones(300)
        lines = ["Telefon", *numbers]
        await pools.import_file(
            actor, pool.id, filename="l.csv", content="\r\n".join(lines).encode(), mapping={"Telefon": "phone"}
        )
        campaigns = CampaignService(db, bus)
        campaign = await campaigns.create_campaign(
            actor,
            "Yeniden başlatma",
            DialMode.PROGRESSIVE,
            pool_ids=[pool.id],
            team_ids=[team.id],
            rules=ALWAYS,
            dispositions=dispositions(),
        )
        now = datetime.fromtimestamp(sim.clock.now(), UTC)
        state = AgentStateService(db, bus)
        for agent in agents:
            await state.execute(agent, LogIn(ready=True), now)
        await campaigns.set_status(actor, campaign.id, CampaignStatus.RUNNING)
        disposer = asyncio.create_task(_agents_dispose(db, bus, now))

        async def calls_placed(at_least: int) -> bool:
            async with db.acquire() as conn:
                return bool(await conn.fetchval("SELECT count(*) FROM call_records") >= at_least)

        async def live_calls() -> int:
            async with db.acquire() as conn:
                return int(await conn.fetchval("SELECT count(*) FROM call_records WHERE status = 'live'"))

        first = await _start_process(url, sim, tmp_path / "first")
        try:
            await eventually(lambda: calls_placed(80), timeout=60, what="80 calls placed")
            await eventually(lambda: _at_least(live_calls, 3), timeout=30, what="calls in progress")
            first.send_signal(signal.SIGKILL)  # mid-campaign, calls up: no cleanup of any kind
            await first.wait()
            in_flight = await live_calls()
            assert in_flight >= 3
            await asyncio.sleep(0.3)  # 30 simulated seconds without a dialer: some calls end meanwhile
            second = await _start_process(url, sim, tmp_path / "second")
            try:

                async def settled() -> bool:
                    async with db.acquire() as conn:
                        open_records = await conn.fetchval(
                            """SELECT count(*) FROM pool_records WHERE status IN ('new', 'in_progress', 'assigned')"""
                        )
                    return bool(open_records == 0 and await live_calls() == 0)

                await eventually(settled, timeout=180, what="the campaign to finish after the restart")
            finally:
                second.send_signal(signal.SIGKILL)
                await second.wait()
        finally:
            disposer.cancel()
            if first.returncode is None:
                first.kill()

        async with db.acquire() as conn:
            calls = await conn.fetchval("SELECT count(*) FROM call_records")
            attempts = await conn.fetchval("SELECT sum(attempts) FROM pool_records")
            statuses = {r[0]: r[1] for r in await conn.fetch("SELECT status, count(*) FROM call_records GROUP BY 1")}
            undisposed = await conn.fetchval("SELECT count(*) FROM call_records WHERE disposition IS NULL")
            rows = await conn.fetch("SELECT phone, status, count(*) AS n FROM call_records GROUP BY 1, 2")
            per_number: dict[str, int] = {}
            lost_per_number: dict[str, int] = {}
            for r in rows:
                per_number[r["phone"]] = per_number.get(r["phone"], 0) + r["n"]
                if r["status"] == "lost":
                    lost_per_number[r["phone"]] = r["n"]
            stuck = [
                dict(r)
                for r in await conn.fetch(
                    """SELECT s.user_id, s.state, s.call_id, c.status, c.disposition, c.connected_at, c.failure
                         FROM agent_states s LEFT JOIN call_records c ON c.call_id = s.call_id
                        WHERE s.state NOT IN ('ready', 'logged_out')"""
                )
            ]
        log = sim.pbx.customer_log
        # Every attempt counted is a call record, and every call the PBX made is one of them. A record may have no
        # call in the PBX only if it is "lost": written, and the process killed before its Originate left.
        assert calls == attempts, (calls, attempts)
        for number in numbers:
            made, ours, lost = log.count(number), per_number.get(number, 0), lost_per_number.get(number, 0)
            assert made <= ours <= made + lost, (number, made, ours, lost)
        assert set(statuses) <= {"ended", "failed", "lost"}
        assert undisposed == 0
        assert max(log.max_concurrent.values()) == 1
        assert stuck == [], "an agent was left on a call that no longer exists"
    await bus.close()


async def _at_least(count: object, n: int) -> bool:
    return bool(await count() >= n)  # type: ignore[operator]
