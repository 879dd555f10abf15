"""A call center without a PBX for the call-back tests: two teams of agents, a pool and a running preview campaign
in the test's rolled-back transaction; calls are written as the dialer writes them (call record started, then
finished with the agent who talked), so dispositions go through the real CampaignService."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import tomllib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database, connect
from config.settings import DatabaseSettings, PbxSimSettings
from crm_core.audit.repository import SYSTEM, Actor
from crm_core.users.model import Role
from crm_core.users.service import UserService
from dialer.agents.service import AgentStateService
from dialer.callbacks.service import CallbackService, MissedCallService
from dialer.campaigns.model import Campaign, CampaignStatus, DialMode
from dialer.campaigns.repository import CallOutcome, CallRecordRepository, DialRecords
from dialer.campaigns.service import CampaignService
from dialer.pools.model import PoolRecord, RecordStatus
from dialer.pools.service import PoolService
from dialer.state.agent_commands import LogIn, LogOut
from pbx_sim.app import PbxSim, running_pbx_sim
from pbx_sim.core.inbound import InboundCall
from pbx_sim.world import parse_world
from tests.conftest import create_database, drop_database
from tests.dialer.campaigns.conftest import Rig, start_stack

#: A Monday morning in Istanbul.
T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


class Clock:
    """The services' clock, set by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclasses.dataclass
class Desk:
    db: Database
    bus: InProcessBus
    admin: Actor
    campaigns: CampaignService
    agents: AgentStateService
    callbacks: CallbackService
    missed: MissedCallService
    campaign: Campaign
    pool_id: int
    team: int
    other_team: int
    users: dict[str, int]
    records: list[PoolRecord]
    clock: Clock

    def actor(self, name: str) -> Actor:
        return Actor(self.users[name], name)

    async def claim(self, name: str, at: datetime) -> PoolRecord | None:
        """The agent's next preview record (the dialer's own pick)."""
        async with self.db.acquire() as conn:
            team = await conn.fetchval("SELECT team_id FROM users WHERE id = $1", self.users[name])
            return await DialRecords(conn).claim(
                self.campaign, at, agent_id=self.users[name], team_id=team, for_preview=True
            )

    async def give_back(self, record: PoolRecord) -> None:
        async with self.db.acquire() as conn:
            await DialRecords(conn).settle(record.id, RecordStatus.ASSIGNED, None, record.next_attempt_at)

    async def claim_all(self, name: str, at: datetime) -> list[int]:
        """Every record the agent can take now, in the order he gets them (given back afterwards)."""
        taken: list[PoolRecord] = []
        while (record := await self.claim(name, at)) is not None:
            taken.append(record)
        for record in taken:
            await self.give_back(record)
        return [r.id for r in taken]

    async def talk(self, name: str, record: PoolRecord, at: datetime) -> str:
        """A call of the agent to the record that he talked on for a minute (written as the dialer writes it)."""
        call_id = f"test-{uuid.uuid4().hex}"
        async with self.db.acquire() as conn:
            repo = CallRecordRepository(conn)
            attempt = await DialRecords(conn).count_attempt(record.id, at)
            await repo.start(
                call_id,
                phone=record.phone,
                dialed_at=at,
                campaign_id=self.campaign.id,
                pool_record_id=record.id,
                customer_id=record.customer_id,
                agent_id=self.users[name],
                attempt=attempt,
            )
            end = at + timedelta(minutes=1)
            await repo.finish(
                call_id, CallOutcome("ended", at, at, at, end, self.users[name], None, 16, "Normal Clearing", "agent")
            )
        return call_id

    async def log_in(self, name: str, at: datetime) -> None:
        await self.agents.execute(self.users[name], LogIn(ready=True), at)

    async def log_out(self, name: str, at: datetime) -> None:
        await self.agents.execute(self.users[name], LogOut(), at)

    def record(self, index: int) -> PoolRecord:
        return self.records[index]


async def make_desk(db: Database, bus: InProcessBus, phones: Sequence[str]) -> Desk:
    users_service = UserService(db, bus)
    admin = await users_service.create_user(
        SYSTEM, username="yonetici", full_name="Yönetici", password="dogru-parola-1", role=Role.ADMIN
    )
    actor = Actor(admin.id, admin.username)
    team = await users_service.create_team(SYSTEM, "Satış")
    other = await users_service.create_team(SYSTEM, "Destek")
    users: dict[str, int] = {}
    for name, team_id in (("ayse", team.id), ("burak", team.id), ("cem", other.id)):
        user = await users_service.create_user(
            SYSTEM, username=name, full_name=name.title(), password="dogru-parola-1", role=Role.AGENT, team_id=team_id
        )
        users[name] = user.id
    pools = PoolService(db, bus)
    pool = await pools.create_pool(actor, "Liste")
    lines = ["Telefon;Ad Soyad", *(f"{p};Müşteri {i}" for i, p in enumerate(phones, 1))]
    report = await pools.import_file(
        actor,
        pool.id,
        filename="liste.csv",
        content="\r\n".join(lines).encode(),
        mapping={"Telefon": "phone", "Ad Soyad": "name"},
    )
    assert report.summary.stored_rows == len(phones)
    campaigns = CampaignService(db, bus)
    campaign = await campaigns.create_campaign(
        actor, "Kampanya", DialMode.PREVIEW, pool_ids=[pool.id], team_ids=[team.id, other.id]
    )
    campaign = await campaigns.set_status(actor, campaign.id, CampaignStatus.RUNNING)
    clock = Clock(T0)
    async with db.acquire() as conn:
        rows = await conn.fetch("SELECT id FROM pool_records WHERE pool_id = $1 ORDER BY id", pool.id)
        records = [await DialRecords(conn).get(r["id"]) for r in rows]
    return Desk(
        db=db,
        bus=bus,
        admin=actor,
        campaigns=campaigns,
        agents=AgentStateService(db, bus),
        callbacks=CallbackService(db, bus, clock=clock),
        missed=MissedCallService(db, bus, clock=clock),
        campaign=campaign,
        pool_id=pool.id,
        team=team.id,
        other_team=other.id,
        users=users,
        records=[r for r in records if r is not None],
        clock=clock,
    )


@pytest.fixture
async def desk(db: Database, memory_bus: InProcessBus) -> Desk:
    return await make_desk(db, memory_bus, ["0532 111 00 01", "0532 111 00 02", "0532 111 00 03"])


# -- against the PBX simulator ------------------------------------------------------------------------------------

#: Customers answer after a second or two and stay on the line; agent1's phone never answers, the others' do.
#: Queue "destek" has one member (agent9), whom the tests pause: its callers wait until they give up.
PBX_WORLD = """
[outbound]
context = "outbound"
customer_context = "sim"
dial_timeout = 30

[agents]
context = "sim-agents"

[[customer]]
match = "_+X."
answer = 1
ring = [1, 2]
talk = [60, 90]

[[phone]]
match = "agent1"
no_answer = 1
ring = 1
talk = 5

[[phone]]
match = "_[a][g][e][n][t]."
answer = 1
ring = 1
talk = [5, 8]

[[dialplan]]
context = "agents"
exten = "_[a][g][e][n][t]."
steps = ["NoOp(call to agent phone ${EXTEN})", "Dial(Local/${EXTEN}@sim-agents,10)", "Hangup()"]

[[queue]]
name = "destek"
strategy = "ringall"
timeout = 15
retry = 2
members = ["Local/agent9@sim-agents/n,0,Agent 9"]

[[dialplan]]
context = "to-queue"
exten = "destek"
steps = ["Answer()", "Queue(destek,t,,,120)", "Hangup()"]

# Callers placed by the tests one by one (rate 0: no random traffic); each waits 3 s, then hangs up.
[[inbound]]
context = "to-queue"
exten = "destek"
rate = 0
number = "05321112233"
patience = 3
talk = 5

[[inbound]]
context = "to-queue"
exten = "destek"
rate = 0
number = "02124445566"
patience = 4
talk = 5
"""


@pytest.fixture
async def pbx_db() -> AsyncIterator[tuple[str, Database]]:
    """A database of its own: the dialer commits through a real pool, as in production."""
    url = await create_database("callcenter_callbacks", migrated=True)
    db = await connect(DatabaseSettings(url=url, pool_min_size=2, pool_max_size=12, migrate_on_start=False))
    yield url, db
    await db.close()
    await drop_database(url)


@contextlib.asynccontextmanager
async def pbx_rig(db: Database, *, speed: float) -> AsyncIterator[Rig]:
    """The campaign tests' rig (simulator over real AMI, engine, agent states, dialer) in :data:`PBX_WORLD`, with
    missed-call capture wired as the composition root wires it."""
    bus = InProcessBus(history=100_000)
    await bus.start()
    world = parse_world(tomllib.loads(PBX_WORLD))
    async with running_pbx_sim(PbxSimSettings(), port=0, speed=speed, world=world) as sim:

        def clock() -> datetime:
            return datetime.fromtimestamp(sim.clock.now(), UTC)

        admin = await UserService(db, bus).create_user(
            SYSTEM, username="yonetici", full_name="Yönetici", password="dogru-parola-1", role=Role.ADMIN
        )
        stack = await start_stack(db, bus, sim.port, clock)
        stack.engine.on_queue_abandon(MissedCallService(db, bus, clock=clock).capture_queue_abandon)
        try:
            yield Rig(
                db,
                bus,
                sim,
                stack.engine,
                stack.agents,
                stack.dialer,
                stack.directory,
                Actor(admin.id, admin.username),
            )
        finally:
            await stack.close()
            await bus.close()


def inbound_call(sim: PbxSim, entry: int, n: int) -> None:
    """One caller of the world's ``entry``-th inbound stream dials in now."""
    call = InboundCall(sim.pbx, sim.world.inbound[entry], random.Random(n))
    sim.pbx.spawn(call.run(), f"test inbound call {entry}/{n}")
