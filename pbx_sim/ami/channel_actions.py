"""AMI actions on calls and channels: Originate, Hangup, Getvar, Setvar, Status, CoreShowChannels.

Wording and field order follow manager.c and the capture fixtures (ami-originate-*, ami-core-show-channels,
ami-hangup-redirect).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pbx_sim.ami.protocol import Fields, Message
from pbx_sim.core import events as ev
from pbx_sim.core.app_originate import originate_app
from pbx_sim.core.calls import OriginateRequest, OriginateResult, originate
from pbx_sim.core.channels import Channel
from pbx_sim.core.pjsip_originate import originate_pjsip

if TYPE_CHECKING:
    from pbx_sim.ami.server import AmiSession

TRUE = ("yes", "true", "y", "t", "1", "on")
MAX_UNIQUEID = 149  # AST_MAX_PUBLIC_UNIQUEID


def _variables(msg: Message) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for header in msg.get_all("Variable"):
        for item in header.split(","):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                out.append((name.strip(), value))
    return out


async def action_originate(s: AmiSession, msg: Message) -> bool:
    channel = msg.get("Channel")
    if not channel:
        s.error(msg, "Channel not specified")
        return True
    priority_text = msg.get("Priority")
    if priority_text and not priority_text.lstrip("-").isdigit():
        s.error(msg, "Invalid priority")
        return True
    timeout_text = msg.get("Timeout")
    if timeout_text and not timeout_text.lstrip("-").isdigit():
        s.error(msg, "Invalid timeout")
        return True
    if "/" not in channel:
        s.error(msg, "Invalid channel")
        return True
    ids = (msg.get("ChannelId"), msg.get("OtherChannelId"))
    if any(len(i) > MAX_UNIQUEID for i in ids):
        s.error(msg, f"Uniqueid length exceeds maximum of {MAX_UNIQUEID}")
        return True
    request = OriginateRequest(
        channel=channel,
        action_id=msg.action_id,
        context=msg.get("Context") or "default",
        exten=msg.get("Exten") or "s",
        priority=max(1, int(priority_text)) if priority_text else 1,
        application=msg.get("Application"),
        data=msg.get("Data"),
        caller_id=msg.get("CallerID"),
        timeout_ms=int(timeout_text) if timeout_text else 30000,
        variables=_variables(msg),
        channel_id=ids[0],
        other_channel_id=ids[1],
        account=msg.get("Account"),
    )
    if msg.get("Async").lower() in TRUE:
        s.ack(msg, "Originate successfully queued")
        s.pbx.spawn(_originate_async(s, request), f"originate {channel}")
        return True
    result = await _placer(request)(s.pbx, request, report=False)
    if result.response == "Success":
        s.ack(msg, "Originate successfully queued")
    else:
        s.error(msg, "Originate failed")
    return True


async def _originate_async(s: AmiSession, request: OriginateRequest) -> None:
    await _placer(request)(s.pbx, request)  # reports with an OriginateResponse event


def _placer(request: OriginateRequest) -> Callable[..., Awaitable[OriginateResult]]:
    """Who places the call: chan_pjsip for ``PJSIP/...``, else the Local channel driver (with Application: the
    answered channel runs that application, ami-chanspy-listen-whisper-barge)."""
    if request.channel.upper().startswith("PJSIP/"):
        return originate_pjsip
    return originate_app if request.application else originate


def _channel(s: AmiSession, msg: Message) -> tuple[bool, Channel | None]:
    """The channel named by ``Channel:``; (False, None) after answering ``No such channel``."""
    name = msg.get("Channel")
    if not name:
        return True, None
    chan = s.pbx.find(name)
    if chan is None:
        s.error(msg, "No such channel")
        return False, None
    return True, chan


async def action_hangup(s: AmiSession, msg: Message) -> bool:
    if not msg.get("Channel"):
        s.error(msg, "No channel specified")
        return True
    found, chan = _channel(s, msg)
    if not found or chan is None:
        return True
    cause_text = msg.get("Cause")
    cause = int(cause_text) if cause_text.isdigit() else 16
    s.ack(msg, "Channel Hungup")
    s.pbx.hangup(chan, cause, soft=True)
    return True


def read_function(chan: Channel | None, expr: str) -> str:
    name, _, arg = expr[:-1].partition("(")
    name, arg = name.strip().upper(), arg.strip().lower()
    if chan is None:
        return ""
    if name == "CHANNEL":
        return {
            "state": chan.state_desc,
            "name": chan.name,
            "uniqueid": chan.uniqueid,
            "linkedid": chan.linkedid,
            "channeltype": chan.tech,
            "language": chan.language,
            "context": chan.context,
            "exten": chan.exten,
        }.get(arg, "")
    if name in ("CALLERID", "CONNECTEDLINE"):
        num, cname = (
            (chan.caller_num, chan.caller_name) if name == "CALLERID" else (chan.connected_num, chan.connected_name)
        )
        return {"num": num, "name": cname, "all": ev.caller_id(cname, num)}.get(arg, "")
    return ""


BUILTIN: dict[str, Callable[[Channel], str]] = {
    "CHANNEL": lambda c: c.name,
    "UNIQUEID": lambda c: c.uniqueid,
    "CONTEXT": lambda c: c.context,
    "EXTEN": lambda c: c.exten,
    "PRIORITY": lambda c: str(c.priority),
}


async def action_getvar(s: AmiSession, msg: Message) -> bool:
    variable = msg.get("Variable")
    if not variable:
        s.error(msg, "No variable specified")
        return True
    found, chan = _channel(s, msg)
    if not found:
        return True
    if variable.endswith(")"):
        value = read_function(chan, variable)
    elif chan is not None and chan.get_var(variable) is None and variable.upper() in BUILTIN:
        value = BUILTIN[variable.upper()](chan)
    else:
        value = s.pbx.get_var(chan, variable)
    s.respond(msg, "Success", [("Variable", variable), ("Value", value)])
    return True


async def action_setvar(s: AmiSession, msg: Message) -> bool:
    variable = msg.get("Variable")
    if not variable:
        s.error(msg, "No variable specified")
        return True
    found, chan = _channel(s, msg)
    if not found:
        return True
    s.ack(msg, "Variable Set")
    s.pbx.set_var(chan, variable, msg.get("Value"))
    return True


# --------------------------------------------------------------------- lists
def _list_tail(msg: Message, event: str, count: int, *, items: bool = False) -> Fields:
    fields: Fields = [("Event", event)]
    if msg.action_id:
        fields.append(("ActionID", msg.action_id))
    fields += [("EventList", "Complete"), ("ListItems", str(count))]
    if items:
        fields.append(("Items", str(count)))
    return fields


def _hms(seconds: float) -> str:
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


async def action_coreshowchannels(s: AmiSession, msg: Message) -> bool:
    s.list_ack(msg, "Channels will follow")
    now = s.pbx.clock.now()
    chans = s.pbx.channels()
    for chan in chans:
        head: Fields = [("Event", "CoreShowChannel")]
        if msg.action_id:
            head.append(("ActionID", msg.action_id))
        s.send_fields(
            [
                *head,
                *ev.channel_fields(chan),
                ("Application", chan.app),
                ("ApplicationData", chan.appdata),
                ("Duration", _hms(now - chan.created)),
                ("BridgeId", chan.bridge.uniqueid if chan.bridge else ""),
            ]
        )
    s.send_fields(_list_tail(msg, "CoreShowChannelsComplete", len(chans)))
    return True


async def action_status(s: AmiSession, msg: Message) -> bool:
    found, chan = _channel(s, msg)
    if not found:
        return True
    chans = [chan] if chan is not None else s.pbx.channels()
    s.list_ack(msg, "Channel status will follow")
    now = s.pbx.clock.now()
    for c in chans:
        tail: Fields = [("ActionID", msg.action_id)] if msg.action_id else []
        s.send_fields(
            [
                ("Event", "Status"),
                ("Privilege", "Call"),
                *ev.channel_fields(c),
                ("Type", c.tech),
                ("DNID", ""),
                ("EffectiveConnectedLineNum", c.connected_num),
                ("EffectiveConnectedLineName", c.connected_name),
                ("TimeToHangup", "0"),
                ("BridgeID", c.bridge.uniqueid if c.bridge else ""),
                ("Application", c.app),
                ("Data", c.appdata),
                ("Nativeformats", "(slin)"),
                ("Readformat", "slin"),
                ("Readtrans", ""),
                ("Writeformat", "slin"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(int(now - c.created))),
                *tail,
            ]
        )
    s.send_fields(_list_tail(msg, "StatusComplete", len(chans), items=True))
    return True
