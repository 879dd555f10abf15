"""The composition root: every adapter of a process is built here, from one settings object."""

from __future__ import annotations

import dataclasses

import structlog

from callcenter.bus import EventBus
from callcenter.bus.memory import InProcessBus
from callcenter.bus.redis import RedisBus
from callcenter.db.database import Database, connect
from callcenter.db.migrate import migrate
from callcenter.metrics import Metrics
from config.settings import BusSettings, Settings

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
