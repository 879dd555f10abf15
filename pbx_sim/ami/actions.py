"""The AMI actions the simulator answers, in one table, and the session actions (Login, Logoff, Challenge,
Ping, Events) with Asterisk 22's wording.

Each handler gets the session and the message and returns False when the session must end (Logoff, a failed
Login). Texts and field orders follow manager.c and the capture fixtures. Actions on calls and channels live in
:mod:`pbx_sim.ami.channel_actions`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pbx_sim.ami import channel_actions as ca
from pbx_sim.ami import dtmf_actions as da
from pbx_sim.ami import monitor_actions as ma
from pbx_sim.ami import pjsip_actions as pa
from pbx_sim.ami import queue_actions as qa
from pbx_sim.ami import transfer_actions as ta
from pbx_sim.ami.protocol import Message
from pbx_sim.core import events as ev

if TYPE_CHECKING:
    from pbx_sim.ami.server import AmiSession

Handler = Callable[["AmiSession", Message], Awaitable[bool]]

TRUE = ("yes", "true", "y", "t", "1", "on")
FALSE = ("no", "false", "n", "f", "0", "off")


def event_mask(text: str) -> int:
    """manager.c strings_to_mask: -1 for an empty mask, a number, on/off, or a list of class names."""
    text = text.strip()
    if not text:
        return -1
    if text.isdigit():
        return int(text)
    if text.lower() in FALSE:
        return 0
    if text.lower() in TRUE:
        return ev.ALL_EVENTS
    mask = 0
    for label in (part.strip().lower() for part in text.split(",")):
        if label == "all":
            mask |= ev.ALL_EVENTS
        else:
            mask |= ev.PERMS.get(label, 0)
    return mask


# ------------------------------------------------------------------ session
async def action_login(s: AmiSession, msg: Message) -> bool:
    if s.authenticated:
        s.ack(msg, "Already authenticated")
        return True
    username = msg.get("Username")
    secret = s.server.users.get(username)
    if msg.get("AuthType").lower() == "md5":
        key = msg.get("Key")
        expected = hashlib.md5((s.challenge + (secret or "")).encode(), usedforsecurity=False).hexdigest()
        ok = secret is not None and bool(s.challenge) and key.lower() == expected
    else:
        ok = secret is not None and msg.get("Secret") == secret
    if not ok:
        await s.pbx.clock.sleep(1.0)  # manager.c sleeps one second before refusing
        s.error(msg, "Authentication failed")
        return False
    s.authenticated = True
    s.username = username
    mask = event_mask(msg.get("Events"))
    if mask >= 0:
        s.send_events = mask
    s.ack(msg, "Authentication accepted")
    uptime = str(int(s.pbx.clock.now() - s.pbx.started))
    if s.send_events & ev.SYSTEM.bit:
        s.send_fields(
            [
                ("Event", "FullyBooted"),
                ("Privilege", ev.SYSTEM.privilege),
                ("Uptime", uptime),
                ("LastReload", uptime),
                ("Status", "Fully Booted"),
            ]
        )
    s.pbx.hub.subscribers.add(s)
    now = s.pbx.clock.now()
    s.pbx.emit(
        "SuccessfulAuth",
        ev.SECURITY,
        [
            ("EventTV", ev.iso_tv(now)),
            ("Severity", "Informational"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("AccountID", username),
            ("SessionID", s.session_id),
            ("LocalAddress", s.local),
            ("RemoteAddress", s.remote),
            ("UsingPassword", "0"),
            ("SessionTV", ev.iso_tv(s.connected_at)),
        ],
    )
    return True


async def action_challenge(s: AmiSession, msg: Message) -> bool:
    if msg.get("AuthType").lower() != "md5":
        s.error(msg, "Must specify AuthType")
        return True
    if not s.challenge:
        s.challenge = str(secrets.randbelow(2**31))
    s.respond(msg, "Success", [("Challenge", s.challenge)])
    return True


async def action_logoff(s: AmiSession, msg: Message) -> bool:
    s.respond(msg, "Goodbye", [("Message", "Thanks for all the fish.")])
    return False


async def action_ping(s: AmiSession, msg: Message) -> bool:
    s.respond(msg, "Success", [("Ping", "Pong"), ("Timestamp", f"{s.pbx.clock.now():.6f}")])
    return True


async def action_events(s: AmiSession, msg: Message) -> bool:
    mask = event_mask(msg.get("EventMask"))
    if mask < 0:
        s.error(msg, "Invalid event mask")
        return True
    s.send_events = mask
    s.respond(msg, "Success", [("Events", "On" if mask else "Off")])
    return True


ACTIONS: dict[str, Handler] = {
    "login": action_login,
    "logoff": action_logoff,
    "challenge": action_challenge,
    "ping": action_ping,
    "events": action_events,
    "originate": ca.action_originate,
    "hangup": ca.action_hangup,
    "getvar": ca.action_getvar,
    "setvar": ca.action_setvar,
    "status": ca.action_status,
    "coreshowchannels": ca.action_coreshowchannels,
    "queueadd": qa.action_queueadd,
    "queueremove": qa.action_queueremove,
    "queuepause": qa.action_queuepause,
    "queuestatus": qa.action_queuestatus,
    "queuesummary": qa.action_queuesummary,
    "mixmonitor": ma.action_mixmonitor,
    "stopmixmonitor": ma.action_stopmixmonitor,
    "redirect": ta.action_redirect,
    "atxfer": ta.action_atxfer,
    "pjsipshowendpoints": pa.action_pjsipshowendpoints,
    "pjsipshowcontacts": pa.action_pjsipshowcontacts,
    "playdtmf": da.action_playdtmf,
}
