"""Attended transfer by AMI Atxfer with features.conf's atxfer code (the world's ``[features] atxfer``).

manager.c's Atxfer only queues keys on the channel: the feature code, then the extension, each a bare DTMF end
frame (``DTMFEnd`` with ``DurationMs: 0`` and no ``DTMFBegin``). What follows is bridge_basic's attended transfer,
as in ami-atxfer, the channel (the transferer: the agent's leg) being in a two-party bridge with the transferee
(the queue caller):

* the code heard, ``Hold`` on the transferer and music on hold for the transferee; the extension's keys are read;
* the target is called in the transfer context (``TRANSFER_CONTEXT``, else the transferer's context): a Local pair
  with the transferer's Linkedid and inherited variables, ``TRANSFERERNAME`` / ``ATTENDEDTRANSFER``, its ``;1``
  (caller unknown, connected to the transferer's caller) put at once, still down, in a new bridge; no
  ``DialBegin``, only the ``Dest*`` ``DialState`` / ``DialEnd`` of that ``;1``. The transferer moves into that
  bridge (its connected line: the target), the transferee waits alone in the old one. Neither pair is optimized
  away while the transfer lasts (ast_bridge_merge_inhibit);
* the transferer hanging up completes it: ``BridgeMerge`` (the target's bridge into the transferee's), the target
  moves over, ``MusicOnHoldStop``, ``AttendedTransfer`` (app_queue answers with ``AgentComplete`` Reason
  ``transfer``), the transferee's connected line becomes the target, then the transferer leaves and ends;
* the target hanging up first, or not answering within 15 s (atxfernoanswertimeout), gives the call back: the
  transferer returns to the transferee, ``Unhold``, ``MusicOnHoldStop``.

CDRs as Asterisk's CDR engine cuts them: the transferee's record with the transferer ends when the transferer
leaves and a new one starts (its destination: the target, once merged); the transferer gets one with the target
for the consultation; the target's ``;1`` one of its own from the merge on.

Not simulated: the bridge's permission to transfer (Queue/Dial option t/T is not checked), keys from anywhere
else than Atxfer starting a feature, a blond transfer (the transferer hanging up before the target answers
completes it all the same, the transferee hearing the ringing).
"""

from __future__ import annotations

from pbx_sim.ami.protocol import Fields
from pbx_sim.core import connected
from pbx_sim.core import dtmf as keys
from pbx_sim.core import events as ev
from pbx_sim.core.channels import Bridge, Channel, Indication
from pbx_sim.core.dial import phone_rng
from pbx_sim.core.dialplan import run_steps
from pbx_sim.core.pbx import Pbx
from pbx_sim.core.phones import reachable, script

FEATURE_KEY = 0.16  # between the feature code's keys as the bridge reads them (ami-atxfer)
HOLD_AFTER = 0.1  # from the code's last key to Hold
DIGIT = 0.06  # between the extension's keys as the transfer reads them
NO_ANSWER = 15.0  # features.conf atxfernoanswertimeout


def _key(pbx: Pbx, chan: Channel, digit: str) -> None:
    pbx.emit("DTMFEnd", ev.DTMF, ev.dtmf(chan, digit, "Received", 0))


def _bridge(bridge: Bridge, prefix: str) -> Fields:
    return [(prefix + key, value) for key, value in ev.bridge_fields(bridge)]


def _restart_cdr(chan: Channel, now: float, peer: str = "") -> None:
    """``chan``'s open record ends here (with what the channel does now) and a new, answered one starts (with
    ``peer``, the channel it is bridged with, if any yet)."""
    for record in chan.cdrs:
        if record.follow and record.end is None:
            record.follow = False
            record.destination, record.dest_context = chan.exten, chan.context
            record.last_app, record.last_data = chan.app, chan.appdata
            record.end = now
    chan.cdrs.append(ev.Cdr(chan, now, answer=now, dest_channel=peer))


async def atxfer(pbx: Pbx, chan: Channel, code: str, exten: str) -> None:
    """What happens to the keys Atxfer queued on ``chan``: the feature code, then the extension."""
    bridge = chan.bridge
    if bridge is None or len(bridge.members) != 2:  # no bridge to hear a feature: the application reads them
        for digit in code + exten:
            await keys.receive(pbx, chan, digit)
        return
    for index, digit in enumerate(code):
        if index:
            await pbx.clock.sleep(FEATURE_KEY)
        _key(pbx, chan, digit)
    await pbx.clock.sleep(HOLD_AFTER)
    transferee = next(m for m in bridge.members if m is not chan)
    if not (chan.alive and transferee.alive and chan.bridge is bridge and transferee.bridge is bridge):
        return
    transfer = Transfer(pbx, chan, transferee, bridge)
    for digit in exten:
        await pbx.clock.sleep(DIGIT)
        _key(pbx, chan, digit)
    context = pbx.get_var(chan, "TRANSFER_CONTEXT") or chan.context
    if chan.alive and chan.bridge is bridge and reachable(pbx.world, exten, context):
        transfer.call(exten, context)
    else:
        transfer.give_back()


class Transfer:
    """One attended transfer: ``transferer`` consults the target while ``transferee`` waits in ``origin``; the
    listener of the target's ``;1``. It starts by putting the transferee on hold."""

    def __init__(self, pbx: Pbx, transferer: Channel, transferee: Channel, origin: Bridge) -> None:
        self.pbx = pbx
        self.transferer = transferer
        self.transferee = transferee
        self.origin = origin
        self.target: Channel | None = None
        self.bridge: Bridge | None = None
        self.answered = False
        self.over = False
        pbx.local_optimizer.inhibit(origin)
        pbx.emit("Hold", ev.CALL, ev.channel_fields(transferer))
        pbx.emit("MusicOnHoldStart", ev.CALL, [*ev.channel_fields(transferee), ("Class", "default")])

    def call(self, exten: str, context: str) -> None:
        """Call the target into a bridge of its own and move the transferer there."""
        pbx, transferer = self.pbx, self.transferer
        one, two = pbx.table.local_pair(exten, context, pbx.clock.now(), linkedid=transferer.linkedid)
        self.target = one
        pbx.register(one, two)
        marks = [("TRANSFERERNAME", transferer.name), ("ATTENDEDTRANSFER", transferer.name)]
        for name, value in [*marks, *transferer.inheritable()]:
            pbx.set_var(one, name, value)
        self.bridge = bridge = pbx.bridge()
        pbx.local_optimizer.inhibit(bridge)
        for name, value in [*reversed(marks), *transferer.inheritable()]:
            pbx.set_var(two, name, value)
        caller = (transferer.caller_num, transferer.caller_name)
        connected.set_caller(pbx, two, caller)
        pbx.emit("LocalBridge", ev.CALL, ev.local_bridge(one, two, context, exten))
        connected.update(pbx, one, caller)
        pbx.move(one, bridge)
        one.listener = self
        plan = script(pbx.world, two, exten, context, phone_rng(pbx, f"{exten}@{context}"))
        steps, defaults = (plan.steps, plan.defaults) if plan is not None else ([("Wait", "3600")], {})
        two.cdrs.append(ev.Cdr(two, two.created, disposition=plan.disposition if plan else "NO ANSWER"))
        two.runner = pbx.spawn(run_steps(pbx, two, context, exten, steps, defaults), f"atxfer {two.name}")
        now = pbx.clock.now()
        _restart_cdr(self.transferee, now)
        pbx.move(transferer, bridge)
        connected.update(pbx, transferer, (one.caller_num, one.caller_name))
        transferer.cdrs.append(ev.Cdr(transferer, now, answer=now, dest_channel=one.name))
        bridge.on_leave = self._left
        pbx.spawn(self._no_answer(one), f"atxfer timeout {one.name}")

    # ------------------------------------------------------------ listener of the target's ;1
    def on_indication(self, chan: Channel, what: str) -> None:
        if what == Indication.RINGING and not self.answered:
            self.pbx.emit("DialState", ev.CALL, ev.dial(None, chan, [("DialStatus", "RINGING")]))
        elif what == Indication.ANSWER and not self.answered:
            self.answered = True
            self.pbx.emit("DialEnd", ev.CALL, ev.dial(None, chan, [("DialStatus", "ANSWER")]))

    def on_gone(self, chan: Channel, cause: int) -> None:
        """The target is gone; the call came back when it left the bridge."""

    async def _no_answer(self, one: Channel) -> None:
        await self.pbx.clock.sleep(NO_ANSWER)
        if not self.answered and one.alive and one.bridge is self.bridge:
            self.pbx.hangup(one, 16)

    # ------------------------------------------------------------ the end of the consultation
    def _left(self, leaving: Channel, staying: bool) -> None:
        """Someone leaves the consultation bridge for good (moves are not reported here)."""
        assert self.bridge is not None
        self.bridge.on_leave = None
        if leaving is self.transferer:
            self._complete()
        else:
            self.give_back()

    def _end(self) -> None:
        """The transfer is over, done or not: the transferee's bridge may be optimized again."""
        if not self.over:
            self.over = True
            self.pbx.local_optimizer.inhibit(self.origin, -1)

    def _complete(self) -> None:
        pbx, transferee, target, origin = self.pbx, self.transferee, self.target, self.origin
        assert target is not None and self.bridge is not None
        if not (transferee.alive and transferee.bridge is origin and target.alive):
            self._end()
            return  # the transferee hung up meanwhile: the transferer's hangup ends the consultation
        pbx.emit("BridgeMerge", ev.CALL, [*_bridge(origin, "To"), *_bridge(self.bridge, "From")])
        pbx.move(target, origin)
        now = pbx.clock.now()
        for record in transferee.cdrs:
            if record.follow and record.end is None:
                record.dest_channel = target.name
        target.cdrs.append(ev.Cdr(target, now, answer=now))
        pbx.emit("MusicOnHoldStop", ev.CALL, ev.channel_fields(transferee))
        pbx.emit("AttendedTransfer", ev.CALL, self._attended_transfer())
        connected.update(pbx, transferee, (target.caller_num, target.caller_name))
        connected.update(pbx, target, (transferee.caller_num, transferee.caller_name))
        self._end()

    def _attended_transfer(self) -> Fields:
        transferer, target = self.transferer, self.target
        assert target is not None and self.bridge is not None
        return [
            ("Result", "Success"),
            *ev.channel_fields(transferer, "OrigTransferer"),
            *_bridge(self.origin, "Orig"),
            *ev.channel_fields(transferer, "SecondTransferer"),
            *_bridge(self.bridge, "Second"),
            *ev.channel_fields(self.transferee, "Transferee"),
            *ev.channel_fields(target, "TransferTarget"),
            ("IsExternal", "No"),
            ("DestType", "Bridge"),
            ("DestBridgeUniqueid", self.origin.uniqueid),
        ]

    def give_back(self) -> None:
        """The transfer failed: the transferer talks to the transferee again."""
        pbx, transferer, transferee = self.pbx, self.transferer, self.transferee
        if not (transferer.alive and transferee.alive and transferee.bridge is self.origin):
            self._end()
            return
        if transferer.bridge is not self.origin:
            _restart_cdr(transferee, pbx.clock.now(), transferer.name)
            pbx.move(transferer, self.origin)
            connected.update(pbx, transferer, (transferee.caller_num, transferee.caller_name))
        pbx.emit("Unhold", ev.CALL, ev.channel_fields(transferer))
        pbx.emit("MusicOnHoldStop", ev.CALL, ev.channel_fields(transferee))
        self._end()
