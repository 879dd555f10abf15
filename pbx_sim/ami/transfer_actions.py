"""AMI Redirect and Atxfer (manager.c action_redirect / action_atxfer), worded as Asterisk 22.

Atxfer needs an attended-transfer feature code (features.conf ``[featuremap] atxfer``, the world's ``[features]
atxfer``). Without one, as Asterisk 22 with the default features.conf, it answers ``No attended transfer feature
code found`` (ami-hangup-redirect part C); with one it sets ``TRANSFER_CONTEXT`` (if a Context is given), queues
the code and the extension as keys on the channel and answers ``Atxfer successfully queued``: the transfer itself
is :mod:`pbx_sim.core.atxfer` (ami-atxfer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pbx_sim.ami.protocol import Message
from pbx_sim.core.atxfer import atxfer
from pbx_sim.core.redirect import redirect

if TYPE_CHECKING:
    from pbx_sim.ami.server import AmiSession


async def action_redirect(s: AmiSession, msg: Message) -> bool:
    name, context, exten, priority = msg.get("Channel"), msg.get("Context"), msg.get("Exten"), msg.get("Priority")
    for value, missing in ((name, "Channel"), (context, "Context"), (exten, "Exten"), (priority, "Priority")):
        if not value:
            s.error(msg, f"{missing} not specified")
            return True
    if not priority.strip().isdigit() or int(priority) < 1:
        s.error(msg, "Priority is invalid")
        return True
    chan = s.pbx.find(name)
    if chan is None:
        s.error(msg, f"Channel does not exist: {name}")
        return True
    s.ack(msg, "Redirect successful")
    redirect(s.pbx, chan, context, exten, int(priority))
    return True


async def action_atxfer(s: AmiSession, msg: Message) -> bool:
    name, exten, context = msg.get("Channel"), msg.get("Exten"), msg.get("Context")
    chan = s.pbx.find(name) if name else None
    code = s.pbx.world.features.get("atxfer", "")
    if not name:
        s.error(msg, "No channel specified")
    elif not exten:
        s.error(msg, "No extension specified")
    elif chan is None:
        s.error(msg, "Channel specified does not exist")
    elif not code:
        s.error(msg, "No attended transfer feature code found")
    else:
        if context:
            s.pbx.set_var(chan, "TRANSFER_CONTEXT", context)
        s.ack(msg, "Atxfer successfully queued")
        s.pbx.spawn(atxfer(s.pbx, chan, code, exten), f"atxfer {chan.name}")
    return True
