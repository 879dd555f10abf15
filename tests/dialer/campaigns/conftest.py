"""The campaign tests' rig: a database of their own (the dialer commits through a real pool, as in production),
the PBX simulator over real AMI on an accelerated clock, the AMI engine, the agent state service and the campaign
dialer, all on the simulator's clock so that retries "in 10 minutes" happen within the test."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database, connect
from callcenter.metrics import Metrics
from config.settings import DatabaseSettings, PbxSimSettings
from crm_core.audit.repository import SYSTEM, Actor
from crm_core.users.model import Role
from crm_core.users.service import UserService
from dialer.agents.directory import AgentDirectory
from dialer.agents.service import AgentStateService
from dialer.ami import AmiConnection, AmiEngine
from dialer.ami.translate import ChannelRoles
from dialer.blacklist.service import blocked_numbers
from dialer.campaigns.dialer import CampaignDialer
from dialer.campaigns.model import DEFAULT_DISPOSITIONS, CallingRules, Campaign, DialMode, Disposition
from dialer.pools.service import PoolService
from pbx_sim.app import PbxSim, running_pbx_sim
from tests.conftest import create_database, drop_database
from tests.dialer.ami.conftest import FAST, ami_settings, until


async def eventually(condition: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> None:  # noqa: ASYNC109
    """Wait until an async condition holds (checked every 20 ms)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


WORLD = Path(__file__).resolve().parent / "world.toml"
ALWAYS = CallingRules(
    call_days=frozenset(range(1, 8)), call_from=time(0, 0), call_until=time(23, 59, 59), calls_per_second=20
)


@dataclasses.dataclass
class Rig:
    db: Database
    bus: InProcessBus
    sim: PbxSim
    engine: AmiEngine
    agents: AgentStateService
    dialer: CampaignDialer
    directory: AgentDirectory
    admin: Actor

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sim.clock.now(), UTC)

    async def team_of_agents(self, count: int, *, team: str = "Satış") -> list[int]:
        """A team of ``count`` agents whose phones are agent1..agentN, logged in and ready."""
        users = UserService(self.db, self.bus)
        team_row = await users.create_team(SYSTEM, team)
        ids: list[int] = []
        for n in range(1, count + 1):
            user = await users.create_user(
                SYSTEM,
                username=f"ajan{n}",
                full_name=f"Ajan {n}",
                password="dogru-parola-1",
                role=Role.AGENT,
                team_id=team_row.id,
            )
            async with self.db.acquire() as conn:
                await conn.execute("UPDATE users SET extension = $2 WHERE id = $1", user.id, f"agent{n}")
            ids.append(user.id)
        async with self.db.acquire() as conn:
            await self.directory.load(conn)
        self.team_id = team_row.id
        return ids

    async def pool(self, phones: Sequence[str], name: str = "Liste") -> int:
        pools = PoolService(self.db, self.bus)
        pool = await pools.create_pool(self.admin, name)
        lines = ["Telefon;Ad Soyad", *(f"{p};Müşteri {i}" for i, p in enumerate(phones, 1))]
        report = await pools.import_file(
            self.admin,
            pool.id,
            filename="liste.csv",
            content="\r\n".join(lines).encode(),
            mapping={"Telefon": "phone", "Ad Soyad": "name"},
        )
        assert report.summary.stored_rows == len(phones), report.rejected
        return pool.id

    async def campaign(
        self,
        mode: DialMode,
        pool_id: int,
        *,
        dispositions: Sequence[Disposition] | None = None,
        rules: CallingRules = ALWAYS,
        wrap_up_seconds: int | None = None,
    ) -> Campaign:
        return await self.dialer.campaigns.create_campaign(
            self.admin,
            f"Kampanya {mode.value}",
            mode,
            pool_ids=[pool_id],
            team_ids=[self.team_id],
            rules=rules,
            dispositions=DEFAULT_DISPOSITIONS if dispositions is None else dispositions,
            wrap_up_seconds=wrap_up_seconds,
        )

    team_id: int = 0


@pytest.fixture
async def campaign_db() -> AsyncIterator[Database]:
    url = await create_database("callcenter_campaigns", migrated=True)
    db = await connect(DatabaseSettings(url=url, pool_min_size=2, pool_max_size=12, migrate_on_start=False))
    yield db
    await db.close()
    await drop_database(url)


@dataclasses.dataclass
class Stack:
    """What one dialer process runs: the AMI engine, the agent state service and the campaign dialer."""

    engine: AmiEngine
    agents: AgentStateService
    dialer: CampaignDialer
    directory: AgentDirectory

    async def close(self) -> None:
        await self.dialer.close()
        await self.engine.close()


async def start_stack(
    db: Database, bus: InProcessBus, port: int, clock: Callable[[], datetime], *, tick: float = 0.01
) -> Stack:
    """The dialer's side, built as the composition root builds it, connected to the simulator on ``port``."""
    directory = AgentDirectory()
    async with db.acquire() as conn:
        await directory.load(conn)
    agents = AgentStateService(db, bus, clock=clock)
    connection = AmiConnection(ami_settings(port, timeout=2.0), Metrics(), **FAST)
    engine = AmiEngine(
        connection,
        bus,
        Metrics(),
        roles=ChannelRoles(agent_lookup=directory.lookup),
        agents=agents,
        wrap_up_seconds=None,
        clock=clock,
    )
    dialer = CampaignDialer(db, bus, engine, agents, directory, clock=clock, tick=tick, blocked=blocked_numbers)
    await engine.start()
    await connection.wait_connected(5)
    await until(lambda: engine.resyncs >= 1, what="the first resync")
    return Stack(engine, agents, dialer, directory)


@contextlib.asynccontextmanager
async def rig_running(
    db: Database, *, speed: float, tick: float = 0.01, recordings: Path | None = None
) -> AsyncIterator[Rig]:
    bus = InProcessBus(history=500_000)
    await bus.start()
    settings = PbxSimSettings(recordings_dir=recordings) if recordings else PbxSimSettings()
    async with running_pbx_sim(settings, port=0, speed=speed, world=WORLD) as sim:

        def clock() -> datetime:
            return datetime.fromtimestamp(sim.clock.now(), UTC)

        admin_user = await UserService(db, bus).create_user(
            SYSTEM, username="yonetici", full_name="Yönetici", password="dogru-parola-1", role=Role.ADMIN
        )
        stack = await start_stack(db, bus, sim.port, clock, tick=tick)
        try:
            yield Rig(
                db,
                bus,
                sim,
                stack.engine,
                stack.agents,
                stack.dialer,
                stack.directory,
                Actor(admin_user.id, admin_user.username),
            )
        finally:
            await stack.close()
            await bus.close()


@pytest.fixture
async def restart_db() -> AsyncIterator[tuple[str, Database]]:
    """A database shared with a dialer running in another process."""
    url = await create_database("callcenter_restart", migrated=True)
    db = await connect(DatabaseSettings(url=url, pool_min_size=2, pool_max_size=10, migrate_on_start=False))
    yield url, db
    await db.close()
    await drop_database(url)
