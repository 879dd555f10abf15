"""Originate with ``Application``/``Data``: once answered, the originated channel runs that one application.

As ast_pbx_outgoing_app in ami-chanspy-listen-whisper-barge (``Originate Local/supervisor@sim Application=ChanSpy``):
the call is placed as any Originate (:class:`pbx_sim.core.calls.Originate`), but the ``OriginateResponse`` names
``Application`` and ``Data`` where a dialplan Originate names ``Context`` and ``Exten``, and the answered ``;1``
runs the application outside the dialplan: no ``Newexten``, and no ``SoftHangupRequest`` when its far end hangs
up (only ``HangupRequest``, then its ``Hangup``). Its CDR's last application is that application.
"""

from __future__ import annotations

from pbx_sim.core import events as ev
from pbx_sim.core.calls import Originate, OriginateRequest, OriginateResult
from pbx_sim.core.channels import Channel
from pbx_sim.core.dialplan import APPS
from pbx_sim.core.pbx import Pbx


class AppOriginate(Originate):
    async def run(self, *, report: bool = True) -> OriginateResult:
        result = await super().run(report=False)
        if report:
            req = self.req
            head = [("ActionID", req.action_id)] if req.action_id else []
            self.pbx.emit(
                "OriginateResponse",
                ev.CALL,
                [
                    *head,
                    ("Response", result.response),
                    ("Channel", result.channel),
                    ("Application", req.application),
                    ("Data", req.data),
                    ("Reason", str(result.reason)),
                    ("Uniqueid", result.uniqueid),
                    ("CallerIDNum", self.cid_num),
                    ("CallerIDName", self.cid_name),
                ],
            )
        return result

    async def _after_answer(self, one: Channel) -> None:
        pbx, req = self.pbx, self.req
        one.app, one.appdata = req.application, req.data
        impl = pbx.apps.get(req.application.lower()) or APPS.get(req.application.lower())
        if impl is not None:
            await impl(pbx, one, req.data)
        if one.alive:
            pbx.hangup(one, 16)


async def originate_app(pbx: Pbx, request: OriginateRequest, *, report: bool = True) -> OriginateResult:
    return await AppOriginate(pbx, request).run(report=report)
