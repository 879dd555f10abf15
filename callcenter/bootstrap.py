"""The composition root: every adapter of a process is built here, from one settings object."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import structlog

from callcenter.bus import EventBus
from callcenter.bus.memory import InProcessBus
from callcenter.bus.redis import RedisBus
from callcenter.db.database import Database, connect
from callcenter.db.migrate import migrate
from callcenter.metrics import AGENT_STATES, Metrics
from config.settings import BusSettings, Settings
from dialer.agents.directory import AgentDirectory
from dialer.agents.service import AgentStateService
from dialer.ami import AmiConnection, AmiEngine
from dialer.ami.translate import ChannelRoles
from dialer.blacklist.service import blocked_numbers
from dialer.callbacks.service import CallbackService, MissedCallService
from dialer.campaigns.dialer import CampaignDialer
from dialer.campaigns.repository import DialRecords

log = structlog.get_logger(__name__)


@dataclasses.dataclass
class Platform:
    settings: Settings
    db: Database
    bus: EventBus
    metrics: Metrics

    async def close(self) -> None:
        await self.bus.close()
        await self.db.close()


def make_bus(settings: BusSettings) -> EventBus:
    if settings.backend == "redis":
        return RedisBus(settings.redis_url, key_prefix=settings.key_prefix, history=settings.history)
    return InProcessBus(history=settings.history)


async def start_platform(settings: Settings) -> Platform:
    """Open the database (migrating it when configured to) and the bus."""
    db = await connect(settings.database)
    try:
        if settings.database.migrate_on_start:
            async with db.acquire() as conn:
                applied = await migrate(conn)
            if applied:
                log.info("database_migrated", applied=[f"{m.version:04d}_{m.name}" for m in applied])
        bus = make_bus(settings.bus)
        await bus.start()
    except BaseException:
        await db.close()
        raise
    return Platform(settings=settings, db=db, bus=bus, metrics=Metrics())


@dataclasses.dataclass
class DialerRuntime:
    """The telephony side of a process: the AMI engine and the campaign dialer, with their timers."""

    engine: AmiEngine
    agents: AgentStateService
    directory: AgentDirectory
    dialer: CampaignDialer
    _tasks: list[asyncio.Task[None]]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.dialer.close()
        await self.engine.close()


async def start_dialer(platform: Platform) -> DialerRuntime:
    """Connect to Asterisk (or the simulator) over AMI and run the campaigns. The AMI connection retries in the
    background, so the web app starts even while the PBX is down."""
    settings = platform.settings
    directory = AgentDirectory()
    async with platform.db.acquire() as conn:
        await directory.load(conn)
    agents = AgentStateService(platform.db, platform.bus)
    connection = AmiConnection(settings.ami, platform.metrics)
    engine = AmiEngine(
        connection,
        platform.bus,
        platform.metrics,
        roles=ChannelRoles(
            outbound_context=settings.ami.outbound_context,
            inbound_contexts=settings.ami.inbound_contexts,
            agent_lookup=directory.lookup,
        ),
        agents=agents,
        wrap_up_seconds=None,  # an agent's wrap-up lasts until he sets the call's disposition
    )
    dialer = CampaignDialer(
        platform.db,
        platform.bus,
        engine,
        agents,
        directory,
        agent_context=settings.ami.agent_context,
        blocked=blocked_numbers,
    )
    # Missed-call capture: callers who hang up in a queue (campaign abandons are written by the dialer itself).
    missed = MissedCallService(platform.db, platform.bus)
    engine.on_queue_abandon(missed.capture_queue_abandon)
    callbacks = CallbackService(platform.db, platform.bus)
    await engine.start()
    dialer.start()
    tasks = [
        asyncio.create_task(_every(1.0, agents.finish_due_wrap_ups), name="wrap-up timer"),
        asyncio.create_task(_every(30.0, lambda: _reload(platform, directory)), name="agent directory"),
        asyncio.create_task(_every(5.0, callbacks.alert_due), name="call-back alerts"),
        asyncio.create_task(_every(300.0, missed.release_stale), name="missed calls taken and left"),
        asyncio.create_task(_every(30.0, lambda: _release_absent_claims(platform)), name="absent agents' records"),
        asyncio.create_task(_every(5.0, lambda: _count_agents(platform)), name="agent gauges"),
    ]
    log.info("dialer_started", ami=f"{settings.ami.host}:{settings.ami.port}")
    return DialerRuntime(engine, agents, directory, dialer, tasks)


async def _release_absent_claims(platform: Platform) -> None:
    async with platform.db.acquire() as conn:
        released = await DialRecords(conn).release_absent_claims()
    if released:
        log.info("records_released_from_absent_agents", records=len(released))


async def _count_agents(platform: Platform) -> None:
    """``callcenter_agents{state}``: how many agents are in each state now."""
    async with platform.db.acquire() as conn:
        rows = await conn.fetch("SELECT state, count(*) AS n FROM agent_states GROUP BY state")
    counts = {r["state"]: r["n"] for r in rows}
    for state in AGENT_STATES:
        platform.metrics.agents.labels(state=state).set(counts.get(state, 0))


async def _reload(platform: Platform, directory: AgentDirectory) -> None:
    async with platform.db.acquire() as conn:
        await directory.load(conn)


async def _every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:  # a timer must outlive one failed run
            log.exception("timer_job_failed", job=getattr(job, "__name__", repr(job)))
