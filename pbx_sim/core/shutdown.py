"""``core stop now``: how Asterisk hangs every channel up before it goes down, as in ami-reconnect.

``ast_softhangup_all()`` sends ``SoftHangupRequest`` with Cause 4 (``AST_SOFTHANGUP_SHUTDOWN``, a flag, not a
Q.850 cause) to every channel at once. Then each channel's thread notices, and the capture shows who is quicker:

1. A channel that runs dialplan inside a bridge (the ``;2`` whose Dial bridged the customer) leaves the bridge at
   once: ``BridgeLeave``, ``SoftHangupRequest`` 16, ``HangupRequest`` on its Local partner, ``Hangup`` 16.
2. A channel in an application outside a bridge (Playback, Wait, a ringing Dial, a Queue) returns from it a
   moment later: its dialplan is over (``SoftHangupRequest`` 16), but its ``Hangup`` comes only once its Local
   partner has gone, with Cause 0 (nobody set one: the customer's ``;2`` in ami-reconnect). A channel whose
   partner went in step 1 has its ``HangupRequest`` first and ends as any hung-up partner does (Cause 16).
3. Then everything reacts as to any hangup: the other party of each bridge is put out, partners follow.
"""

from __future__ import annotations

from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel
from pbx_sim.core.pbx import Pbx

SOFTHANGUP_SHUTDOWN = 4  # AST_SOFTHANGUP_SHUTDOWN
NORMAL_CLEARING = 16


def softhangup_all(pbx: Pbx) -> bool:
    """Hang every channel up as ``core stop now`` does; False if there was none."""
    chans = pbx.channels()
    for chan in chans:
        pbx.emit("SoftHangupRequest", ev.CALL, ev.with_cause(chan, SOFTHANGUP_SHUTDOWN))
    for chan in chans:
        if chan.alive and chan.runs_pbx and chan.bridge is not None:
            pbx.put_out(chan, NORMAL_CLEARING)
    for chan in chans:
        partner_gone = chan.partner is not None and not chan.partner.alive
        if chan.alive and chan.runs_pbx and chan.bridge is None and not partner_gone:
            _dialplan_interrupted(pbx, chan)
    pbx.settle()
    for chan in pbx.channels():  # a channel nobody hangs up (no partner left to do it)
        pbx.hangup(chan, NORMAL_CLEARING, soft=False)
    return bool(chans)


def _dialplan_interrupted(pbx: Pbx, chan: Channel) -> None:
    """The application ``chan`` runs returns and its dialplan ends; the channel waits to be hung up."""
    pbx.emit("SoftHangupRequest", ev.CALL, ev.with_cause(chan, NORMAL_CLEARING))
    if chan.dialing is not None:
        chan.dialing.cancel(NORMAL_CLEARING)
    if chan.runner is not None:
        chan.runner.cancel()
    chan.runs_pbx = False
    if chan.hangup_cause is None:
        chan.hangup_cause = 0
