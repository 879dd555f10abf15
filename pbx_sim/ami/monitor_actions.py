"""AMI MixMonitor and StopMixMonitor (app_mixmonitor's manager_mixmonitor / manager_stop_mixmonitor).

As in ami-mixmonitor-action: the MixMonitor reply is a bare ``Response: Success`` that carries ``MixMonitorID``
only when the options hold ``i(<var>)``; StopMixMonitor answers a bare Success, or ``Could not stop
monitoring channel`` when nothing records; an unknown channel is ``No such channel``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pbx_sim.ami.protocol import Message
from pbx_sim.core import mixmonitor

if TYPE_CHECKING:
    from pbx_sim.ami.server import AmiSession


async def action_mixmonitor(s: AmiSession, msg: Message) -> bool:
    name = msg.get("Channel")
    if not name:
        s.error(msg, "No channel specified")
        return True
    chan = s.pbx.find(name)
    if chan is None:
        s.error(msg, "No such channel")
        return True
    options = msg.get("Options")
    rec = mixmonitor.start(s.pbx, chan, msg.get("File"), options)
    if rec is None:
        s.error(msg, "Could not start monitoring channel")
        return True
    with_id = bool(mixmonitor.parse_options(options).get("i"))
    s.respond(msg, "Success", [("MixMonitorID", rec.ident)] if with_id else [])
    return True


async def action_stopmixmonitor(s: AmiSession, msg: Message) -> bool:
    name = msg.get("Channel")
    if not name:
        s.error(msg, "No channel specified")
        return True
    chan = s.pbx.find(name)
    if chan is None:
        s.error(msg, "No such channel")
        return True
    if not mixmonitor.stop(s.pbx, chan, msg.get("MixMonitorID")):
        s.error(msg, "Could not stop monitoring channel")
        return True
    s.respond(msg, "Success")
    return True
