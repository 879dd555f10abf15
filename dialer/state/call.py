"""The call state machine, keyed by Asterisk's Linkedid: pure code, no I/O, no clock.

A call is every channel sharing one Linkedid (the originated channel, its Local ``;2`` half, the customer's leg,
the agent's leg). ``handle(call, command, now)`` returns the new :class:`Call` and the events to publish::

    dialing -> ringing -> answered -> connected <-> held
       |          |           |         |              |
       |          |           |         +-------+--> transferred --> connected (another agent) ...
       |          |           +---------+---------------+----------> ended (cause, text, who hung up)
       +----------+--> failed (busy, no_answer, congestion, rejected, invalid_number, unreachable, cancelled, error)

It is not a decide/apply pair like the agent machine because most AMI input (a channel appearing or hanging up)
only updates bookkeeping and publishes nothing. The call keeps the time of each phase, so the call record is
written from the final :class:`Call`.

AMI's realistic disorder is absorbed here, not in the AMI reader (see ``shared/fixtures/asterisk/README.md``):

* **The call ends when its last channel hangs up**, not at the first Hangup: channels of one call hang up one by
  one, with different causes (``0 Unknown`` on the Local ``;1``, ``17 User busy`` on ``;2``). Tell the machine
  about every channel (:class:`AddChannel` on each ``Newchannel`` of the Linkedid); a machine that was told of no
  channel ends the call at the first :class:`HangupChannel`.
* **Hangup before the OriginateResponse failure, or after it**: before the answer, the first precise cause seen
  on any channel is remembered; the call fails on the OriginateResponse or on the last hang-up, whichever comes
  first, with the most precise reason known (a strong Originate reason 3/5/8, else a specific hang-up cause,
  else the weak reason 0/1, else ``cancelled``). Whatever arrives after the end is ignored.
* **Repeats and late arrivals are no-ops**: a second Ring or Answer, Ring after Answer (OriginateResponse
  Success and ``Newstate Up`` come in either order), the same channel hanging up twice, a repeated Hold, Unhold
  or transfer, anything at all for a call that is over.
* **A foreign OriginateResponse** (a second Originate that reused our ChannelId fails with Reason 0 and the live
  call's Uniqueid) is refused when both carry their ActionID, so it cannot fail the live call.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from callcenter.bus.events import Event
from dialer import events as ev
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
from dialer.state.causes import (
    WEAK_ORIGINATE_REASONS,
    FailureReason,
    Party,
    cause_text,
    failure_for_cause,
    failure_for_originate,
)


class CallPhase(enum.StrEnum):
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    CONNECTED = "connected"
    HELD = "held"
    TRANSFERRED = "transferred"
    ENDED = "ended"
    FAILED = "failed"


BEFORE_ANSWER = frozenset({CallPhase.DIALING, CallPhase.RINGING})
AFTER_ANSWER = frozenset({CallPhase.ANSWERED, CallPhase.CONNECTED, CallPhase.HELD, CallPhase.TRANSFERRED})
OVER = frozenset({CallPhase.ENDED, CallPhase.FAILED})


@dataclasses.dataclass(frozen=True)
class Hangup:
    cause: int | None
    cause_text: str
    party: Party


@dataclasses.dataclass(frozen=True)
class Call:
    """One call and its history; the outcome fields are set once it is over."""

    linkedid: str
    destination: str
    phase: CallPhase
    dialed_at: datetime
    action_id: str | None = None
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    connected_at: datetime | None = None  # the first connection to an agent
    ended_at: datetime | None = None
    agent_id: int | None = None  # the agent on the call now (the last one, once it is over)
    agents: tuple[int, ...] = ()  # every agent who took it, in order
    transfers: tuple[str, ...] = ()
    held_since: datetime | None = None
    held_total: timedelta = timedelta(0)
    hold_count: int = 0
    channels: frozenset[str] = frozenset()  # Uniqueids of live channels
    gone: frozenset[str] = frozenset()  # Uniqueids of channels that hung up
    first_hangup: Hangup | None = None  # the first channel to go since the call was last (re)connected
    hint: Hangup | None = None  # before the answer: the first hang-up whose cause says why it failed
    failure: FailureReason | None = None
    cause: int | None = None
    cause_text: str = ""
    hung_up_by: Party | None = None
    originate_reason: int | None = None
    inbound: bool = False  # a caller's call (destination = his number), not one the dialer placed

    @property
    def is_over(self) -> bool:
        return self.phase in OVER

    @property
    def talk_time(self) -> timedelta:
        """From the first connection to an agent to the end; zero when no agent took the call."""
        if self.connected_at is None or self.ended_at is None:
            return timedelta(0)
        return self.ended_at - self.connected_at

    @property
    def wait_time(self) -> timedelta | None:
        """Answered customer waiting for an agent (the predictive dialer's abandon risk); None if not answered."""
        if self.answered_at is None:
            return None
        until = self.connected_at or self.ended_at
        return None if until is None else until - self.answered_at


# -- errors ---------------------------------------------------------------------------------------------------------


class UnknownCallError(LookupError):
    def __init__(self, command: CallCommand) -> None:
        super().__init__(f"no call {command.linkedid!r} for {type(command).__name__}")
        self.command = command


class IllegalCallTransitionError(ValueError):
    """The command contradicts the call's phase; the call is unchanged."""

    def __init__(self, call: Call, command: CallCommand, why: str) -> None:
        super().__init__(f"call {call.linkedid}: cannot {type(command).__name__} while {call.phase.value}: {why}")
        self.phase = call.phase
        self.command = command
        self.why = why


class ForeignOriginateResponseError(IllegalCallTransitionError):
    """An OriginateResponse of another Originate (another ActionID) that names this call's Uniqueid."""


# -- handling -------------------------------------------------------------------------------------------------------

Step = tuple[Call, list[Event]]
Handler = Callable[[Call, Any, datetime], Step]


def handle(call: Call | None, command: CallCommand, now: datetime) -> Step:
    """The call after ``command`` at ``now`` and the events to publish. ``call`` is None only for :class:`Dial`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if call is None:
        if not isinstance(command, Dial):
            raise UnknownCallError(command)
        call = Call(
            linkedid=command.linkedid,
            destination=command.destination,
            phase=CallPhase.DIALING,
            dialed_at=now,
            action_id=command.action_id,
            inbound=command.inbound,
        )
        direction = "inbound" if call.inbound else "outbound"
        return call, [
            ev.CallDialing(linkedid=call.linkedid, occurred_at=now, destination=call.destination, direction=direction)
        ]
    if command.linkedid != call.linkedid:
        raise ValueError(f"command for call {command.linkedid!r} given to call {call.linkedid!r}")
    if isinstance(command, Dial):
        raise IllegalCallTransitionError(call, command, "this Linkedid is already used by a call")
    if call.is_over:
        return call, []  # late AMI events (the other channels' Hangup, a Cdr-driven repeat): nothing changes
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"not a call command: {command!r}")
    return handler(call, command, now)


def _unchanged(call: Call) -> Step:
    return call, []


def _add_channel(call: Call, command: AddChannel, now: datetime) -> Step:
    if command.uniqueid in call.channels or command.uniqueid in call.gone:
        return _unchanged(call)
    return dataclasses.replace(call, channels=call.channels | {command.uniqueid}), []


def _ring(call: Call, command: Ring, now: datetime) -> Step:
    if call.phase is not CallPhase.DIALING:
        return _unchanged(call)  # ringing again, or a ring reported after the answer
    rung = dataclasses.replace(call, phase=CallPhase.RINGING, ringing_at=now)
    return rung, [ev.CallRinging(linkedid=call.linkedid, occurred_at=now)]


def _answered(call: Call, now: datetime) -> Step:
    answered = dataclasses.replace(call, phase=CallPhase.ANSWERED, answered_at=now)
    return answered, [ev.CallAnswered(linkedid=call.linkedid, occurred_at=now)]


def _answer(call: Call, command: Answer, now: datetime) -> Step:
    if call.phase in BEFORE_ANSWER:
        return _answered(call, now)
    return _unchanged(call)


def _connect(call: Call, command: ConnectAgent, now: datetime) -> Step:
    out: list[Event] = []
    if call.phase in BEFORE_ANSWER:  # a bridge to an agent proves the answer we were not told about
        call, out = _answered(call, now)
    if call.phase in (CallPhase.CONNECTED, CallPhase.HELD):
        if call.agent_id == command.agent_id:
            return _unchanged(call)
        raise IllegalCallTransitionError(call, command, f"agent {call.agent_id} has it; transfer it first")
    connected = dataclasses.replace(
        call,
        phase=CallPhase.CONNECTED,
        connected_at=call.connected_at or now,
        agent_id=command.agent_id,
        agents=(*call.agents, command.agent_id),
        first_hangup=None,
    )
    out.append(ev.CallConnectedToAgent(linkedid=call.linkedid, occurred_at=now, agent_id=command.agent_id))
    return connected, out


def _hold(call: Call, command: Hold, now: datetime) -> Step:
    if call.phase is CallPhase.HELD:
        return _unchanged(call)
    if call.phase is not CallPhase.CONNECTED:
        raise IllegalCallTransitionError(call, command, "only a call connected to an agent can be held")
    held = dataclasses.replace(call, phase=CallPhase.HELD, held_since=now, hold_count=call.hold_count + 1)
    return held, [ev.CallHeld(linkedid=call.linkedid, occurred_at=now)]


def _end_hold(call: Call, now: datetime) -> Call:
    if call.held_since is None:
        return call
    return dataclasses.replace(call, held_since=None, held_total=call.held_total + (now - call.held_since))


def _resume(call: Call, command: Resume, now: datetime) -> Step:
    if call.phase in (CallPhase.CONNECTED, CallPhase.TRANSFERRED):
        return _unchanged(call)  # a repeated Unhold, or one that trails the transfer
    if call.phase is not CallPhase.HELD:
        raise IllegalCallTransitionError(call, command, "the call is not on hold")
    assert call.held_since is not None
    held = now - call.held_since
    resumed = dataclasses.replace(_end_hold(call, now), phase=CallPhase.CONNECTED)
    return resumed, [ev.CallResumed(linkedid=call.linkedid, occurred_at=now, held_seconds=held.total_seconds())]


def _transfer(call: Call, command: Transfer, now: datetime) -> Step:
    if call.phase is CallPhase.TRANSFERRED and call.transfers[-1:] == (command.target,):
        return _unchanged(call)  # BlindTransfer / AttendedTransfer reported twice
    if call.phase not in AFTER_ANSWER:
        raise IllegalCallTransitionError(call, command, "only an answered call can be transferred")
    moved = dataclasses.replace(
        _end_hold(call, now),
        phase=CallPhase.TRANSFERRED,
        agent_id=None,
        transfers=(*call.transfers, command.target),
        first_hangup=None,  # the channels that left with the transfer did not end the call
    )
    event = ev.CallTransferred(
        linkedid=call.linkedid, occurred_at=now, target=command.target, from_agent_id=call.agent_id
    )
    return moved, [event]


def _hangup(call: Call, command: HangupChannel, now: datetime) -> Step:
    if command.uniqueid in call.gone:
        return _unchanged(call)
    info = Hangup(command.cause, command.cause_text or cause_text(command.cause), command.party)
    call = dataclasses.replace(call, channels=call.channels - {command.uniqueid}, gone=call.gone | {command.uniqueid})
    if call.phase in BEFORE_ANSWER:
        if call.hint is None and failure_for_cause(command.cause) is not None:
            call = dataclasses.replace(call, hint=info)
        return _fail(call, now, last=info) if not call.channels else _unchanged(call)
    call = dataclasses.replace(call, first_hangup=call.first_hangup or info)
    if call.channels:
        return _unchanged(call)
    ending = call.first_hangup or info
    ended = dataclasses.replace(
        _end_hold(call, now),
        phase=CallPhase.ENDED,
        ended_at=now,
        cause=ending.cause,
        cause_text=ending.cause_text,
        hung_up_by=ending.party,
    )
    event = ev.CallEnded(
        linkedid=call.linkedid,
        occurred_at=now,
        cause=ended.cause,
        cause_text=ended.cause_text,
        hung_up_by=ending.party.value,
        agent_id=ended.agent_id,
        talk_seconds=ended.talk_time.total_seconds(),
        hold_seconds=ended.held_total.total_seconds(),
    )
    return ended, [event]


def _originate_failed(call: Call, command: OriginateFailed, now: datetime) -> Step:
    if command.action_id is not None and call.action_id is not None and command.action_id != call.action_id:
        raise ForeignOriginateResponseError(
            call, command, f"ActionID {command.action_id!r} is not this call's {call.action_id!r}"
        )
    if call.phase not in BEFORE_ANSWER:
        raise IllegalCallTransitionError(call, command, "the call was answered")
    return _fail(call, now, originate_reason=command.reason)


def _fail(call: Call, now: datetime, *, originate_reason: int | None = None, last: Hangup | None = None) -> Step:
    """Fail with the most precise reason known: strong Originate reason > hang-up cause > weak reason."""
    hint = call.hint
    if originate_reason is not None and (originate_reason not in WEAK_ORIGINATE_REASONS or hint is None):
        reason = failure_for_originate(originate_reason)
        source = hint if hint is not None and failure_for_cause(hint.cause) is reason else None
    elif hint is not None:
        reason, source = failure_for_cause(hint.cause) or FailureReason.ERROR, hint
    else:
        reason, source = FailureReason.CANCELLED, last
    failed = dataclasses.replace(
        call,
        phase=CallPhase.FAILED,
        ended_at=now,
        failure=reason,
        cause=source.cause if source else None,
        cause_text=source.cause_text if source else "",
        hung_up_by=source.party if source else None,
        originate_reason=originate_reason,
    )
    event = ev.CallFailed(
        linkedid=call.linkedid,
        occurred_at=now,
        reason=reason.value,
        cause=failed.cause,
        cause_text=failed.cause_text,
        originate_reason=originate_reason,
    )
    return failed, [event]


_HANDLERS: Mapping[type[CallCommand], Handler] = {
    AddChannel: _add_channel,
    Ring: _ring,
    Answer: _answer,
    ConnectAgent: _connect,
    Hold: _hold,
    Resume: _resume,
    Transfer: _transfer,
    HangupChannel: _hangup,
    OriginateFailed: _originate_failed,
}
