"""Composition root of the simulator: clock, world, PBX engine and AMI server from the settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from config.settings import PbxSimSettings, Settings
from pbx_sim.ami.server import AmiServer
from pbx_sim.core.apps import APPS
from pbx_sim.core.clock import SimClock
from pbx_sim.core.inbound import InboundTraffic
from pbx_sim.core.pbx import Pbx
from pbx_sim.world import World, load_world

log = structlog.get_logger("pbx_sim")


@dataclass
class PbxSim:
    clock: SimClock
    world: World
    pbx: Pbx
    ami: AmiServer
    traffic: InboundTraffic | None = None  # the world's inbound calls

    @property
    def host(self) -> str:
        return self.ami.host

    @property
    def port(self) -> int:
        return self.ami.port


@contextlib.asynccontextmanager
async def running_pbx_sim(
    settings: PbxSimSettings,
    *,
    host: str | None = None,
    port: int | None = None,
    speed: float | None = None,
    world: World | Path | None = None,
    max_pending: int = 50_000,
    write_timeout: float = 30.0,
) -> AsyncIterator[PbxSim]:
    """Run the simulator inside this process while the block runs; ``port=0`` picks a free port (tests)."""
    clock = SimClock(speed if speed is not None else settings.speed)
    if not isinstance(world, World):
        world = load_world(world if world is not None else settings.world)
    pbx = Pbx(clock, world, seed=settings.seed, apps=APPS, recordings_dir=settings.recordings_dir)
    users = {u.username: u.secret.get_secret_value() for u in settings.users}
    ami = AmiServer(
        pbx,
        users,
        host=host if host is not None else settings.host,
        port=port if port is not None else settings.port,
        max_pending=max_pending,
        write_timeout=write_timeout,
    )
    await ami.start()
    traffic = InboundTraffic(pbx)
    traffic.start()
    try:
        yield PbxSim(clock, world, pbx, ami, traffic)
    finally:
        await ami.close()
        await pbx.close()


async def serve_pbx_sim(settings: Settings, on_ready: Callable[[PbxSim], None] | None = None) -> None:
    """Run ``callcenter pbx-sim`` until cancelled; ``on_ready`` is called once the AMI port is open."""
    async with running_pbx_sim(settings.pbx_sim) as sim:
        log.info("pbx_sim_listening", host=sim.host, port=sim.port, speed=sim.clock.speed)
        if on_ready is not None:
            on_ready(sim)
        await asyncio.Event().wait()
