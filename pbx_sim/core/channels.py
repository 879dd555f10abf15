"""Channels, bridges and the table that names them as Asterisk does.

* Uniqueid is ``<epoch seconds>.<sequence>``, one sequence for every channel of the system (Asterisk's
  ``uniqueint``), also consumed by a channel whose Uniqueid the client chose with ``ChannelId``.
* Local channels come in pairs ``Local/<exten>@<context>-<8 hex digits>;1`` and ``;2``; one counter serves every
  pair. ``;1`` is the called side, ``;2`` runs the dialplan of ``exten@context``.
* Every channel of a call shares the Linkedid of the first one: the originated ``;1``.
* PJSIP channels are ``PJSIP/<endpoint>-<8 hex digits>``, one counter for all of them, no pairs
  (ami-pjsip-originate-agent-customer: ``PJSIP/agent-sipp-00000000``, ``PJSIP/sipp-uas-00000001``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pbx_sim.core.events import Cdr


class State(IntEnum):
    DOWN = 0
    RSRVD = 1
    OFFHOOK = 2
    DIALING = 3
    RING = 4
    RINGING = 5
    UP = 6
    BUSY = 7
    DIALING_OFFHOOK = 8
    PRERING = 9


STATE_DESC = {
    State.DOWN: "Down",
    State.RSRVD: "Rsrvd",
    State.OFFHOOK: "OffHook",
    State.DIALING: "Dialing",
    State.RING: "Ring",
    State.RINGING: "Ringing",
    State.UP: "Up",
    State.BUSY: "Busy",
    State.DIALING_OFFHOOK: "Dialing Offhook",
    State.PRERING: "Pre-ring",
}

# Q.850 causes, with the text Asterisk puts in Cause-txt (ast_cause2str).
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    27: "Destination out of order",
    28: "Invalid number format (addressing incomplete)",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    127: "Interworking, unspecified",
}

UNKNOWN = "<unknown>"


def cause_text(cause: int) -> str:
    return CAUSE_TEXT.get(cause, "Unknown")


def var_key(name: str) -> str:
    """Variables are looked up without their inheritance underscores (``__TALK`` is ``TALK``)."""
    return name.lstrip("_").upper()


class Indication:
    RINGING = "ringing"
    ANSWER = "answer"
    BUSY = "busy"
    CONGESTION = "congestion"


class Listener(Protocol):
    """Whoever placed a call to a channel (a Dial, an Originate) and waits for what that channel does."""

    def on_indication(self, chan: Channel, what: str) -> None: ...

    def on_gone(self, chan: Channel, cause: int) -> None: ...


class Dialing(Protocol):
    """A Dial in progress on a channel, cancelled if that channel is hung up."""

    def cancel(self, cause: int) -> None: ...


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    created: float
    context: str
    exten: str
    priority: int = 1
    state: State = State.DOWN
    caller_num: str = UNKNOWN
    caller_name: str = UNKNOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    language: str = "en"
    accountcode: str = ""
    app: str = ""
    appdata: str = ""
    partner: Channel | None = None
    bridge: Bridge | None = None
    runs_pbx: bool = False
    hangup_cause: int | None = None
    tech_cause: int | None = None  # the SIP status that ended a PJSIP channel (Hangup's TechCause: 486)
    alive: bool = True
    answered_at: float | None = None
    variables: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (name as set, value)
    runner: asyncio.Task[None] | None = None
    listener: Listener | None = None
    dialing: Dialing | None = None
    cdrs: list[Cdr] = field(default_factory=list)
    kick_on_leave: bool = True  # a two-party (Dial) bridge ends when either side leaves
    device: str = ""  # the device whose state this channel makes in use (``Local/<exten>@<context>``)
    on_bridge: list[Callable[[Channel, bool], None]] = field(default_factory=list)  # entered (True) / left
    on_hangup: list[Callable[[Channel], None]] = field(default_factory=list)  # once it is gone (MixMonitor)
    before_hangup: list[Callable[[Channel], None]] = field(default_factory=list)  # just before its Hangup
    # An application that ends the channel itself (AGI, once its server closes) takes a hangup: True if it did.
    hold_hangup: Callable[[int], bool] | None = None
    on_dtmf: Callable[[str], None] | None = None  # the application reading the keys the channel receives (AGI)

    @property
    def tech(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def state_desc(self) -> str:
        return STATE_DESC[self.state]

    def set_var(self, name: str, value: str) -> None:
        self.variables[var_key(name)] = (name, value)

    def get_var(self, name: str) -> str | None:
        entry = self.variables.get(var_key(name))
        return None if entry is None else entry[1]

    def inheritable(self) -> list[tuple[str, str]]:
        """Variables a channel created by this one receives: ``__X`` stays ``__X``, ``_X`` becomes ``X``."""
        out: list[tuple[str, str]] = []
        for name, value in self.variables.values():
            if name.startswith("__"):
                out.append((name, value))
            elif name.startswith("_"):
                out.append((name[1:], value))
        return out


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    members: list[Channel] = field(default_factory=list)
    bridge_type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = UNKNOWN
    name: str = UNKNOWN
    video_mode: str = "none"
    # Called before a channel's BridgeLeave (app_queue), with True if the channel stays up (an AMI Redirect).
    on_leave: Callable[[Channel, bool], None] | None = None


class ChannelTable:
    """Every live channel, by name and by Uniqueid, and the counters that name new ones."""

    def __init__(self) -> None:
        self._seq = 0
        self._local = 0
        self._pjsip = 0
        self.by_name: dict[str, Channel] = {}
        self.by_uniqueid: dict[str, Channel] = {}

    def next_uniqueid(self, now: float) -> str:
        uid = f"{int(now)}.{self._seq}"
        self._seq += 1
        return uid

    def local_pair(
        self,
        exten: str,
        context: str,
        now: float,
        *,
        linkedid: str | None = None,
        ids: tuple[str | None, str | None] = (None, None),
    ) -> tuple[Channel, Channel]:
        base = f"Local/{exten}@{context}-{self._local:08x}"
        self._local += 1
        uid1 = self.next_uniqueid(now)
        uid2 = self.next_uniqueid(now)
        uid1 = ids[0] or uid1
        uid2 = ids[1] or (f"{ids[0]};2" if ids[0] else uid2)
        link = linkedid or uid1
        device = f"Local/{exten}@{context}"
        one = Channel(f"{base};1", uid1, link, now, context, exten, device=device)
        two = Channel(f"{base};2", uid2, link, now, context, exten, state=State.RING, runs_pbx=True, device=device)
        one.partner, two.partner = two, one
        for chan in (one, two):
            self.by_name[chan.name] = chan
            self.by_uniqueid[chan.uniqueid] = chan
        return one, two

    def pjsip(self, endpoint: str, context: str, now: float, *, linkedid: str = "", uniqueid: str = "") -> Channel:
        """A channel ``PJSIP/<endpoint>-<8 hex digits>`` (one counter for every PJSIP channel), in the endpoint's
        context at ``s``; ``uniqueid``: one the client chose (ChannelId)."""
        name = f"PJSIP/{endpoint}-{self._pjsip:08x}"
        self._pjsip += 1
        generated = self.next_uniqueid(now)  # taken even when the client chose the Uniqueid
        uid = uniqueid or generated
        chan = Channel(name, uid, linkedid or uid, now, context, "s")
        self.by_name[chan.name] = chan
        self.by_uniqueid[chan.uniqueid] = chan
        return chan

    def remove(self, chan: Channel) -> None:
        if self.by_name.get(chan.name) is chan:
            del self.by_name[chan.name]
        if self.by_uniqueid.get(chan.uniqueid) is chan:
            del self.by_uniqueid[chan.uniqueid]

    def uniqueid_in_use(self, uniqueid: str) -> bool:
        return uniqueid in self.by_uniqueid

    def __len__(self) -> int:
        return len(self.by_name)
