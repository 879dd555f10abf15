"""Inbound traffic: calls arriving from outside at a given rate, into an extension of the dialplan (a queue).

Each ``[[inbound]]`` entry of the world is a Poisson process on the simulated clock: the gaps between calls are
exponential with mean ``3600 / rate`` seconds, drawn from a generator seeded with the world's seed and the
entry's index, and every call draws its caller's number, patience and talk time from its own seeded generator.

A call is placed as Asterisk's ``channel originate Local/<exten>@<context> application Wait`` would place it: a
Local pair whose ``;2`` runs the extension (Answer, MixMonitor, Queue, ...) and whose ``;1`` is the caller. The
caller hangs up once its patience is over if no agent has taken the call (the queue reports an abandon), or
after talking ``talk`` seconds to the agent (unless the agent hangs up first).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import structlog

from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel, Indication
from pbx_sim.core.dialplan import fmt_seconds, run_steps
from pbx_sim.core.pbx import Pbx
from pbx_sim.world import Inbound

log = structlog.get_logger("pbx_sim")


def next_gap(rng: random.Random, rate_per_hour: float) -> float:
    """Seconds to the next arrival of a Poisson process of ``rate_per_hour`` calls per hour."""
    return rng.expovariate(rate_per_hour / 3600.0)


class InboundCall:
    """One caller: the ``;1`` of a Local pair into ``exten@context``; the listener of that ``;1``."""

    def __init__(self, pbx: Pbx, entry: Inbound, rng: random.Random) -> None:
        self.pbx = pbx
        self.entry = entry
        self.number = entry.caller_number(rng)
        self.patience = entry.patience.sample(rng)
        self.talk = entry.talk.sample(rng)
        self._answered = asyncio.Event()
        self._connected = asyncio.Event()
        self._gone = asyncio.Event()

    def on_indication(self, chan: Channel, what: str) -> None:
        if what == Indication.ANSWER:
            self._answered.set()

    def on_gone(self, chan: Channel, cause: int) -> None:
        self._gone.set()

    def _bridged(self, chan: Channel, entered: bool) -> None:
        if entered:
            self._connected.set()

    async def _until(self, event: asyncio.Event, seconds: float) -> bool:
        """Wait for ``event`` up to ``seconds`` (simulated); False on timeout or if the caller is gone."""
        waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._gone.wait())]
        try:
            await asyncio.wait(waits, timeout=self.pbx.clock.real(seconds), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        return event.is_set() and not self._gone.is_set()

    async def run(self) -> None:
        pbx, entry = self.pbx, self.entry
        ext = pbx.world.extension(entry.context, entry.exten)
        if ext is None:
            log.warning("pbx_sim_inbound_nowhere", context=entry.context, exten=entry.exten)
            return
        started = pbx.clock.now()
        one, two = pbx.table.local_pair(entry.exten, entry.context, started)
        name = entry.caller_name or "<unknown>"
        for chan in (one, two):  # a caller's channel announces his number, as a trunk call's Newchannel does
            chan.caller_num, chan.caller_name = self.number, name
            chan.connected_num, chan.connected_name = self.number, name
        pbx.register(one, two)
        pbx.newexten(one, 1, "AppDial2", "(Outgoing Line)")
        pbx.emit("LocalBridge", ev.CALL, ev.local_bridge(one, two, entry.context, entry.exten))
        one.cdrs.append(ev.Cdr(one, one.created))
        two.cdrs.append(ev.Cdr(two, two.created))
        one.listener = self
        two.on_bridge.append(self._bridged)
        two.runner = pbx.spawn(run_steps(pbx, two, entry.context, entry.exten, ext.steps, ext.defaults),
                               f"inbound {two.name}")  # fmt: skip
        if not await self._until(self._answered, self.patience):
            self._hang_up(one)
            return
        one.runs_pbx = True
        pbx.newexten(one, 1, "Wait", fmt_seconds(self.patience + self.talk))
        left = self.patience - (pbx.clock.now() - started)
        if not await self._until(self._connected, max(0.0, left)):
            self._hang_up(one)  # waited long enough: the queue counts an abandon
            return
        await self._until(self._gone, self.talk)
        self._hang_up(one)

    def _hang_up(self, one: Channel) -> None:
        one.listener = None
        if one.alive:
            self.pbx.hangup(one, 16)


@dataclass
class InboundTraffic:
    """The arrival processes of the world's ``[[inbound]]`` entries; ``arrivals``: (simulated seconds since the
    traffic started, index of the entry) of every call so far."""

    pbx: Pbx
    arrivals: list[tuple[float, int]] = field(default_factory=list)

    def start(self) -> None:
        for index, entry in enumerate(self.pbx.world.inbound):
            if entry.rate > 0:
                self.pbx.spawn(self._stream(index, entry), f"inbound traffic {entry.exten}@{entry.context}")

    async def _stream(self, index: int, entry: Inbound) -> None:
        pbx = self.pbx
        rng = random.Random(f"pbx-sim-inbound:{pbx.seed}:{index}")  # noqa: S311 - a simulation
        start, offset = pbx.clock.elapsed(), 0.0
        count = 0
        while True:
            offset += next_gap(rng, entry.rate)  # on the simulated clock, not after the last call: no drift
            await pbx.clock.sleep(start + offset - pbx.clock.elapsed())
            count += 1
            self.arrivals.append((offset, index))
            call = InboundCall(pbx, entry, random.Random(f"pbx-sim-inbound:{pbx.seed}:{index}:{count}"))  # noqa: S311
            pbx.spawn(call.run(), f"inbound call {count} to {entry.exten}@{entry.context}")
