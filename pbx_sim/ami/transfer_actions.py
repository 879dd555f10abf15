"""AMI Redirect and Atxfer (manager.c action_redirect / action_atxfer), worded as Asterisk 22.

Atxfer needs an attended-transfer feature code (features.conf ``[featuremap] atxfer``); the simulated PBX has
none, as Asterisk 22 with the default features.conf (ami-hangup-redirect part C), so it answers
``No attended transfer feature code found``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pbx_sim.ami.protocol import Message
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
    if not msg.get("Channel"):
        s.error(msg, "No channel specified")
    elif not msg.get("Exten"):
        s.error(msg, "No extension specified")
    elif s.pbx.find(msg.get("Channel")) is None:
        s.error(msg, "Channel specified does not exist")
    else:
        s.error(msg, "No attended transfer feature code found")
    return True
