"""Calling a PJSIP endpoint: the outgoing channel, the simulated phone at its far end, and ``Dial(PJSIP/...)``.

There is no SIP here: what the phone answers (180 Ringing, 200 OK, 486 Busy Here, 503, 404, a BYE) is drawn from
the world. ``PJSIP/<endpoint>`` rings that endpoint's phone, which behaves as the world's ``[[phone]]`` entry
matching the endpoint name (an agent's phone; without one it rings until the caller gives up);
``PJSIP/<number>@<endpoint>`` goes out over the trunk ``endpoint`` to the ``[[customer]]`` at ``number``, whose
phone rings ``ring`` seconds before it answers or rejects the call (busy: 486, congestion: 503; a number nobody
has: 404). As in ami-pjsip-originate-agent-customer:

* a PJSIP channel is one channel (no ``;1``/``;2``, no LocalBridge); it starts in the endpoint's context at
  ``s``; a dialled one takes the caller's extension (app_dial) and has no CDR of its own;
* a rejection is ``HangupRequest`` with the Q.850 cause and the SIP status (``Cause: 17``, ``TechCause: 486``),
  ``DialEnd BUSY``, then the callee's ``Hangup`` (``User busy``, ``TechCause: 486``); the caller keeps that
  cause (``HANGUPCAUSE``), so its own Hangup later says ``User busy`` too, and its CDR is split: the Dial's
  record says BUSY (although the caller was answered), a new one covers the rest of its dialplan;
* a BYE from the phone is ``HangupRequest`` (Cause 16), then the channel goes as a hung-up party does;
* two PJSIP channels are bridged with ``simple_bridge``, and Asterisk moves them to ``native_rtp`` at once,
  without an event: BridgeLeave and BridgeDestroy say ``native_rtp``.

RTCPSent events (every ~5 s per leg with real RTP) are not simulated: there is no media.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Callable

from pbx_sim.ami.protocol import Fields
from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel, Indication, State
from pbx_sim.core.pbx import Pbx
from pbx_sim.world import Behaviour
from pbx_sim.world_pjsip import Endpoint

PJSIP_TARGET = re.compile(r"^PJSIP/(?:([^@/]+)@)?([^@/]+)$", re.I)
NOT_FOUND = "not_found"  # the trunk's far end knows no such number
# What the phone answers when it does not take the call: (Q.850 cause, SIP status, DIALSTATUS).
REJECTIONS = {
    "busy": (17, 486, "BUSY"),
    "refuse": (17, 486, "BUSY"),
    "congestion": (34, 503, "CONGESTION"),
    NOT_FOUND: (1, 404, "CHANUNAVAIL"),
}
CDR_DISPOSITION = {"BUSY": "BUSY", "NOANSWER": "NO ANSWER", "CONGESTION": "FAILED", "CHANUNAVAIL": "FAILED"}


def parse_pjsip(target: str) -> tuple[str, str] | None:
    """``PJSIP/<endpoint>`` or ``PJSIP/<number>@<endpoint>`` -> (endpoint, number or "")."""
    match = PJSIP_TARGET.match(target.strip())
    if match is None:
        return None
    return match.group(2), match.group(1) or ""


def far_end(pbx: Pbx, endpoint: Endpoint, number: str, rng: random.Random) -> Behaviour | None:
    """What answers: the customer at ``number`` over the trunk, else the endpoint's own phone (None: nobody)."""
    if number:
        return pbx.world.behaviour(number, rng) or Behaviour(NOT_FOUND, 0.0, 0.0)
    phone = pbx.world.phone(endpoint.name)
    return phone.behaviour(rng) if phone is not None else None


class PjsipLeg:
    """One outgoing PJSIP channel and its phone; ``caller`` is the dialling channel (None for an Originate, whose
    Dial* events carry only the Dest* fields)."""

    def __init__(
        self,
        pbx: Pbx,
        endpoint: Endpoint,
        behaviour: Behaviour | None,
        caller: Channel | None,
        *,
        linkedid: str = "",
        uniqueid: str = "",
    ) -> None:
        self.pbx = pbx
        self.behaviour = behaviour
        self.caller = caller
        self.chan = pbx.pjsip.new_channel(endpoint, linkedid=linkedid, uniqueid=uniqueid)
        self.ended = False
        self.rejection = (0, 0, "")  # (cause, SIP status, DIALSTATUS) once the phone rejected the call
        self._result: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def _dial_event(self, name: str, tail: Fields) -> None:
        self.pbx.emit(name, ev.CALL, ev.dial(self.caller, self.chan, tail))

    def begin(self, dial_string: str) -> None:
        """``DialBegin``; the INVITE goes out and the phone starts ringing."""
        self._dial_event("DialBegin", [("DialString", dial_string)])
        phone = self.pbx.spawn(self._phone(), f"phone of {self.chan.name}")

        def hung_up(_chan: Channel) -> None:
            if phone is not asyncio.current_task():
                phone.cancel()

        self.chan.on_hangup.append(hung_up)

    async def _phone(self) -> None:
        pbx, chan, behaviour = self.pbx, self.chan, self.behaviour
        pbx.pjsip.set_state(chan, State.RINGING)  # 180 Ringing
        if not self.ended:
            self._dial_event("DialState", [("DialStatus", "RINGING")])
        if behaviour is None or behaviour.outcome == "no_answer":
            return  # it rings until the caller gives up
        await pbx.clock.sleep(behaviour.ring)
        if behaviour.outcome in REJECTIONS:
            self.rejection = REJECTIONS[behaviour.outcome]
            cause, status, _ = self.rejection
            chan.tech_cause = status
            pbx.emit("HangupRequest", ev.CALL, [*ev.with_cause(chan, cause), ("TechCause", str(status))])
            self._settle_result("rejected")
            return
        pbx.pjsip.set_state(chan, State.UP)  # 200 OK
        self._settle_result("answer")
        await pbx.clock.sleep(self._talk(behaviour))
        bye(pbx, chan)

    def _talk(self, behaviour: Behaviour) -> float:
        """Seconds from the answer to the phone's BYE: its greeting (``playback``), then ``talk``, which a
        channel variable (``talk_variable``, inherited from the caller) may override, as for Local customers."""
        talk = behaviour.talk
        override = self.chan.get_var(behaviour.talk_variable) if behaviour.talk_variable else None
        if override:
            with contextlib.suppress(ValueError):
                talk = float(override)
        greeting = self.pbx.world.sound_seconds(behaviour.playback) if behaviour.playback else 0.0
        return greeting + talk

    def _settle_result(self, what: str) -> None:
        if not self._result.done():
            self._result.set_result(what)

    async def wait(self, limit: float | None) -> str:
        """``answer`` / ``rejected`` / ``gone`` / ``timeout`` after ``limit`` simulated seconds (None: none)."""
        self.chan.on_hangup.append(lambda _chan: self._settle_result("gone"))
        try:
            real = None if limit is None else self.pbx.clock.real(limit)
            return await asyncio.wait_for(asyncio.shield(self._result), real)
        except TimeoutError:
            return "timeout"

    def end(self, status: str) -> None:
        """``DialEnd`` with ``status`` unless already ended."""
        if not self.ended:
            self.ended = True
            self._dial_event("DialEnd", [("DialStatus", status)])

    def drop(self, status: str, cause: int, *, settle: bool = True) -> None:
        """End the dial with ``status`` and hang the callee up (a CANCEL, or after its rejection)."""
        self.end(status)
        if self.chan.alive:
            self.pbx.hangup(self.chan, cause, soft=False, settle=settle)

    # Dialing protocol of the caller: it hung up while the phone rang
    def cancel(self, cause: int) -> None:
        if self.caller is not None:
            self.caller.dialing = None
        self.drop("CANCEL", cause, settle=False)


def bye(pbx: Pbx, chan: Channel, cause: int = 16) -> None:
    """The phone hangs up: ``HangupRequest``, then the channel goes as a party whose peer left."""
    if not chan.alive:
        return
    pbx.emit("HangupRequest", ev.CALL, ev.with_cause(chan, cause))
    if chan.bridge is not None:
        pbx.put_out(chan, cause)
        pbx.settle()
    else:
        pbx.hangup(chan, cause, soft=chan.runs_pbx)


async def dial_pjsip(
    pbx: Pbx,
    chan: Channel,
    target: str,
    ring_for: float | None,
    *,
    rng: random.Random,
    created: Callable[[Channel], None] | None = None,
) -> str:
    """``Dial(PJSIP/<endpoint>)`` or ``Dial(PJSIP/<number>@<endpoint>)`` from ``chan``, as app_dial does; on
    answer the two are bridged. Returns DIALSTATUS (ANSWER, BUSY, CONGESTION, NOANSWER, CANCEL, CHANUNAVAIL)."""
    parsed = parse_pjsip(target)
    endpoint = pbx.pjsip.endpoint(parsed[0]) if parsed is not None else None
    if parsed is None or endpoint is None or not pbx.pjsip.reachable(endpoint.name):
        return "CHANUNAVAIL"
    number = parsed[1]
    leg = PjsipLeg(pbx, endpoint, far_end(pbx, endpoint, number, rng), chan, linkedid=chan.linkedid)
    callee = _announce(pbx, chan, leg.chan, f"{number}@{endpoint.name}" if number else endpoint.name)
    records = [r for r in chan.cdrs if r.follow]
    for record in records:
        record.dest_channel = callee.name
    if created is not None:
        created(callee)
    chan.dialing = leg
    leg.begin(f"{number}@{endpoint.name}" if number else endpoint.name)
    chan.connected_num, chan.connected_name = callee.caller_num, callee.caller_name  # app_dial's update
    pbx.emit("NewConnectedLine", ev.CALL, ev.channel_fields(chan))
    what = await leg.wait(ring_for)
    chan.dialing = None
    if what == "answer" and callee.alive:
        callee.exten = ""
        leg.end("ANSWER")
        pbx.newexten(callee, 1, "AppDial", "(Outgoing Line)")
        if chan.state != State.UP:
            pbx.pjsip.set_state(chan, State.UP)
            pbx.indicate(chan, Indication.ANSWER)
        bridge = pbx.bridge(callee, chan)
        bridge.technology = "native_rtp"  # both legs carry RTP: the smart bridge switches at once, silently
        return "ANSWER"
    if what == "gone" or not callee.alive:
        return "CANCEL"
    cause, _, status = leg.rejection if what == "rejected" else (19, 0, "NOANSWER")
    leg.drop(status, cause)
    if what == "rejected":
        chan.hangup_cause, chan.tech_cause = cause, callee.tech_cause
        chan.set_var("HANGUPCAUSE", str(cause))
    _split_cdrs(pbx, chan, records, CDR_DISPOSITION[status])
    return status


def _announce(pbx: Pbx, caller: Channel, callee: Channel, peer: str) -> Channel:
    """The callee's Newchannel, its inherited variables and caller ids, as app_dial sets them up."""
    pbx.register(callee)
    for name, value in caller.inheritable():
        callee.set_var(name, value)
    pbx.set_var(callee, "DIALEDPEERNUMBER", peer)
    callee.exten = caller.exten  # app_dial: the callee takes the caller's extension, also as its caller id
    callee.caller_num, callee.caller_name = caller.exten, caller.caller_name
    pbx.newexten(callee, 1, "AppDial", "(Outgoing Line)")
    callee.connected_num, callee.connected_name = caller.caller_num, caller.caller_name
    return callee


def _split_cdrs(pbx: Pbx, chan: Channel, records: list[ev.Cdr], disposition: str) -> None:
    """The Dial did not connect: its records end now with the Dial's outcome, a new one covers what follows."""
    now = pbx.clock.now()
    for record in records:
        record.follow = False
        record.destination, record.dest_context = chan.exten, chan.context
        record.last_app, record.last_data = chan.app, chan.appdata
        record.end, record.dial_disposition = now, disposition
    if records:
        chan.cdrs.append(ev.Cdr(chan, now, answer=now if chan.state == State.UP else None))
