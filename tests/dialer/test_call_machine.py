"""The call state machine: its phases, the timestamps of a call record, and AMI's disorder and repeats.

The orders of events in the disorder tests are the ones of the real captures (shared/fixtures/asterisk), with the
captures' Uniqueids; ``test_asterisk_codes.py`` also replays the captures themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.bus.events import Event
from dialer import events as ev
from dialer.state import call as c
from dialer.state import call_commands as cc
from dialer.state.causes import FailureReason, Party

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
L = "dialer-call-0001"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(*steps: tuple[float, cc.CallCommand], call: c.Call | None = None) -> tuple[c.Call, list[Event]]:
    """Feed the commands in order; return the final call and every event published."""
    published: list[Event] = []
    for seconds, command in steps:
        call, events = c.handle(call, command, at(seconds))
        published.extend(events)
    assert call is not None
    return call, published


def dialing(*channels: str, action_id: str | None = "8-originate") -> c.Call:
    call, _ = run((0, cc.Dial(L, "Local/5551234@outbound", action_id)), *[(0, cc.AddChannel(L, u)) for u in channels])
    return call


def names(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_an_answered_call_keeps_every_phase_time_for_its_record() -> None:
    call, events = run(
        (0, cc.Dial(L, "Local/5551234@outbound", "8-originate")),
        (0, cc.AddChannel(L, L)),
        (0, cc.AddChannel(L, "dialer-call-0001-2")),
        (1, cc.Ring(L)),
        (3, cc.Answer(L)),
        (5, cc.ConnectAgent(L, 12)),
        (20, cc.Hold(L)),
        (50, cc.Resume(L)),
        (65, cc.HangupChannel(L, "dialer-call-0001-2", 16, "Normal Clearing", Party.CUSTOMER)),
        (65.1, cc.HangupChannel(L, L, 16, "Normal Clearing", Party.SYSTEM)),
    )
    assert names(events) == [
        "CallDialing",
        "CallRinging",
        "CallAnswered",
        "CallConnectedToAgent",
        "CallHeld",
        "CallResumed",
        "CallEnded",
    ]
    assert (call.dialed_at, call.ringing_at, call.answered_at, call.connected_at, call.ended_at) == (
        at(0),
        at(1),
        at(3),
        at(5),
        at(65.1),
    )
    assert (call.phase, call.cause, call.cause_text, call.hung_up_by) == (
        c.CallPhase.ENDED,
        16,
        "Normal Clearing",
        Party.CUSTOMER,
    )
    assert (call.agent_id, call.held_total, call.hold_count, call.wait_time) == (
        12,
        timedelta(seconds=30),
        1,
        at(5) - at(3),
    )
    assert events[-1] == ev.CallEnded(
        linkedid=L,
        occurred_at=at(65.1),
        cause=16,
        cause_text="Normal Clearing",
        hung_up_by="customer",
        agent_id=12,
        talk_seconds=60.1,
        hold_seconds=30.0,
    )
    assert isinstance(events[5], ev.CallResumed) and events[5].held_seconds == 30.0


def test_busy_originate_response_first_then_the_hangups() -> None:
    """ami-originate-busy: OriginateResponse Failure Reason 5 comes before any Hangup."""
    call, events = run(
        (0.31, cc.OriginateFailed(L, 5, "8-originate")),
        (0.312, cc.HangupChannel(L, "u2", 0, "Unknown")),
        (0.312, cc.HangupChannel(L, L, 0, "Unknown")),
        (0.312, cc.HangupChannel(L, "u1", 17, "User busy")),
        call=dialing(L, "u1", "u2", "u3"),
    )
    assert names(events) == ["CallFailed"]
    assert (call.phase, call.failure, call.originate_reason, call.ended_at) == (
        c.CallPhase.FAILED,
        FailureReason.BUSY,
        5,
        at(0.31),
    )


def test_congestion_hangups_before_the_originate_response_do_not_end_the_call_early() -> None:
    """ami-originate-congestion: two channels hang up (Cause 0, then 34) before OriginateResponse Reason 8."""
    call = dialing(L, "u1", "u2", "u3")
    call, events = run(
        (0.311, cc.HangupChannel(L, "u2", 0, "Unknown", Party.CUSTOMER)),
        (0.311, cc.HangupChannel(L, "u3", 34, "Circuit/channel congestion", Party.CUSTOMER)),
        call=call,
    )
    assert (call.phase, events) == (c.CallPhase.DIALING, [])
    call, events = run(
        (0.312, cc.OriginateFailed(L, 8, "8-originate")),
        (0.312, cc.HangupChannel(L, L, 0, "Unknown")),
        (0.312, cc.HangupChannel(L, "u1", 34, "Circuit/channel congestion")),
        call=call,
    )
    assert names(events) == ["CallFailed"]
    assert events[0] == ev.CallFailed(
        linkedid=L,
        occurred_at=at(0.312),
        reason="congestion",
        cause=34,
        cause_text="Circuit/channel congestion",
        originate_reason=8,
    )


def test_when_every_channel_is_gone_before_the_originate_response_the_causes_decide() -> None:
    """ami-originate-channelid (busy): Cause 17 and 0 on three channels, then Reason 5 — fails once, as busy."""
    call, events = run(
        (6.857, cc.HangupChannel(L, "sim-2", 17, "User busy", Party.CUSTOMER)),
        (6.857, cc.HangupChannel(L, "sim-1", 0, "Unknown", Party.CUSTOMER)),
        (6.859, cc.HangupChannel(L, L, 0, "Unknown", Party.SYSTEM)),
        (6.859, cc.OriginateFailed(L, 5, "8-originate")),
        call=dialing(L, "sim-1", "sim-2"),
    )
    assert names(events) == ["CallFailed"]
    assert (call.failure, call.cause, call.hung_up_by, call.originate_reason) == (
        FailureReason.BUSY,
        17,
        Party.CUSTOMER,
        None,
    )


def test_a_weak_originate_reason_gives_way_to_a_precise_hangup_cause() -> None:
    call, _ = run(
        (1, cc.HangupChannel(L, "u1", 21, "", Party.CUSTOMER)),
        (1, cc.OriginateFailed(L, 0)),
        call=dialing(L, "u1"),
    )
    assert (call.failure, call.cause, call.cause_text, call.originate_reason) == (
        FailureReason.REJECTED,
        21,
        "Call Rejected",
        0,
    )
    call, _ = run((1, cc.OriginateFailed(L, 0)), call=dialing(L))
    assert (call.failure, call.cause) == (FailureReason.ERROR, None)


def test_a_call_hung_up_normally_before_the_answer_is_cancelled() -> None:
    call, events = run((4, cc.HangupChannel(L, L, 16, "Normal Clearing", Party.SYSTEM)), call=dialing(L))
    assert (call.failure, call.cause, call.hung_up_by) == (FailureReason.CANCELLED, 16, Party.SYSTEM)
    assert names(events) == ["CallFailed"]


def test_without_channel_bookkeeping_the_first_hangup_ends_the_call() -> None:
    call, events = run(
        (1, cc.Answer(L)),
        (9, cc.HangupChannel(L, "whatever", 16, "", Party.CUSTOMER)),
        call=dialing(),
    )
    assert (call.phase, call.cause_text, names(events)) == (
        c.CallPhase.ENDED,
        "Normal Clearing",
        ["CallAnswered", "CallEnded"],
    )


def test_repeats_and_late_arrivals_change_nothing() -> None:
    call, events = run(
        (1, cc.Answer(L)),  # OriginateResponse Success before Newstate Ringing/Up
        (1, cc.Ring(L)),
        (1, cc.Answer(L)),
        (1, cc.AddChannel(L, L)),
        (2, cc.ConnectAgent(L, 3)),
        (2, cc.ConnectAgent(L, 3)),
        (3, cc.Hold(L)),
        (4, cc.Hold(L)),
        (5, cc.Resume(L)),
        (6, cc.Resume(L)),
        (7, cc.HangupChannel(L, "u1", 16, "", Party.AGENT)),
        (7, cc.HangupChannel(L, "u1", 16, "", Party.AGENT)),
        call=dialing(L, "u1"),
    )
    assert names(events) == ["CallAnswered", "CallConnectedToAgent", "CallHeld", "CallResumed"]
    assert (call.phase, call.ringing_at, call.answered_at, call.hold_count) == (c.CallPhase.CONNECTED, None, at(1), 1)
    assert call.channels == frozenset({L})
    ended, events = run((8, cc.HangupChannel(L, L, 16, "", Party.CUSTOMER)), call=call)
    assert ended.hung_up_by is Party.AGENT and names(events) == ["CallEnded"]
    for late in (
        cc.HangupChannel(L, "u9", 16),
        cc.OriginateFailed(L, 5),
        cc.Answer(L),
        cc.Hold(L),
        cc.Transfer(L, "801"),
        cc.AddChannel(L, "u10"),
    ):
        assert c.handle(ended, late, at(9)) == (ended, [])


def test_an_originate_response_of_another_originate_cannot_fail_the_live_call() -> None:
    """ami-originate-channelid: a second Originate reused our ChannelId and failed with Reason 0 and our Uniqueid."""
    call = dialing(L, action_id="10-originate")
    with pytest.raises(c.ForeignOriginateResponseError) as error:
        c.handle(call, cc.OriginateFailed(L, 0, "11-originate"), at(1))
    assert error.value.phase is c.CallPhase.DIALING
    answered, _ = c.handle(call, cc.Answer(L), at(2))
    assert answered.phase is c.CallPhase.ANSWERED


def test_an_attended_transfer_moves_the_call_to_another_agent() -> None:
    """ami-atxfer: the first agent's leg hangs up before AttendedTransfer; the call goes on."""
    call, events = run(
        (2.3, cc.Answer(L)),
        (3.3, cc.ConnectAgent(L, 1)),
        (6.1, cc.Hold(L)),
        (10.834, cc.HangupChannel(L, "agent1;2", 16, "Normal Clearing", Party.AGENT)),
        (10.834, cc.Transfer(L, "801")),
        (10.834, cc.Transfer(L, "801")),
        (10.835, cc.HangupChannel(L, "agent1;1", 16, "Normal Clearing", Party.AGENT)),
        (11, cc.ConnectAgent(L, 3)),
        (15.289, cc.HangupChannel(L, "agent3", 16, "Normal Clearing", Party.AGENT)),
        (15.291, cc.HangupChannel(L, L, 16, "Normal Clearing", Party.CUSTOMER)),
        call=dialing(L, "agent1;1", "agent1;2", "agent3"),
    )
    assert names(events) == [
        "CallAnswered",
        "CallConnectedToAgent",
        "CallHeld",
        "CallTransferred",
        "CallConnectedToAgent",
        "CallEnded",
    ]
    assert events[3] == ev.CallTransferred(linkedid=L, occurred_at=at(10.834), target="801", from_agent_id=1)
    assert (call.agents, call.agent_id, call.transfers, call.connected_at) == ((1, 3), 3, ("801",), at(3.3))
    assert call.held_total == at(10.834) - at(6.1)
    assert (call.hung_up_by, call.talk_time) == (Party.AGENT, at(15.291) - at(3.3))


def test_a_bridge_to_an_agent_proves_an_answer_that_was_not_reported() -> None:
    call, events = run((1, cc.Ring(L)), (4, cc.ConnectAgent(L, 5)), call=dialing(L))
    assert names(events) == ["CallRinging", "CallAnswered", "CallConnectedToAgent"]
    assert (call.answered_at, call.connected_at) == (at(4), at(4))


def test_an_answered_call_nobody_took_ends_without_talk_time() -> None:
    """ami-queue-abandon: the customer waits in the queue and hangs up."""
    call, _ = run((2, cc.Answer(L)), (9, cc.HangupChannel(L, L, 16, "", Party.CUSTOMER)), call=dialing(L))
    assert (call.connected_at, call.talk_time, call.wait_time, call.hung_up_by) == (
        None,
        timedelta(0),
        timedelta(seconds=7),
        Party.CUSTOMER,
    )


ANSWERED = run((1, cc.Answer(L)), call=dialing(L))[0]
CONNECTED = run((2, cc.ConnectAgent(L, 1)), call=ANSWERED)[0]

ILLEGAL: list[tuple[c.Call, cc.CallCommand]] = [
    (dialing(L), cc.Hold(L)),
    (dialing(L), cc.Resume(L)),
    (dialing(L), cc.Transfer(L, "801")),
    (dialing(L), cc.Dial(L, "again")),
    (ANSWERED, cc.Hold(L)),
    (ANSWERED, cc.Resume(L)),
    (ANSWERED, cc.OriginateFailed(L, 5)),
    (CONNECTED, cc.ConnectAgent(L, 2)),
    (CONNECTED, cc.OriginateFailed(L, 3)),
]


@pytest.mark.parametrize(("call", "command"), ILLEGAL, ids=[f"{a.phase}-{cmd!r}" for a, cmd in ILLEGAL])
def test_illegal_call_transition_is_refused(call: c.Call, command: cc.CallCommand) -> None:
    with pytest.raises(c.IllegalCallTransitionError) as error:
        c.handle(call, command, at(30))
    assert error.value.phase is call.phase
    assert type(command).__name__ in str(error.value) and call.phase.value in str(error.value)


def test_a_command_needs_its_call() -> None:
    with pytest.raises(c.UnknownCallError):
        c.handle(None, cc.Answer(L), at(0))
    with pytest.raises(ValueError, match="other"):
        c.handle(dialing(L), cc.Answer("other"), at(0))
    with pytest.raises(ValueError, match="timezone"):
        c.handle(None, cc.Dial(L, "x"), datetime(2026, 11, 23))
    with pytest.raises(ValueError, match="Reason 4"):
        c.handle(dialing(L), cc.OriginateFailed(L, 4), at(1))
