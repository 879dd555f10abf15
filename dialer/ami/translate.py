"""From AMI messages to the commands of the pure state machines: pure functions, no I/O, no clock.

Which AMI fact becomes which command (checked against ``shared/fixtures/asterisk``):

========================  =================================================================================
``Newchannel``            :class:`AddChannel` (Linkedid, Uniqueid); the first channel of a call placed through
                          the outbound context (``Local/<number>@outbound-…;1``, Uniqueid = Linkedid) is also
                          a :class:`Dial` (:func:`new_call`) when the engine did not originate it itself; the
                          first channel of a call starting in an inbound context is an inbound :class:`Dial`
``DialState`` RINGING     :class:`Ring` (the Dial* events of the originated ``;1`` carry only ``Dest*`` fields)
``OriginateResponse``     Success: :class:`Answer`; Failure: :class:`OriginateFailed` with its ``Reason``
                          (3 no answer, 5 busy, 8 congestion, 0/1 weak). Its call is found by ActionID when
                          the engine sent it, else by ``Uniqueid`` (= Linkedid; ``<unknown>`` on a failure
                          without ChannelId)
``QueueCallerJoin``       :class:`Answer` (an inbound caller is answered once he waits in a queue)
``AgentConnect``          :class:`ConnectAgent` and the agent's :class:`agent_commands.Answer`
``Hold`` / ``Unhold``     :class:`Hold` / :class:`Resume`
``BlindTransfer``         :class:`Transfer` to ``exten@context``; ``AttendedTransfer``: to the target channel
``Hangup``                :class:`HangupChannel` with Cause, Cause-txt and who it was (:meth:`ChannelRoles.party`)
``AgentCalled``           agent :class:`Ring`; ``AgentRingNoAnswer``: :class:`RingNoAnswer`;
                          ``AgentComplete``: :class:`EndCall` (``call_id`` is always the caller's Linkedid)
========================  =================================================================================

Everything else (VarSet, Newexten, DeviceStateChange, Cdr, ... most of the stream) is not in :data:`RELEVANT`
and costs one set lookup.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping

from dialer.ami.message import AmiMessage
from dialer.state import agent_commands as ac
from dialer.state.call_commands import (
    AddChannel,
    Answer,
    CallCommand,
    ConnectAgent,
    Dial,
    HangupChannel,
    Hold,
    OriginateFailed,
    Resume,
    Ring,
    Transfer,
)
from dialer.state.causes import ORIGINATE_ANSWERED, Party

UNKNOWN_IDS = frozenset({"", "<unknown>", "<null>"})


@dataclasses.dataclass(frozen=True)
class ChannelRoles:
    """How this installation's channel names read. ``outbound_context`` is the context the dialer originates
    into (``Local/<number>@outbound``); a call whose first channel starts in one of ``inbound_contexts`` is a
    caller's call (a trunk's ``from-trunk``, or the simulator's ``to-queue``). ``agent_pattern`` finds agents'
    channels and members; its first group is the agent's user id, unless ``agent_lookup`` is given: it maps a
    member's Interface / MemberName (or an agent channel name) to a user id, e.g. from the phones configured for
    each agent."""

    outbound_context: str = "outbound"
    inbound_contexts: tuple[str, ...] = ("from-trunk", "to-queue")
    agent_pattern: str = r"agent(\d+)"
    agent_lookup: Callable[[str], int | None] | None = dataclasses.field(default=None, compare=False)
    _agent: re.Pattern[str] = dataclasses.field(init=False, repr=False, compare=False)
    _origin: re.Pattern[str] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_agent", re.compile(self.agent_pattern))
        origin = rf"^Local/(?P<number>[^@/;]+)@{re.escape(self.outbound_context)}-[0-9a-fA-F]+;1$"
        object.__setattr__(self, "_origin", re.compile(origin))

    def agent_id(self, *names: str) -> int | None:
        """The user id of the first name (Interface, MemberName, channel) that names an agent."""
        for name in names:
            if not name:
                continue
            if self.agent_lookup is not None:
                found = self.agent_lookup(name)
            else:
                match = self._agent.search(name)
                found = int(match.group(1)) if match else None
            if found is not None:
                return found
        return None

    def dialed_number(self, channel: str) -> str | None:
        """The number of a channel the dialer originated (``Local/5551234@outbound-0000000a;1`` -> 5551234)."""
        match = self._origin.match(channel)
        return match.group("number") if match else None

    def party(self, channel: str) -> Party:
        """Who a channel stands for: an agent, the dialer's own Local legs (system), else the customer."""
        if self.agent_id(channel) is not None:
            return Party.AGENT
        if channel.startswith("Local/") and f"@{self.outbound_context}-" in channel:
            return Party.SYSTEM
        return Party.CUSTOMER


# -- calls ----------------------------------------------------------------------------------------------------------


def _linkedid(msg: AmiMessage) -> str:
    return msg.get("Linkedid") or msg.get("DestLinkedid")


def _newchannel(msg: AmiMessage, roles: ChannelRoles, by_action: Mapping[str, str]) -> tuple[CallCommand, ...]:
    linkedid, uniqueid = msg.get("Linkedid"), msg.get("Uniqueid")
    return (AddChannel(linkedid, uniqueid),) if linkedid and uniqueid else ()


def _dial_state(msg: AmiMessage, roles: ChannelRoles, by_action: Mapping[str, str]) -> tuple[CallCommand, ...]:
    linkedid = _linkedid(msg)
    return (Ring(linkedid),) if linkedid and msg.get("DialStatus").upper() == "RINGING" else ()


def _originate_response(msg: AmiMessage, roles: ChannelRoles, by_action: Mapping[str, str]) -> tuple[CallCommand, ...]:
    action_id = msg.action_id or None
    uniqueid = msg.get("Uniqueid")
    linkedid = by_action.get(action_id or "") or ("" if uniqueid in UNKNOWN_IDS else uniqueid)
    if not linkedid:
        return ()
    if msg.response.lower() == "success":
        return (Answer(linkedid),)
    reason = msg.get("Reason")
    if not reason.isdigit() or int(reason) == ORIGINATE_ANSWERED:
        reason = "0"
    return (OriginateFailed(linkedid, int(reason), action_id),)


def _queue_join(msg: AmiMessage, roles: ChannelRoles, by_action: Mapping[str, str]) -> tuple[CallCommand, ...]:
    """A caller waiting in a queue has been answered by the PBX (for a dialer call: already known, a no-op)."""
    linkedid = msg.get("Linkedid")
    return (Answer(linkedid),) if linkedid else ()


def _agent_connect(msg: AmiMessage, roles: ChannelRoles, by_action: Mapping[str, str]) -> tuple[CallCommand, ...]:
    linkedid, agent = _linkedid(msg), _member(msg, roles)
    return (ConnectAgent(linkedid, agent),) if linkedid and agent is not None else ()


def _hold(msg: AmiMessage, roles: ChannelRoles, by_action: Mapping[str, str]) -> tuple[CallCommand, ...]:
    linkedid = msg.get("Linkedid")
    if not linkedid:
        return ()
    return (Hold(linkedid),) if msg.event == "Hold" else (Resume(linkedid),)


def _blind_transfer(msg: AmiMessage, roles: ChannelRoles, by_action: Mapping[str, str]) -> tuple[CallCommand, ...]:
    linkedid = msg.get("TransfereeLinkedid") or msg.get("TransfererLinkedid")
    if not linkedid or msg.get("Result").lower() != "success":
        return ()
    return (Transfer(linkedid, f"{msg.get('Extension')}@{msg.get('Context')}"),)


def _attended_transfer(msg: AmiMessage, roles: ChannelRoles, by_action: Mapping[str, str]) -> tuple[CallCommand, ...]:
    linkedid = msg.get("TransfereeLinkedid") or msg.get("OrigTransfererLinkedid")
    if not linkedid or msg.get("Result").lower() != "success":
        return ()
    target = msg.get("TransferTargetChannel") or msg.get("DestApp") or "attended"
    return (Transfer(linkedid, target),)


def _hangup(msg: AmiMessage, roles: ChannelRoles, by_action: Mapping[str, str]) -> tuple[CallCommand, ...]:
    linkedid, uniqueid = msg.get("Linkedid"), msg.get("Uniqueid")
    if not linkedid or not uniqueid:
        return ()
    cause_text = msg.get("Cause")
    cause = int(cause_text) if cause_text.isdigit() else None
    party = roles.party(msg.get("Channel"))
    return (HangupChannel(linkedid, uniqueid, cause, msg.get("Cause-txt"), party),)


CallTranslator = Callable[[AmiMessage, ChannelRoles, Mapping[str, str]], tuple[CallCommand, ...]]

_CALL: Mapping[str, CallTranslator] = {
    "Newchannel": _newchannel,
    "DialState": _dial_state,
    "OriginateResponse": _originate_response,
    "QueueCallerJoin": _queue_join,
    "AgentConnect": _agent_connect,
    "Hold": _hold,
    "Unhold": _hold,
    "BlindTransfer": _blind_transfer,
    "AttendedTransfer": _attended_transfer,
    "Hangup": _hangup,
}


def call_commands(
    msg: AmiMessage, roles: ChannelRoles, by_action: Mapping[str, str] | None = None
) -> tuple[CallCommand, ...]:
    """The call commands an AMI message stands for (often none). ``by_action`` maps the ActionIDs of our
    Originates to their Linkedid."""
    translate = _CALL.get(msg.event)
    return translate(msg, roles, by_action or {}) if translate is not None else ()


def new_call(msg: AmiMessage, roles: ChannelRoles) -> Dial | None:
    """A :class:`Dial` for the first channel of a call placed through the outbound context, or of a caller's call
    arriving in an inbound context (its number: the caller's), else None."""
    if msg.event != "Newchannel":
        return None
    linkedid = msg.get("Linkedid")
    if not linkedid or msg.get("Uniqueid") != linkedid:
        return None
    number = roles.dialed_number(msg.get("Channel"))
    if number is not None:
        return Dial(linkedid, number)
    if msg.get("Context") in roles.inbound_contexts:
        caller = msg.get("CallerIDNum")
        return Dial(linkedid, caller if caller not in UNKNOWN_IDS else "", inbound=True)
    return None


# -- agents ---------------------------------------------------------------------------------------------------------


def _member(msg: AmiMessage, roles: ChannelRoles) -> int | None:
    return roles.agent_id(msg.get("Interface"), msg.get("StateInterface"), msg.get("MemberName"))


AGENT_EVENTS = frozenset({"AgentCalled", "AgentRingNoAnswer", "AgentConnect", "AgentComplete"})


def agent_command(
    msg: AmiMessage, roles: ChannelRoles, *, wrap_up_seconds: int | None = 0
) -> tuple[int, ac.AgentCallCommand] | None:
    """(user id, command) for a queue agent event whose member names an agent, else None."""
    if msg.event not in AGENT_EVENTS:
        return None
    call_id, agent = msg.get("Linkedid"), _member(msg, roles)
    if not call_id or agent is None:
        return None
    match msg.event:
        case "AgentCalled":
            return agent, ac.Ring(call_id)
        case "AgentRingNoAnswer":
            return agent, ac.RingNoAnswer(call_id)
        case "AgentConnect":
            return agent, ac.Answer(call_id)
        case _:
            return agent, ac.EndCall(call_id, wrap_up_seconds)


# -- snapshots (resync) ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChannelSnapshot:
    """One entry of CoreShowChannels."""

    uniqueid: str
    linkedid: str
    channel: str
    state: int  # 4 Ring, 5 Ringing, 6 Up, ...
    seconds: int
    context: str = ""  # where its dialplan is (a caller's first channel: an inbound context)
    caller: str = ""  # CallerIDNum

    @property
    def is_up(self) -> bool:
        return self.state == 6


def channel_snapshot(msg: AmiMessage) -> ChannelSnapshot | None:
    uniqueid, linkedid = msg.get("Uniqueid"), msg.get("Linkedid")
    if not uniqueid or not linkedid:
        return None
    state = msg.get("ChannelState")
    return ChannelSnapshot(
        uniqueid,
        linkedid,
        msg.get("Channel"),
        int(state) if state.isdigit() else -1,
        _seconds(msg.get("Duration")),
        msg.get("Context"),
        msg.get("CallerIDNum"),
    )


def _seconds(hms: str) -> int:
    try:
        hours, minutes, seconds = (int(part) for part in hms.split(":"))
    except ValueError:
        return 0
    return hours * 3600 + minutes * 60 + seconds


@dataclasses.dataclass(frozen=True)
class QueueMember:
    """A queue member as Asterisk sees it (QueueStatus ``QueueMember`` or a ``QueueMember*`` event)."""

    queue: str
    interface: str
    name: str
    status: int  # AST_DEVICE_*: 1 not in use, 2 in use, 5 unavailable, 6 ringing, ...
    paused: bool
    paused_reason: str
    in_call: bool


QUEUE_MEMBER_EVENTS = frozenset(
    {"QueueMember", "QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMemberRemoved"}
)


def queue_member(msg: AmiMessage) -> QueueMember | None:
    """The member of a QueueStatus item (``Name``/``Location``) or of a member event (``MemberName``/``Interface``)."""
    interface = msg.get("Location") or msg.get("Interface")
    queue = msg.get("Queue")
    if not interface or not queue:
        return None
    status = msg.get("Status")
    return QueueMember(
        queue=queue,
        interface=interface,
        name=msg.get("Name") or msg.get("MemberName"),
        status=int(status) if status.isdigit() else 0,
        paused=msg.get("Paused") == "1",
        paused_reason=msg.get("PausedReason"),
        in_call=msg.get("InCall") == "1",
    )


RELEVANT = (
    frozenset(_CALL)
    | AGENT_EVENTS
    | QUEUE_MEMBER_EVENTS
    | {
        "QueueCallerAbandon",
        "Rename",
        "Shutdown",
        "DialBegin",  # of a call sent to one agent's phone (AmiEngine.originate agent_id)
        "DialEnd",
    }
)
