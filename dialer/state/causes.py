"""How calls end, and every Asterisk code that says so — the one place that knows Asterisk's numbers.

Asterisk reports the end of a call in three vocabularies: the ``Reason`` of a failed ``OriginateResponse`` (an
``ast_control_frame_type``), the Q.850 ``Cause`` of each channel's ``Hangup`` (``Cause-txt`` is its text), and the
``DialStatus`` of ``DialEnd``. The dialer turns them into one :class:`FailureReason`, which drives the disposition
(seed 001: "yanıt yok, meşgul") and the retry rules. Numbers checked against the captures in
``shared/fixtures/asterisk`` (busy: Reason 5 / Cause 17; no answer: Reason 3 / Cause 19; congestion: Reason 8 /
Cause 34; duplicate ChannelId: Reason 0) and Asterisk's ``include/asterisk/causes.h`` and ``main/channel.c``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class FailureReason(enum.StrEnum):
    """Why a call was never answered."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"  # the network, a trunk or the PBX could not carry the call: retry soon
    REJECTED = "rejected"  # the callee (or his operator) refused it
    INVALID_NUMBER = "invalid_number"  # "hatalı data": do not retry this number
    UNREACHABLE = "unreachable"  # switched off, out of coverage, destination out of order
    CANCELLED = "cancelled"  # hung up normally before the answer (by the dialer or the PBX)
    ERROR = "error"  # the PBX could not place the call at all (no channel, duplicate id, bad dialplan)


class Party(enum.StrEnum):
    """Who ended a call."""

    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"  # the dialer or the PBX (timeout, shutdown, our own Hangup action)
    UNKNOWN = "unknown"


#: OriginateResponse ``Reason`` (the last control frame seen while dialing) of a ``Response: Failure``.
ORIGINATE_ANSWERED = 4
ORIGINATE_REASONS: Mapping[int, FailureReason] = {
    0: FailureReason.ERROR,  # no frame: the channel could not be created (also: ChannelId already in use)
    1: FailureReason.REJECTED,  # AST_CONTROL_HANGUP: the far end hung up before answering
    3: FailureReason.NO_ANSWER,  # AST_CONTROL_RINGING: it rang until the Originate Timeout
    5: FailureReason.BUSY,  # AST_CONTROL_BUSY
    8: FailureReason.CONGESTION,  # AST_CONTROL_CONGESTION
}
#: Reasons that say little: a more precise hang-up cause seen on one of the call's channels wins over them.
WEAK_ORIGINATE_REASONS = frozenset({0, 1})

#: Q.850 hang-up causes: Asterisk's ``Cause-txt`` and what the cause means for a call that was never answered
#: (None: nothing specific — the channel was simply hung up).
HANGUP_CAUSES: Mapping[int, tuple[str, FailureReason | None]] = {
    0: ("Unknown", None),
    1: ("Unallocated (unassigned) number", FailureReason.INVALID_NUMBER),
    2: ("No route to specified transmit network", FailureReason.UNREACHABLE),
    3: ("No route to destination", FailureReason.UNREACHABLE),
    16: ("Normal Clearing", None),
    17: ("User busy", FailureReason.BUSY),
    18: ("No user responding", FailureReason.NO_ANSWER),
    19: ("User alerting, no answer", FailureReason.NO_ANSWER),
    20: ("Subscriber absent", FailureReason.UNREACHABLE),
    21: ("Call Rejected", FailureReason.REJECTED),
    22: ("Number changed", FailureReason.INVALID_NUMBER),
    26: ("Answered elsewhere", FailureReason.CANCELLED),
    27: ("Destination out of order", FailureReason.UNREACHABLE),
    28: ("Invalid number format", FailureReason.INVALID_NUMBER),
    29: ("Facility rejected", FailureReason.REJECTED),
    31: ("Normal, unspecified", None),
    34: ("Circuit/channel congestion", FailureReason.CONGESTION),
    38: ("Network out of order", FailureReason.CONGESTION),
    41: ("Temporary failure", FailureReason.CONGESTION),
    42: ("Switching equipment congestion", FailureReason.CONGESTION),
    44: ("Requested channel not available", FailureReason.CONGESTION),
    50: ("Facility not subscribed", FailureReason.ERROR),
    52: ("Outgoing call barred", FailureReason.REJECTED),
    58: ("Bearer capability not available", FailureReason.ERROR),
    66: ("Channel not implemented", FailureReason.ERROR),
    88: ("Incompatible destination", FailureReason.ERROR),
    102: ("Recover on timer expiry", FailureReason.NO_ANSWER),
    111: ("Protocol error, unspecified", FailureReason.ERROR),
    127: ("Interworking, unspecified", FailureReason.ERROR),
}

#: ``DialStatus`` of ``DialEnd`` (and the ``DIALSTATUS`` variable); ANSWER is success.
DIAL_STATUSES: Mapping[str, FailureReason] = {
    "BUSY": FailureReason.BUSY,
    "NOANSWER": FailureReason.NO_ANSWER,
    "CONGESTION": FailureReason.CONGESTION,
    "CHANUNAVAIL": FailureReason.UNREACHABLE,
    "CANCEL": FailureReason.CANCELLED,
    "DONTCALL": FailureReason.REJECTED,
    "TORTURE": FailureReason.REJECTED,
    "INVALIDARGS": FailureReason.ERROR,
}

#: ``AgentComplete`` ``Reason``: who ended a queue call that an agent had taken.
AGENT_COMPLETE_PARTIES: Mapping[str, Party] = {
    "agent": Party.AGENT,
    "caller": Party.CUSTOMER,
    "transfer": Party.AGENT,
}


def cause_text(cause: int | None) -> str:
    """Asterisk's text for a Q.850 cause ("cause 99" for one this table does not list)."""
    if cause is None:
        return ""
    known = HANGUP_CAUSES.get(cause)
    return known[0] if known else f"cause {cause}"


def failure_for_cause(cause: int | None) -> FailureReason | None:
    """What a hang-up cause on a never-answered call means; None when it says nothing specific."""
    if cause is None:
        return None
    known = HANGUP_CAUSES.get(cause)
    return known[1] if known else FailureReason.ERROR


def failure_for_originate(reason: int) -> FailureReason:
    """The failure an OriginateResponse ``Reason`` stands for (unknown numbers are errors)."""
    if reason == ORIGINATE_ANSWERED:
        raise ValueError("OriginateResponse Reason 4 means answered, not failed")
    return ORIGINATE_REASONS.get(reason, FailureReason.ERROR)


def failure_for_dial_status(status: str) -> FailureReason | None:
    """The failure a ``DialStatus`` stands for; None for ANSWER."""
    if status.upper() == "ANSWER":
        return None
    return DIAL_STATUSES.get(status.upper(), FailureReason.ERROR)
