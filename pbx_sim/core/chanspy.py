"""ChanSpy: a supervisor listens to a live call (``q``), whispers to the agent (``w``) or barges in (``B``).

``ChanSpy([chanprefix][,options])`` as in ami-chanspy-listen-whisper-barge, where a supervisor is originated
with ``Application=ChanSpy`` and ``Data=<agent leg>,q`` (``qw``, ``qB``): a moment (0.1 s) after it starts it
takes the first live channel whose name begins with the prefix (not itself) and spies on it: ``ChanSpyStart``
(``Spyer*``: the spying channel, ``Spyee*``: the spied one). The three modes look the same on AMI. Spying ends
with ``ChanSpyStop``: when the spyer hangs up (just before its ``Hangup``), or when the spyee does, after which
ChanSpy looks again every second for a channel with that prefix. The spyee carries an audiohook meanwhile, so a
Local pair it belongs to is not optimized away.

Asterisk issue #978: with no audio on the spied channel, ChanSpy never wakes up to see that the spyer was hung up,
not even by an AMI Hangup: the spyer stays (``SoftHangupRequest`` / ``HangupRequest`` only) until the spyee hangs
up. The capture therefore has the agent's side play music on hold; here the spyer is held the same way when
nothing plays on the spied call at the moment it is asked to hang up (see :mod:`pbx_sim.core.localopt` for what
sends audio).
"""

from __future__ import annotations

import asyncio

from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel
from pbx_sim.core.pbx import Pbx

SETTLE = 0.1  # from ChanSpy starting to ChanSpyStart (ami-chanspy-listen-whisper-barge)
SCAN = 1.0  # how often ChanSpy looks again for a channel to spy on


class Spy:
    """ChanSpy running on ``spyer``."""

    def __init__(self, pbx: Pbx, spyer: Channel, prefix: str) -> None:
        self.pbx = pbx
        self.spyer = spyer
        self.prefix = prefix.lower()
        self.spyee: Channel | None = None
        self.held: int | None = None  # the cause of a hangup the spyer is waiting to carry out (#978)
        self._over = asyncio.Event()

    def _fields(self, spyee: Channel) -> list[tuple[str, str]]:
        return [*ev.channel_fields(self.spyer, "Spyer"), *ev.channel_fields(spyee, "Spyee")]

    def _pick(self) -> Channel | None:
        return next(
            (c for c in self.pbx.channels() if c is not self.spyer and c.name.lower().startswith(self.prefix)), None
        )

    async def run(self) -> None:
        spyer = self.spyer
        spyer.before_hangup.append(lambda chan: self._stop())
        spyer.hold_hangup = self._stuck
        wait = SETTLE
        while spyer.alive:
            await self.pbx.clock.sleep(wait)
            wait = SCAN
            spyee = self._pick()
            if spyee is None:
                continue
            self._start(spyee)
            self._over.clear()
            await self._over.wait()

    def _start(self, spyee: Channel) -> None:
        self.spyee = spyee
        self.pbx.local_optimizer.hook(spyee, +1)
        spyee.before_hangup.append(self._spyee_gone)
        self.pbx.emit("ChanSpyStart", ev.CALL, self._fields(spyee))

    def _stop(self) -> None:
        spyee, self.spyee = self.spyee, None
        if spyee is None:
            return
        self.pbx.local_optimizer.hook(spyee, -1)
        if self._spyee_gone in spyee.before_hangup:
            spyee.before_hangup.remove(self._spyee_gone)
        self.pbx.emit("ChanSpyStop", ev.CALL, self._fields(spyee))
        self._over.set()

    def _spyee_gone(self, spyee: Channel) -> None:
        self._stop()
        if self.held is not None:
            self.pbx.spawn(self._carry_out(self.held), f"chanspy hangup {self.spyer.name}")

    async def _carry_out(self, cause: int) -> None:
        """The hangup the spyer has been waiting for (#978) happens now that ChanSpy has woken up."""
        self.spyer.hold_hangup = None
        self.pbx.hangup(self.spyer, cause, soft=False)

    def _stuck(self, cause: int) -> bool:
        """hold_hangup of the spyer: True (it stays) while the spied call carries no audio."""
        if self.spyee is None or self.pbx.local_optimizer.audio(self.spyee):
            return False
        self.held = cause
        return True


async def app_chanspy(pbx: Pbx, chan: Channel, data: str) -> bool:
    """``ChanSpy([chanprefix][,options])``: until the spyer hangs up."""
    await Spy(pbx, chan, data.partition(",")[0].strip()).run()
    return chan.alive
