"""Originate of a PJSIP channel: ``Originate Channel=PJSIP/agent-sipp`` rings the agent's phone first (the
click-to-dial of ami-pjsip-originate-agent-customer), or ``PJSIP/<number>@<trunk>`` a customer.

The channel (``PJSIP/agent-sipp-00000000``, in the endpoint's context at ``s``) gets ``DialBegin`` /
``DialState`` / ``DialEnd`` with only the Dest* fields, as an originated Local ``;1`` does; once the phone
answers, ``OriginateResponse`` (Reason 4, Channel = the real name) comes at once and the channel runs the
Context/Exten/Priority (or Application) the Originate asked for, which then dials the customer. A phone that
rejects the call fails the Originate with Reason 5 (busy) or 8 (congestion), one that rings past ``Timeout``
with Reason 3; an endpoint that is unknown or has no contact (not registered) fails it with Reason 0 and no
channel at all, as chan_pjsip refuses to create one.
"""

from __future__ import annotations

from pbx_sim.core import events as ev
from pbx_sim.core.calls import (
    REASON_ANSWERED,
    REASON_BUSY,
    REASON_CONGESTION,
    REASON_FAILED,
    REASON_HANGUP,
    REASON_NO_ANSWER,
    Originate,
    OriginateRequest,
    OriginateResult,
)
from pbx_sim.core.dial import phone_rng
from pbx_sim.core.pbx import Pbx
from pbx_sim.core.pjsip_calls import PjsipLeg, far_end, parse_pjsip

# A rejection's DIALSTATUS -> OriginateResponse Reason (the last control frame: busy or congestion).
REJECTED = {"BUSY": REASON_BUSY, "CONGESTION": REASON_CONGESTION, "CHANUNAVAIL": REASON_CONGESTION}


class PjsipOriginate(Originate):
    """One Originate of ``PJSIP/<endpoint>`` or ``PJSIP/<number>@<endpoint>``."""

    async def _run(self) -> OriginateResult:
        pbx, req = self.pbx, self.req
        unknown = req.channel_id or "<unknown>"
        parsed = parse_pjsip(req.channel)
        endpoint = pbx.pjsip.endpoint(parsed[0]) if parsed is not None else None
        if parsed is None or endpoint is None or not pbx.pjsip.reachable(endpoint.name):
            return self._failure(REASON_FAILED, unknown)
        for wanted in (req.channel_id, req.other_channel_id):
            if wanted and pbx.table.uniqueid_in_use(wanted):
                return self._failure(REASON_FAILED, wanted)
        number = parsed[1]
        behaviour = far_end(pbx, endpoint, number, phone_rng(pbx, req.channel))
        leg = PjsipLeg(pbx, endpoint, behaviour, None, uniqueid=req.channel_id)
        chan = leg.chan
        chan.accountcode = req.account
        pbx.register(chan)
        pbx.newexten(chan, 1, "AppDial2", "(Outgoing Line)")
        for name, value in reversed(req.variables):
            pbx.set_var(chan, name, value)
        chan.caller_num, chan.caller_name = self.cid_num, self.cid_name
        chan.connected_num, chan.connected_name = self.cid_num, self.cid_name
        record = ev.Cdr(chan, chan.created)
        chan.cdrs.append(record)
        leg.begin(req.channel.split("/", 1)[1])
        what = await leg.wait(req.timeout_ms / 1000)
        if what == "answer" and chan.alive:
            leg.end("ANSWER")
            chan.runner = pbx.spawn(self._after_answer(chan), f"originated {chan.name}")
            return OriginateResult("Success", REASON_ANSWERED, chan.name, chan.uniqueid)
        if what == "rejected":
            cause, _, status = leg.rejection
            record.disposition = "BUSY" if status == "BUSY" else "FAILED"
            leg.drop(status, cause)
            return self._failure(REJECTED[status], unknown)
        if chan.alive:  # rang until Timeout: the INVITE is cancelled
            pbx.hangup(chan, 19, soft=False)
        return self._failure(REASON_NO_ANSWER if what == "timeout" else REASON_HANGUP, unknown)


async def originate_pjsip(pbx: Pbx, request: OriginateRequest, *, report: bool = True) -> OriginateResult:
    return await PjsipOriginate(pbx, request).run(report=report)
