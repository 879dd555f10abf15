"""Local channel optimization: a Local pair whose two halves are both bridged gets out of the way.

As in ami-local-optimization: once ``;1`` and ``;2`` of a pair made without ``/n`` each sit in a two-party
bridge and audio passes through the pair, the party bridged with one half moves into the other half's bridge,
in that half's place, and the pair hangs up. ``LocalOptimizationBegin`` (the pair; ``Source*``: the party that
moves; ``DestUniqueId``: the ``;2``, whichever half is replaced; ``Id``: the PBX's count of optimizations), the
party's ``BridgeLeave``, the replaced half's ``BridgeLeave``, the party's ``BridgeEnter`` (``SwapUniqueid``),
``LocalOptimizationEnd`` (``Success: No``: Asterisk 22 says so for a swap that worked), then the other half leaves
its emptied bridge and the pair hangs up (cause 16). The party starts a CDR of its new pairing (the older channel
of the two is its party A). The channel an Originate reported is then gone: Status or Getvar on it answer
``No such channel``.

Asterisk tries this when an audio frame is written to a half (core_unreal), so only while audio flows: a real
(non-Local) channel always sends its media; a simulated party sends only while it plays something (Playback,
MusicOnHold) and is silent in Wait (in ami-atxfer the target's Local pair, bridged on both sides once the
transfer is done, stays because nobody plays anything any more). The swap comes one frame (20 ms) after audio
first reaches a half. In Asterisk the half that frame is written to decides which way the swap goes; the
simulator takes the half bridged first, which has carried the call's audio the longest, so the outcome does not
hang on which party happens to speak at that instant: its bridge-mate moves (in ami-local-optimization the
customer, bridged with ``;2`` a second earlier, moves into the agent's bridge in place of ``;1``).

Nothing happens when the pair was made with ``/n`` (``LocalOptimization: No``), when either half has an
audiohook (a MixMonitor, as on ``;1`` of the to-queue path; a ChanSpy listening to it), when a bridge refuses
(:meth:`LocalOptimizer.inhibit`: an attended transfer's bridges) or when a bridge holds other than two channels
(Asterisk would merge the bridges then; not simulated).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from pbx_sim.ami.protocol import Fields
from pbx_sim.core import events as ev
from pbx_sim.core.channels import Bridge, Channel

if TYPE_CHECKING:
    from pbx_sim.core.pbx import Pbx

FRAME = 0.02  # seconds of audio in one frame
AUDIO_APPS = frozenset({"playback", "musiconhold"})  # what makes a simulated party send audio


class LocalOptimizer:
    """Follows Local pairs through the PBX's events and optimizes them away when they may be."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.count = 0  # optimizations so far: the Id of the next one
        self._fixed: weakref.WeakSet[Channel] = weakref.WeakSet()  # ;1 of the pairs made with /n
        self._inhibited: weakref.WeakKeyDictionary[Bridge, int] = weakref.WeakKeyDictionary()
        self._hooked: weakref.WeakKeyDictionary[Channel, int] = weakref.WeakKeyDictionary()  # ChanSpy's audiohooks
        self._moh: weakref.WeakSet[Channel] = weakref.WeakSet()  # channels hearing music on hold
        self._bridged: weakref.WeakKeyDictionary[Channel, float] = weakref.WeakKeyDictionary()  # since when
        self._armed: weakref.WeakSet[Channel] = weakref.WeakSet()  # ;1 of pairs bridged on both sides
        self._due: weakref.WeakSet[Channel] = weakref.WeakSet()  # ;1 of pairs whose swap is one frame away
        pbx.listen("LocalBridge", self._local_bridge)
        pbx.listen("BridgeEnter", self._bridge_enter)
        pbx.listen("MusicOnHoldStart", lambda body: self._music(body, True))
        pbx.listen("MusicOnHoldStop", lambda body: self._music(body, False))
        pbx.listen("Newexten", lambda body: self._check())

    def inhibit(self, bridge: Bridge, delta: int = 1) -> None:
        """No Local channel in ``bridge`` is optimized away while it is inhibited (+1) more often than released (-1):
        ast_bridge_merge_inhibit, which an attended transfer does to both its bridges."""
        count = self._inhibited.get(bridge, 0) + delta
        if count > 0:
            self._inhibited[bridge] = count
        else:
            self._inhibited.pop(bridge, None)
            self._check()

    def hook(self, chan: Channel, delta: int) -> None:
        """An audiohook other than a MixMonitor is put on ``chan`` (+1) or taken off it (-1)."""
        count = self._hooked.get(chan, 0) + delta
        if count > 0:
            self._hooked[chan] = count
        else:
            self._hooked.pop(chan, None)

    # ------------------------------------------------------------ listeners
    def _local_bridge(self, body: Fields) -> None:
        fields = dict(body)
        one = self.pbx.find(fields.get("LocalOneChannel", ""))
        if one is not None and fields.get("LocalOptimization") == "No":
            self._fixed.add(one)

    def _bridge_enter(self, body: Fields) -> None:
        chan = self.pbx.find(dict(body).get("Channel", ""))
        if chan is None:
            return
        self._bridged[chan] = self.pbx.clock.now()
        one = chan if chan.name.endswith(";1") else chan.partner
        if one is not None and one not in self._fixed and chan.partner is not None and chan.partner.bridge is not None:
            self._armed.add(one)
        self._check()

    def _music(self, body: Fields, started: bool) -> None:
        chan = self.pbx.find(dict(body).get("Channel", ""))
        if chan is not None:
            (self._moh.add if started else self._moh.discard)(chan)
            self._check()

    # ----------------------------------------------------------------- audio
    def _plays(self, chan: Channel) -> bool:
        return chan.app.lower() in AUDIO_APPS or chan in self._moh

    def _sends(self, chan: Channel, seen: set[int]) -> bool:
        """Whether audio comes out of ``chan`` into its bridge: a real channel's media; for a Local half, what is
        played to its other half or comes to that half from its own bridge."""
        other = chan.partner
        if other is None:
            return True
        if id(chan) in seen:
            return False
        seen.add(id(chan))
        if self._plays(other):
            return True
        mates = other.bridge.members if other.bridge is not None else []
        return any(self._sends(mate, seen) for mate in mates if mate is not other)

    def audio(self, chan: Channel) -> bool:
        """Whether audio passes through ``chan``, written to it or coming out of it (ChanSpy wakes up on it)."""
        return self._receives(chan) or self._sends(chan, set())

    def _receives(self, half: Channel) -> bool:
        """Whether audio is written to ``half``: played to it, or sent by its bridge-mate."""
        mates = half.bridge.members if half.bridge is not None else []
        return self._plays(half) or any(self._sends(mate, {id(half)}) for mate in mates if mate is not half)

    # ------------------------------------------------------------------ swap
    def _allowed(self, one: Channel) -> bool:
        two = one.partner
        if two is None or not (one.alive and two.alive) or one in self._fixed:
            return False
        bridges = [one.bridge, two.bridge]
        return (
            bridges[0] is not None
            and bridges[1] is not None
            and bridges[0] is not bridges[1]
            and all(b is not None and len(b.members) == 2 and b not in self._inhibited for b in bridges)
            and not any(self.pbx.recordings.get(half) or half in self._hooked for half in (one, two))
        )

    def _check(self) -> None:
        for one in list(self._armed):
            if not self._allowed(one):
                if one.partner is None or one.bridge is None or one.partner.bridge is None:
                    self._armed.discard(one)
                continue
            if (
                one not in self._due
                and one.partner is not None
                and (self._receives(one) or self._receives(one.partner))
            ):
                self._due.add(one)
                self.pbx.spawn(self._next_frame(one), f"local optimization {one.name}")

    async def _next_frame(self, one: Channel) -> None:
        await self.pbx.clock.sleep(FRAME)
        self._due.discard(one)
        two = one.partner
        if two is None or not self._allowed(one):
            return
        half = min((one, two), key=lambda h: self._bridged.get(h, 0.0))
        self._armed.discard(one)
        self._swap(one, two, half)

    def _swap(self, one: Channel, two: Channel, half: Channel) -> None:
        """The bridge-mate of ``half`` takes the place of the other half in its bridge; ``half``, left alone,
        hangs up with its pair."""
        pbx = self.pbx
        replaced = two if half is one else one
        assert half.bridge is not None and replaced.bridge is not None
        mover = next(m for m in half.bridge.members if m is not half)
        bridge = replaced.bridge
        ident = str(self.count)
        self.count += 1
        pair = [*ev.channel_fields(one, "LocalOne"), *ev.channel_fields(two, "LocalTwo")]
        source = ev.channel_fields(mover, "Source")
        pbx.emit("LocalOptimizationBegin", ev.CALL, [*pair, *source, ("DestUniqueId", two.uniqueid), ("Id", ident)])
        pbx.move(mover, bridge, swap=replaced)
        peer = next(m for m in bridge.members if m is not mover)
        party_a, party_b = sorted((mover, peer), key=lambda chan: chan.created)
        now = pbx.clock.now()
        party_a.cdrs.append(ev.Cdr(party_a, now, answer=now, dest_channel=party_b.name))
        pbx.emit("LocalOptimizationEnd", ev.CALL, [*pair, ("Success", "No"), ("Id", ident)])
        pbx.leave_bridge(half)
        pbx.hangup(half, 16, soft=True)
