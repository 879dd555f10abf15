"""A dialer call, as the capture fixtures place it: ``Originate Local/<number>@outbound``.

``;1`` of that Local pair is what the Originate waits on; ``;2`` runs ``[outbound]``, which Dials
``Local/<number>@sim``; the ``;2`` of that second pair plays the customer (its behaviour comes from the world).
Once the customer answers, the outbound ``;2`` and the customer ``;1`` are bridged, the Originate reports
success and the first ``;1`` runs the Context/Exten/Priority the Originate asked for. An Originate of another
Local channel has its ``;2`` run what the world has there (a customer, an agent's phone, an extension), as
``Local/ivrcaller@sim`` in agi-ivr-menu.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel, Indication, State
from pbx_sim.core.dial import dial
from pbx_sim.core.dialplan import fmt_seconds, run_steps
from pbx_sim.core.pbx import Pbx
from pbx_sim.core.phones import reachable, script
from pbx_sim.world import call_rng

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
        if match is None or not self._placeable(match.group(1), match.group(2)):
            return self._failure(REASON_FAILED, unknown)
        for wanted in (req.channel_id, req.other_channel_id):
            if wanted and pbx.table.uniqueid_in_use(wanted):
                return self._failure(REASON_FAILED, wanted)
        number, context, options = match.group(1), match.group(2), match.group(3) or ""
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
        pbx.emit("LocalBridge", ev.CALL, ev.local_bridge(one, two, context, number, "n" not in options))
        pbx.emit("DialBegin", ev.CALL, ev.dial(None, one, [("DialString", f"{number}@{context}{options}")]))
        record = ev.Cdr(one, one.created)
        one.cdrs.append(record)
        one.listener = self
        if context == pbx.world.outbound_context:
            leg = OutboundLeg(pbx, two, number, call_number)
            two.runner = pbx.spawn(leg.run(), f"outbound {two.name}")
        else:
            two.runner = pbx.spawn(self._callee(two, number, context, call_number), f"originated {two.name}")
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

    def _placeable(self, exten: str, context: str) -> bool:
        """``Local/<exten>@<context>`` exists: the dialer's outbound context, or something of the world."""
        return context == self.pbx.world.outbound_context or reachable(self.pbx.world, exten, context)

    async def _callee(self, two: Channel, exten: str, context: str, call_number: int) -> None:
        """``;2`` of an Originate of another Local channel runs what the world has at ``exten@context``."""
        pbx = self.pbx
        plan = script(pbx.world, two, exten, context, call_rng(pbx.seed, call_number))
        if plan is None:  # the world changed under us: nothing answers
            return
        two.cdrs.append(ev.Cdr(two, two.created, disposition=plan.disposition))
        await run_steps(pbx, two, context, exten, plan.steps, plan.defaults)

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

    async def run(self) -> None:
        pbx, chan, number = self.pbx, self.chan, self.number
        world = pbx.world
        chan.runs_pbx = True
        pbx.newexten(chan, 1, "NoOp", f"outbound simulated call to {number}")
        target = f"Local/{number}@{world.customer_context}"
        pbx.newexten(chan, 2, "Dial", f"{target},{fmt_seconds(world.dial_timeout)}")
        pbx.set_var(chan, "DIALSTATUS", "")
        logged = pbx.customer_log.started(number, pbx.clock.now())
        chan.on_hangup.append(lambda _chan: pbx.customer_log.ended(logged, pbx.clock.now()))
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
        record = ev.Cdr(
            chan,
            chan.created,
            follow=False,
            destination=number,
            dest_context=chan.context,
            last_app="Dial",
            last_data=f"{target},{fmt_seconds(world.dial_timeout)}",
        )

        def created(callee: Channel) -> None:
            record.dest_channel = callee.name
            chan.cdrs.append(record)

        rng = call_rng(pbx.seed, self.call_number)
        status = await dial(pbx, chan, target, world.dial_timeout, rng=rng, created=created)
        if status == "ANSWER":
            record.answer = pbx.clock.now()
        else:
            record.disposition = {"BUSY": "BUSY", "CONGESTION": "FAILED"}.get(status, "NO ANSWER")
        return status


async def originate(pbx: Pbx, request: OriginateRequest, *, report: bool = True) -> OriginateResult:
    return await Originate(pbx, request).run(report=report)
