"""A dialer call, as the capture fixtures place it: ``Originate Local/<number>@outbound``.

``;1`` of that Local pair is what the Originate waits on; ``;2`` runs ``[outbound]``, which Dials
``Local/<number>@sim``; the ``;2`` of that second pair plays the customer (its behaviour comes from the world).
Once the customer answers, the outbound ``;2`` and the customer ``;1`` are bridged, the Originate reports
success and the first ``;1`` runs the Context/Exten/Priority the Originate asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field

from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel, Indication, State
from pbx_sim.core.dialplan import fmt_seconds, run_steps
from pbx_sim.core.pbx import Pbx
from pbx_sim.world import Behaviour, call_rng

# OriginateResponse Reason: the last control frame seen on the originated channel (ast_control_frame_type).
REASON_FAILED = 0
REASON_HANGUP = 1
REASON_NO_ANSWER = 3
REASON_ANSWERED = 4
REASON_BUSY = 5
REASON_CONGESTION = 8

LOCAL = re.compile(r"^Local/([^@/]+)@([^/]+?)(/[nmb]+)?$", re.I)


def parse_callerid(text: str) -> tuple[str, str]:
    """``"Name" <number>`` / ``Name <number>`` / ``number`` -> (name, number), as ast_callerid_parse."""
    text = text.strip()
    match = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    if re.fullmatch(r"[0-9+*#() -]+", text):
        return "", text
    return text, ""


@dataclass
class OriginateRequest:
    channel: str
    action_id: str = ""
    context: str = ""
    exten: str = ""
    priority: int = 1
    application: str = ""
    data: str = ""
    caller_id: str = ""
    timeout_ms: int = 30000
    variables: list[tuple[str, str]] = field(default_factory=list)
    channel_id: str = ""
    other_channel_id: str = ""
    account: str = ""


@dataclass(frozen=True)
class OriginateResult:
    response: str
    reason: int
    channel: str
    uniqueid: str


class Originate:
    """One Originate of a Local channel into the outbound context (it listens to that ``;1``)."""

    def __init__(self, pbx: Pbx, request: OriginateRequest) -> None:
        self.pbx = pbx
        self.req = request
        self._result: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        name, num = parse_callerid(request.caller_id)
        self.cid_name, self.cid_num = name or "<unknown>", num or "<unknown>"

    # Listener of ;1
    def on_indication(self, chan: Channel, what: str) -> None:
        if what == Indication.RINGING:
            self.pbx.emit("DialState", ev.CALL, ev.dial(None, chan, [("DialStatus", "RINGING")]))
        elif not self._result.done():
            self._result.set_result(what)

    def on_gone(self, chan: Channel, cause: int) -> None:
        if not self._result.done():
            self._result.set_result("gone")

    def _failure(self, reason: int, uniqueid: str) -> OriginateResult:
        return OriginateResult("Failure", reason, self.req.channel, uniqueid)

    async def run(self, *, report: bool = True) -> OriginateResult:
        result = await self._run()
        if report:
            req = self.req
            context, exten = (req.context, req.exten) if not req.application else ("", "")
            self.pbx.emit(
                "OriginateResponse",
                ev.CALL,
                ev.originate_response(
                    req.action_id,
                    result.response,
                    result.channel,
                    context,
                    exten,
                    result.reason,
                    result.uniqueid,
                    self.cid_num,
                    self.cid_name,
                ),
            )
        return result

    async def _run(self) -> OriginateResult:
        pbx, req = self.pbx, self.req
        unknown = req.channel_id or "<unknown>"
        match = LOCAL.match(req.channel)
        if match is None or match.group(2) != pbx.world.outbound_context:
            return self._failure(REASON_FAILED, unknown)
        for wanted in (req.channel_id, req.other_channel_id):
            if wanted and pbx.table.uniqueid_in_use(wanted):
                return self._failure(REASON_FAILED, wanted)
        number, context = match.group(1), match.group(2)
        pbx.calls_started += 1
        call_number = pbx.calls_started
        one, two = pbx.table.local_pair(
            number,
            context,
            pbx.clock.now(),
            ids=(req.channel_id or None, req.other_channel_id or None),
        )
        one.accountcode = two.accountcode = req.account
        pbx.register(one, two)
        pbx.newexten(one, 1, "AppDial2", "(Outgoing Line)")
        for name, value in reversed(req.variables):
            pbx.set_var(one, name, value)
        for chan in (one, two):
            chan.caller_num, chan.caller_name = self.cid_num, self.cid_name
            chan.connected_num, chan.connected_name = self.cid_num, self.cid_name
        for name, value in req.variables:
            pbx.set_var(two, name, value)
        pbx.emit("LocalBridge", ev.CALL, ev.local_bridge(one, two, context, number))
        pbx.emit("DialBegin", ev.CALL, ev.dial(None, one, [("DialString", f"{number}@{context}")]))
        record = ev.Cdr(one, one.created)
        one.cdrs.append(record)
        one.listener = self
        leg = OutboundLeg(pbx, two, number, call_number)
        two.runner = pbx.spawn(leg.run(), f"outbound {two.name}")
        try:
            what = await asyncio.wait_for(asyncio.shield(self._result), pbx.clock.real(req.timeout_ms / 1000))
        except TimeoutError:
            what = "timeout"
        one.listener = None
        if what == Indication.ANSWER and one.alive:
            pbx.emit("DialEnd", ev.CALL, ev.dial(None, one, [("DialStatus", "ANSWER")]))
            one.runner = pbx.spawn(self._after_answer(one), f"originated {one.name}")
            return OriginateResult("Success", REASON_ANSWERED, one.name, one.uniqueid)
        reason, status, disposition, cause = {
            Indication.BUSY: (REASON_BUSY, "BUSY", "BUSY", 0),
            Indication.CONGESTION: (REASON_CONGESTION, "CONGESTION", "FAILED", 0),
            "timeout": (REASON_NO_ANSWER, "", "NO ANSWER", 19),
        }.get(what, (REASON_HANGUP, "", "NO ANSWER", 16))
        record.disposition = disposition
        if status:
            pbx.emit("DialEnd", ev.CALL, ev.dial(None, one, [("DialStatus", status)]))
        pbx.hangup(one, cause, soft=False)
        return self._failure(reason, req.channel_id or "<unknown>")

    async def _after_answer(self, one: Channel) -> None:
        pbx, req = self.pbx, self.req
        one.runs_pbx = True
        if req.application:
            await run_steps(pbx, one, one.context, one.exten, [(req.application, req.data)])
            return
        ext = pbx.world.extension(req.context, req.exten)
        if ext is None:
            one.context, one.exten, one.priority = req.context, req.exten, req.priority
            pbx.hangup(one, 16)
            return
        await run_steps(pbx, one, req.context, req.exten, ext.steps, ext.defaults, start=req.priority)


class OutboundLeg:
    """``;2`` of the dialer's Local pair running ``[outbound]``: Dial the customer, report BUSY/CONGESTION."""

    def __init__(self, pbx: Pbx, chan: Channel, number: str, call_number: int) -> None:
        self.pbx = pbx
        self.chan = chan
        self.number = number
        self.call_number = call_number
        self.callee: Channel | None = None
        self._result: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._dial_cdr: ev.Cdr | None = None

    # Listener of the customer ;1
    def on_indication(self, chan: Channel, what: str) -> None:
        if what == Indication.RINGING:
            self.pbx.indicate(self.chan, Indication.RINGING)
            self.pbx.emit("DialState", ev.CALL, ev.dial(self.chan, chan, [("DialStatus", "RINGING")]))
        elif not self._result.done():
            self._result.set_result(what)

    def on_gone(self, chan: Channel, cause: int) -> None:
        if not self._result.done():
            self._result.set_result("gone")

    # Dialing on ;2: the caller hung up while the customer rang
    def cancel(self, cause: int) -> None:
        callee = self.callee
        self.chan.dialing = None
        if callee is None or not callee.alive:
            return
        callee.listener = None
        self._end_dial(callee, "CANCEL")
        self.pbx.hangup(callee, cause, soft=False, settle=False)

    def _end_dial(self, callee: Channel, status: str) -> None:
        if self._dial_cdr is not None and status != "ANSWER":
            self._dial_cdr.disposition = {"BUSY": "BUSY", "CONGESTION": "FAILED"}.get(status, "NO ANSWER")
        self.pbx.emit("DialEnd", ev.CALL, ev.dial(self.chan, callee, [("DialStatus", status)]))

    async def run(self) -> None:
        pbx, chan, number = self.pbx, self.chan, self.number
        world = pbx.world
        chan.runs_pbx = True
        pbx.newexten(chan, 1, "NoOp", f"outbound simulated call to {number}")
        target = f"Local/{number}@{world.customer_context}"
        pbx.newexten(chan, 2, "Dial", f"{target},{fmt_seconds(world.dial_timeout)}")
        pbx.set_var(chan, "DIALSTATUS", "")
        status = await self._dial(target)
        pbx.set_var(chan, "DIALSTATUS", status)
        if status == "ANSWER" or not chan.alive:
            return  # bridged with the customer: the hangup of either side ends this leg
        pbx.newexten(chan, 3, "NoOp", f"DIALSTATUS={status}")
        busy = status == "BUSY"
        pbx.newexten(chan, 4, "ExecIf", f"{int(busy)}?Busy(1)")
        congested = status in ("CONGESTION", "CHANUNAVAIL")
        if not busy:
            pbx.newexten(chan, 5, "ExecIf", f"{int(congested)}?Congestion(1)")
        if busy or congested:
            app, cause, what = ("Busy", 17, Indication.BUSY) if busy else ("Congestion", 34, Indication.CONGESTION)
            chan.app, chan.appdata = app, "1"
            chan.cdrs.append(ev.Cdr(chan, chan.created, disposition="BUSY" if busy else "FAILED"))
            pbx.new_state(chan, State.BUSY)
            chan.hangup_cause = cause
            pbx.indicate(chan, what)
            await pbx.clock.sleep(1)
            pbx.hangup(chan, cause)
            return
        pbx.newexten(chan, 6, "Hangup", "")
        pbx.hangup(chan, 16)

    async def _dial(self, target: str) -> str:
        pbx, chan, number = self.pbx, self.chan, self.number
        world = pbx.world
        behaviour = world.behaviour(number, call_rng(pbx.seed, self.call_number))
        if behaviour is None:
            return "CHANUNAVAIL"  # no such customer: Local/<number>@sim cannot be created
        one, two = pbx.table.local_pair(number, world.customer_context, pbx.clock.now(), linkedid=chan.linkedid)
        self.callee = one
        pbx.register(one, two)
        for name, value in chan.inheritable():
            one.set_var(name, value)
            two.set_var(name, value)
        one.caller_num, one.caller_name = number, chan.caller_name
        one.connected_num, one.connected_name = chan.caller_num, chan.caller_name
        pbx.newexten(one, 1, "AppDial", "(Outgoing Line)")
        two.caller_num, two.caller_name = chan.caller_num, chan.caller_name
        two.connected_num, two.connected_name = number, chan.caller_name
        pbx.emit("LocalBridge", ev.CALL, ev.local_bridge(one, two, world.customer_context, number))
        self._dial_cdr = ev.Cdr(
            chan,
            chan.created,
            follow=False,
            destination=number,
            dest_context=chan.context,
            dest_channel=one.name,
            last_app="Dial",
            last_data=f"{target},{fmt_seconds(world.dial_timeout)}",
        )
        chan.cdrs.append(self._dial_cdr)
        two.cdrs.append(ev.Cdr(two, two.created, disposition=_disposition(behaviour)))
        one.listener = self
        chan.dialing = self
        pbx.emit("DialBegin", ev.CALL, ev.dial(chan, one, [("DialString", f"{number}@{world.customer_context}")]))
        two.runner = pbx.spawn(
            run_steps(pbx, two, world.customer_context, number, customer_steps(pbx, two, number, behaviour)),
            f"customer {two.name}",
        )
        try:
            what = await asyncio.wait_for(asyncio.shield(self._result), pbx.clock.real(world.dial_timeout))
        except TimeoutError:
            what = "timeout"
        chan.dialing = None
        one.listener = None
        if not one.alive:
            return "CANCEL" if what == "gone" else "NOANSWER"
        if what == Indication.ANSWER:
            one.exten = ""
            self._end_dial(one, "ANSWER")
            self._dial_cdr.answer = pbx.clock.now()
            pbx.new_state(chan, State.UP)
            pbx.indicate(chan, Indication.ANSWER)
            pbx.bridge(one, chan)
            return "ANSWER"
        status = {Indication.BUSY: "BUSY", Indication.CONGESTION: "CONGESTION"}.get(what, "NOANSWER")
        self._end_dial(one, status)
        pbx.hangup(one, 19 if status == "NOANSWER" else 0, soft=False)
        return status


def _disposition(behaviour: Behaviour) -> str:
    return {"busy": "BUSY", "congestion": "FAILED"}.get(behaviour.outcome, "NO ANSWER")


def customer_steps(pbx: Pbx, chan: Channel, number: str, behaviour: Behaviour) -> list[tuple[str, str]]:
    """The dialplan the customer's ``;2`` runs, modelled on the fixtures' ``[sim]`` context."""
    if behaviour.outcome == "busy":
        return [("Busy", "3")]
    if behaviour.outcome == "congestion":
        return [("Congestion", "3")]
    if behaviour.outcome == "no_answer":
        return [("Ringing", ""), ("Wait", "120")]
    talk = behaviour.talk
    if behaviour.talk_variable:
        override = chan.get_var(behaviour.talk_variable)
        if override:
            with contextlib.suppress(ValueError):
                talk = float(override)
    steps = [("NoOp", f"sim customer {number}"), ("Ringing", ""), ("Wait", fmt_seconds(behaviour.ring))]
    steps.append(("Answer", ""))
    if behaviour.playback:
        steps.append(("Playback", behaviour.playback))
    steps += [("Wait", fmt_seconds(talk)), ("Hangup", "")]
    return steps


async def originate(pbx: Pbx, request: OriginateRequest, *, report: bool = True) -> OriginateResult:
    return await Originate(pbx, request).run(report=report)
