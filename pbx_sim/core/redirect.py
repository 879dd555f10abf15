"""AMI Redirect (a blind transfer): the channel leaves what it was doing and runs another place of the dialplan.

As in ami-hangup-redirect part B: the channel's location changes at once (``Newexten`` of the new place with the
old application), it leaves its bridge (the other party of a two-party bridge is hung up), its CDR is closed
(keeping its last application, e.g. Queue, and the new destination) and a new CDR starts, answered; then the
dialplan runs from the given priority. A queue caller redirected away from its agent gets its AgentComplete only
when it finally hangs up (see :mod:`pbx_sim.core.queue_app`).
"""

from __future__ import annotations

from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel
from pbx_sim.core.dialplan import run_steps
from pbx_sim.core.pbx import Pbx


def redirect(pbx: Pbx, chan: Channel, context: str, exten: str, priority: int) -> None:
    """ast_async_goto of ``chan`` to ``context,exten,priority``."""
    now = pbx.clock.now()
    runner = chan.runner
    chan.runner = None
    if runner is not None:
        runner.cancel()
    if chan.dialing is not None:  # waiting in a queue or dialling: that ends as on a hangup
        chan.dialing.cancel(16)
        chan.dialing = None
    chan.context, chan.exten, chan.priority = context, exten, priority
    pbx.emit("Newexten", ev.DIALPLAN, ev.newexten(chan))
    pbx.leave_bridge(chan)
    if not chan.alive:
        return
    for record in chan.cdrs:
        if record.follow and record.end is None:
            record.follow = False
            record.destination, record.dest_context = exten, context
            record.last_app, record.last_data = chan.app, chan.appdata
            record.end = now
    chan.cdrs.append(ev.Cdr(chan, now, answer=now if chan.answered_at is not None else None))
    ext = pbx.world.extension(context, exten)
    if ext is None:
        pbx.hangup(chan, 16)  # no such extension: the PBX hangs the channel up
        return
    chan.runner = pbx.spawn(
        run_steps(pbx, chan, context, exten, ext.steps, ext.defaults, start=priority), f"redirected {chan.name}"
    )
