"""The AMI events of the simulated PBX, field for field and in the order of the Asterisk 22 captures.

:class:`EventHub` stamps each event (``Event``, ``Privilege``, ``Timestamp``), encodes it once and hands the bytes
to every subscriber (the AMI sessions), which filter by category. The builders below return the body fields.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from pbx_sim.ami.protocol import Fields, encode
from pbx_sim.core.channels import Bridge, Channel, cause_text
from pbx_sim.core.clock import SimClock


@dataclass(frozen=True, slots=True)
class Category:
    bit: int
    privilege: str


SYSTEM = Category(1, "system,all")
CALL = Category(2, "call,all")
AGENT = Category(32, "agent,all")
USER = Category(64, "user,all")
DTMF = Category(256, "dtmf,all")
REPORTING = Category(512, "reporting,all")
CDR = Category(1024, "cdr,all")
DIALPLAN = Category(2048, "dialplan,all")
AGI = Category(8192, "agi,all")
SECURITY = Category(131072, "security,all")

# manager.c perms[]: the names a client may use in ``Events:`` / ``EventMask:``.
PERMS = {
    "system": 1,
    "call": 2,
    "log": 4,
    "verbose": 8,
    "command": 16,
    "agent": 32,
    "user": 64,
    "config": 128,
    "dtmf": 256,
    "reporting": 512,
    "cdr": 1024,
    "dialplan": 2048,
    "originate": 4096,
    "agi": 8192,
    "cc": 16384,
    "aoc": 32768,
    "test": 65536,
    "security": 131072,
    "message": 262144,
}
ALL_EVENTS = 2**31 - 1  # INT_MAX, manager.c's "all"


class Subscriber(Protocol):
    def deliver(self, category: int, data: bytes) -> None: ...


class EventHub:
    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.subscribers: set[Subscriber] = set()
        self.emitted = 0

    def emit(self, name: str, category: Category, body: Fields) -> None:
        self.emitted += 1
        if not self.subscribers:
            return
        data = encode(
            [("Event", name), ("Privilege", category.privilege), ("Timestamp", f"{self.clock.now():.6f}"), *body]
        )
        for sub in tuple(self.subscribers):
            sub.deliver(category.bit, data)


def channel_fields(chan: Channel, prefix: str = "") -> Fields:
    return [
        (prefix + "Channel", chan.name),
        (prefix + "ChannelState", str(int(chan.state))),
        (prefix + "ChannelStateDesc", chan.state_desc),
        (prefix + "CallerIDNum", chan.caller_num),
        (prefix + "CallerIDName", chan.caller_name),
        (prefix + "ConnectedLineNum", chan.connected_num),
        (prefix + "ConnectedLineName", chan.connected_name),
        (prefix + "Language", chan.language),
        (prefix + "AccountCode", chan.accountcode),
        (prefix + "Context", chan.context),
        (prefix + "Exten", chan.exten),
        (prefix + "Priority", str(chan.priority)),
        (prefix + "Uniqueid", chan.uniqueid),
        (prefix + "Linkedid", chan.linkedid),
    ]


def newexten(chan: Channel) -> Fields:
    return [*channel_fields(chan), ("Extension", chan.exten), ("Application", chan.app), ("AppData", chan.appdata)]


def varset(chan: Channel | None, name: str, value: str) -> Fields:
    if chan is None:
        return [("Channel", "none"), ("Uniqueid", "none"), ("Variable", name), ("Value", value)]
    return [*channel_fields(chan), ("Variable", name), ("Value", value)]


def local_bridge(one: Channel, two: Channel, context: str, exten: str, optimize: bool = True) -> Fields:
    return [
        *channel_fields(one, "LocalOne"),
        *channel_fields(two, "LocalTwo"),
        ("Context", context),
        ("Exten", exten),
        ("LocalOptimization", "Yes" if optimize else "No"),
    ]


def dial(caller: Channel | None, dest: Channel, tail: Fields) -> Fields:
    """DialBegin / DialState / DialEnd: an originated channel has no caller, so only the ``Dest*`` fields."""
    head = channel_fields(caller) if caller is not None else []
    return [*head, *channel_fields(dest, "Dest"), *tail]


def bridge_fields(bridge: Bridge) -> Fields:
    return [
        ("BridgeUniqueid", bridge.uniqueid),
        ("BridgeType", bridge.bridge_type),
        ("BridgeTechnology", bridge.technology),
        ("BridgeCreator", bridge.creator),
        ("BridgeName", bridge.name),
        ("BridgeNumChannels", str(len(bridge.members))),
        ("BridgeVideoSourceMode", bridge.video_mode),
    ]


def with_cause(chan: Channel, cause: int) -> Fields:
    return [*channel_fields(chan), ("Cause", str(cause))]


def hangup(chan: Channel, cause: int) -> Fields:
    tech = [("TechCause", str(chan.tech_cause))] if chan.tech_cause else []  # a PJSIP channel's SIP status
    return [*channel_fields(chan), ("Cause", str(cause)), ("Cause-txt", cause_text(cause)), *tech]


def dtmf(chan: Channel, digit: str, direction: str, duration_ms: int | None = None) -> Fields:
    """DTMFBegin (no duration) and DTMFEnd: ``Direction`` is ``Received`` or ``Sent``."""
    duration: Fields = [] if duration_ms is None else [("DurationMs", str(duration_ms))]
    return [*channel_fields(chan), ("Digit", digit), *duration, ("Direction", direction)]


def agi_exec(chan: Channel, command_id: str, command: str, result: tuple[int, str] | None = None) -> Fields:
    """AGIExecStart, and AGIExecEnd with ``result`` (ResultCode, Result: ``(200, "Success")``)."""
    tail: Fields = [] if result is None else [("ResultCode", str(result[0])), ("Result", result[1])]
    return [*channel_fields(chan), ("CommandId", command_id), ("Command", command), *tail]


def originate_response(
    action_id: str,
    response: str,
    channel: str,
    context: str,
    exten: str,
    reason: int,
    uniqueid: str,
    cid_num: str,
    cid_name: str,
) -> Fields:
    head = [("ActionID", action_id)] if action_id else []
    return [
        *head,
        ("Response", response),
        ("Channel", channel),
        ("Context", context),
        ("Exten", exten),
        ("Reason", str(reason)),
        ("Uniqueid", uniqueid),
        ("CallerIDNum", cid_num),
        ("CallerIDName", cid_name),
    ]


@dataclass(eq=False)
class Cdr:
    """One call detail record of a channel. ``follow``: destination and last application are taken from the
    channel's dialplan position when it hangs up; otherwise the values given here stand."""

    channel: Channel
    start: float
    follow: bool = True
    destination: str = ""
    dest_context: str = ""
    dest_channel: str = ""
    last_app: str = ""
    last_data: str = ""
    answer: float | None = None
    end: float | None = None  # when the record was closed before its channel hung up (an AMI Redirect)
    disposition: str = "NO ANSWER"
    # The outcome of the Dial this record covers, which stands although the channel was answered (BUSY: the
    # agent leg of a click-to-dial whose customer was busy, ami-pjsip-originate-agent-customer).
    dial_disposition: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _cdr_time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def caller_id(name: str, num: str) -> str:
    return f'"{name}" <{num}>' if name and name != "<unknown>" else num


def _cdr_party(value: str) -> str:
    """The CDR engine copies caller ids as strings, an unknown one empty (ami-atxfer: ``Source:``, ``"" <>``)."""
    return "" if value == "<unknown>" else value


def cdr(record: Cdr, end: float) -> Fields:
    chan = record.channel
    end = record.end if record.end is not None else end
    if record.follow:
        destination, context, app, data = chan.exten, chan.context, chan.app, chan.appdata
    else:
        destination, context, app, data = record.destination, record.dest_context, record.last_app, record.last_data
    answered = record.answer is not None
    return [
        ("AccountCode", chan.accountcode),
        ("Source", _cdr_party(chan.caller_num)),
        ("Destination", destination),
        ("DestinationContext", context),
        ("CallerID", f'"{_cdr_party(chan.caller_name)}" <{_cdr_party(chan.caller_num)}>'),
        ("Channel", chan.name),
        ("DestinationChannel", record.dest_channel),
        ("LastApplication", app),
        ("LastData", data),
        ("StartTime", _cdr_time(record.start)),
        ("AnswerTime", _cdr_time(record.answer)),
        ("EndTime", _cdr_time(end)),
        ("Duration", str(int(end - record.start))),
        ("BillableSeconds", str(int(end - record.answer)) if record.answer is not None else "0"),
        ("Disposition", record.dial_disposition or ("ANSWERED" if answered else record.disposition)),
        ("AMAFlags", "DOCUMENTATION"),
        ("UniqueID", chan.uniqueid),
        ("UserField", ""),
    ]


def iso_tv(epoch: float) -> str:
    """EventTV / SessionTV as Asterisk's security events print them: ``2026-11-23T11:00:30.370+0000``."""
    millis = int((epoch - int(epoch)) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}+0000"
