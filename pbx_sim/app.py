"""Composition root of the simulator: clock, world, PBX engine and AMI server from the settings.

A :class:`PbxSim` can go down and come back in the same process, as an Asterisk restarted under a dialer:
:meth:`PbxSim.stop` is ``core stop now`` (every channel hung up, ``Event: Shutdown``, EOF on every AMI session, a
reconnect is refused), :meth:`PbxSim.start` boots a fresh PBX on the same port (Uniqueids and Local counters
from 0 again; the world's queues with their static members only, as app_queue's ``persistentmembers`` is off by
default; registered PJSIP contacts stay, as res_pjsip keeps them), :meth:`PbxSim.restart` is ``core restart
now``. Leaving :func:`running_pbx_sim` is Asterisk ending on SIGTERM (``SHUTDOWN_FAST``): ``Event: Shutdown``
says ``Uncleanly`` if calls are still up, and nobody hangs them up, so a client sees the calls vanish with the
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from config.settings import PbxSimSettings, Settings
from pbx_sim.ami.server import AmiServer
from pbx_sim.core import events as ev
from pbx_sim.core.apps import APPS
from pbx_sim.core.clock import SimClock
from pbx_sim.core.inbound import InboundTraffic
from pbx_sim.core.pbx import Pbx
from pbx_sim.core.shutdown import softhangup_all
from pbx_sim.world import World, load_world

log = structlog.get_logger("pbx_sim")

# can_safely_quit(): after hanging up the channels of a busy PBX, Asterisk sleeps a second ("give things in
# progress a chance to recognize the final shutdown phase") before Event: Shutdown: 1.1 s in ami-reconnect.
FINAL_PHASE = 1.0


@dataclass
class PbxSim:
    clock: SimClock
    world: World
    pbx: Pbx
    ami: AmiServer
    settings: PbxSimSettings
    traffic: InboundTraffic | None = None  # the world's inbound calls
    _stopping: bool = field(default=False, init=False, repr=False)

    @property
    def host(self) -> str:
        return self.ami.host

    @property
    def port(self) -> int:
        return self.ami.port

    @property
    def running(self) -> bool:
        return self.ami.listening

    async def stop(self, *, hang_up: bool = True, restart: bool = False) -> None:
        """Go down as Asterisk does. ``hang_up`` (``core stop now``): every channel is hung up first
        (SoftHangupRequest Cause 4, then their Hangups and Cdrs) and a second passes; without it (SIGTERM) the
        channels are left up. Then ``Event: Shutdown`` (``Cleanly`` unless channels are still up; ``Restart``
        says whether this is ``core restart``), EOF on every AMI session; the port refuses connections until
        :meth:`start`."""
        if not self.running or self._stopping:
            return
        self._stopping = True
        try:
            await self._go_down(hang_up, restart)
        finally:
            self._stopping = False

    async def _go_down(self, hang_up: bool, restart: bool) -> None:
        if hang_up and softhangup_all(self.pbx):
            await self.clock.sleep(FINAL_PHASE)
        self.pbx.emit(
            "Shutdown",
            ev.SYSTEM,
            [
                ("Shutdown", "Uncleanly" if self.pbx.channels() else "Cleanly"),
                ("Restart", "True" if restart else "False"),
            ],
        )
        await self.ami.close()
        await self.pbx.close()
        log.info("pbx_sim_stopped", restart=restart)

    async def start(self) -> None:
        """Boot again after :meth:`stop`: a fresh PBX (no channels, counters from 0) listening on the same port."""
        if self.running:
            return
        before, self.pbx = self.pbx, _new_pbx(self.clock, self.world, self.settings)
        self.pbx.pjsip.restore(before.pjsip.contacts.values())
        self.ami.pbx = self.pbx
        await self.ami.start()
        self.traffic = InboundTraffic(self.pbx)
        self.traffic.start()
        log.info("pbx_sim_started", host=self.host, port=self.port)

    async def restart(self) -> None:
        """``core restart now``: hang every call up, ``Event: Shutdown`` with ``Restart: True``, boot again."""
        await self.stop(restart=True)
        await self.start()


def _new_pbx(clock: SimClock, world: World, settings: PbxSimSettings) -> Pbx:
    return Pbx(clock, world, seed=settings.seed, apps=APPS, recordings_dir=settings.recordings_dir)


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
    pbx = _new_pbx(clock, world, settings)
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
    sim = PbxSim(clock, world, pbx, ami, settings, traffic)
    try:
        yield sim
    finally:
        await sim.stop(hang_up=False)


async def serve_pbx_sim(settings: Settings, on_ready: Callable[[PbxSim], None] | None = None) -> None:
    """Run ``callcenter pbx-sim`` until cancelled; ``on_ready`` is called once the AMI port is open."""
    async with running_pbx_sim(settings.pbx_sim) as sim:
        log.info("pbx_sim_listening", host=sim.host, port=sim.port, speed=sim.clock.speed)
        if on_ready is not None:
            on_ready(sim)
        await asyncio.Event().wait()
