"""The pure parts: translation of real Asterisk messages, the resync plan, agent offers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from dialer import events as ev
from dialer.ami.message import AmiMessage
from dialer.ami.offers import AgentOffers
from dialer.ami.resync import LOST_CAUSE_TEXT, lost, plan
from dialer.ami.translate import (
    RELEVANT,
    ChannelRoles,
    ChannelSnapshot,
    agent_command,
    call_commands,
    channel_snapshot,
    new_call,
    queue_member,
)
from dialer.state import agent_commands as ac
from dialer.state import call as c
from dialer.state import call_commands as cc
from dialer.state.causes import FailureReason, Party
from tests.dialer.ami_replay import messages

ROLES = ChannelRoles()
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def received(capture: str, event: str) -> list[AmiMessage]:
    return [AmiMessage(m.items()) for d, m in messages(capture) if d == "<<<" and m.get("Event") == event]


def test_message_lookups_ignore_case_and_keep_order() -> None:
    msg = AmiMessage([("Event", "VarSet"), ("Variable", "A"), ("variable", "B"), ("Value", "1")])
    assert msg.event == "VarSet" and msg.get("VARIABLE") == "A" and msg.get_all("Variable") == ["A", "B"]
    assert "value" in msg and "nope" not in msg and msg.get("nope", "-") == "-"
    assert msg.headers[1:3] == (("Variable", "A"), ("variable", "B"))


def test_newchannel_and_hangup() -> None:
    first, *_ = received("ami-originate-answer.txt", "Newchannel")
    assert call_commands(first, ROLES) == (cc.AddChannel(first.get("Linkedid"), first.get("Uniqueid")),)
    assert new_call(first, ROLES) == cc.Dial(first.get("Linkedid"), "5551234")
    hangups = received("ami-originate-busy.txt", "Hangup")
    commands = [call_commands(h, ROLES)[0] for h in hangups]
    assert all(isinstance(cmd, cc.HangupChannel) for cmd in commands)
    by_channel = {h.get("Channel"): cmd for h, cmd in zip(hangups, commands, strict=True)}
    busy = by_channel["Local/busy@sim-00000001;2"]
    assert isinstance(busy, cc.HangupChannel) and busy.cause == 17 and busy.cause_text == "User busy"
    assert busy.party is Party.CUSTOMER
    ours = by_channel["Local/busy@outbound-00000000;1"]
    assert isinstance(ours, cc.HangupChannel) and ours.party is Party.SYSTEM


def test_only_the_first_channel_through_the_outbound_context_is_a_new_call() -> None:
    newchannels = received("ami-originate-answer-queue-agent.txt", "Newchannel")
    dials = [new_call(m, ROLES) for m in newchannels]
    assert [d for d in dials if d is not None] == [cc.Dial("1795431704.0", "5551234")]
    other = ChannelRoles(outbound_context="dialer-out")
    assert all(new_call(m, other) is None for m in newchannels)


def test_originate_response() -> None:
    (answered,) = received("ami-originate-answer.txt", "OriginateResponse")
    assert call_commands(answered, ROLES) == (cc.Answer(answered.get("Uniqueid")),)
    (busy,) = received("ami-originate-busy.txt", "OriginateResponse")
    assert busy.get("Uniqueid") == "<unknown>"
    assert call_commands(busy, ROLES) == ()  # no ChannelId, not ours: nothing to address it to
    assert call_commands(busy, ROLES, {busy.action_id: "ours"}) == (cc.OriginateFailed("ours", 5, busy.action_id),)
    with_id = received("ami-originate-channelid.txt", "OriginateResponse")
    duplicate = next(m for m in with_id if m.get("Reason") == "0")
    assert call_commands(duplicate, ROLES) == (cc.OriginateFailed("dialer-call-0003", 0, "11-originate"),)


def test_queue_agent_events() -> None:
    capture = "ami-originate-answer-queue-agent.txt"
    (called,) = received(capture, "AgentCalled")
    (connect,) = received(capture, "AgentConnect")
    (complete,) = received(capture, "AgentComplete")
    call = "1795431704.0"
    assert agent_command(called, ROLES) == (1, ac.Ring(call))
    assert agent_command(connect, ROLES) == (1, ac.Answer(call))
    assert call_commands(connect, ROLES) == (cc.ConnectAgent(call, 1),)
    assert agent_command(complete, ROLES, wrap_up_seconds=None) == (1, ac.EndCall(call, None))
    ring_no_answer = AmiMessage.of(Event="AgentRingNoAnswer", Linkedid=call, Interface="Local/agent7@sim-agents/n")
    assert agent_command(ring_no_answer, ROLES) == (7, ac.RingNoAnswer(call))
    assert agent_command(AmiMessage.of(Event="AgentCalled", Linkedid=call, Interface="SIP/front-desk"), ROLES) is None


def test_hold_and_transfers() -> None:
    (hold,) = received("ami-atxfer.txt", "Hold")
    assert call_commands(hold, ROLES) == (cc.Hold("1795431800.0"),)
    (attended,) = received("ami-atxfer.txt", "AttendedTransfer")
    assert call_commands(attended, ROLES) == (cc.Transfer("1795431800.0", "Local/801@fixture-xfer-00000003;1"),)
    blind = AmiMessage.of(
        Event="BlindTransfer", Result="Success", TransfereeLinkedid="L", Extension="801", Context="xfer"
    )
    assert call_commands(blind, ROLES) == (cc.Transfer("L", "801@xfer"),)
    failed = AmiMessage.of(Event="BlindTransfer", Result="Fail", TransfereeLinkedid="L")
    assert call_commands(failed, ROLES) == ()


def test_unknown_events_are_cheap() -> None:
    flood = [AmiMessage(m.items()) for d, m in messages("ami-event-flood.txt") if d == "<<<" and "Event" in m]
    assert len(flood) == 2082
    relevant = [m for m in flood if m.event in RELEVANT]
    commands = [cmd for m in relevant for cmd in call_commands(m, ROLES)]
    # Only a sixth of the stream is looked at beyond a set lookup (DialBegin/DialEnd only for calls sent to an
    # agent's phone): 80 Newchannel, 40 DialState RINGING, 20 OK, 80 Hangup make commands.
    assert len(relevant) < 400 and len(commands) == 220
    assert call_commands(AmiMessage.of(Event="VarSet", Linkedid="x"), ROLES) == ()


def test_snapshots() -> None:
    listed = [
        AmiMessage(m.items()) for d, m in messages("ami-core-show-channels.txt") if m.get("Event") == "CoreShowChannel"
    ]
    snapshots = [channel_snapshot(m) for m in listed]
    assert len(snapshots) == 10 and all(s is not None for s in snapshots)
    agent = next(s for s in snapshots if s is not None and s.channel.startswith("Local/agent1"))
    assert agent.linkedid == "1795431742.0" and agent.is_up and agent.seconds == 2
    members = [queue_member(m) for m in received("ami-queue-member-ops.txt", "QueueMember")]
    paused = members[0]  # QueueStatus after QueuePause Reason=Lunch: Name/Location, not MemberName/Interface
    assert paused is not None and paused.queue == "sales" and paused.paused and paused.paused_reason == "Lunch"
    assert paused.name == "Agent Three" and paused.interface == "Local/agent3@sim-agents/n"
    (event,) = received("ami-queue-member-ops.txt", "QueueMemberAdded")
    assert queue_member(event) == dataclasses.replace(paused, paused=False, paused_reason="")


def _call(linkedid: str, *channels: str, answered: bool = False) -> c.Call:
    call, _ = c.handle(None, cc.Dial(linkedid, "5551234"), NOW)
    for uniqueid in channels:
        call, _ = c.handle(call, cc.AddChannel(linkedid, uniqueid), NOW)
    if answered:
        call, _ = c.handle(call, cc.Answer(linkedid), NOW)
    return call


def _snap(
    uniqueid: str, linkedid: str, channel: str = "PJSIP/trunk-00000001", state: int = 6, context: str = ""
) -> ChannelSnapshot:
    return ChannelSnapshot(uniqueid, linkedid, channel, state, 42, context, "05321112233")


def test_resync_plan() -> None:
    calls = {
        "gone": _call("gone", "gone", "gone-2", answered=True),
        "kept": _call("kept", "kept", "kept-2"),
        "fresh": _call("fresh"),
        "unseen": _call("unseen"),
    }
    snapshot = [
        _snap("kept", "kept", "Local/5551234@outbound-00000002;1", state=6),
        _snap("kept-3", "kept"),
        _snap("adopt", "adopt", "Local/5559876@outbound-00000009;1", state=5),
        _snap("adopt-2", "adopt"),
        _snap("other", "other", "PJSIP/trunk-0000000a", context="some-app"),
        _snap("inbound", "inbound", "PJSIP/trunk-0000000b", context="from-trunk"),
    ]
    result = plan(calls, snapshot, ROLES, keep={"fresh"})
    assert result.lost == ("gone", "unseen")
    assert result.commands == (
        lost("gone", "gone"),
        lost("gone", "gone-2"),
        cc.AddChannel("kept", "kept-3"),
        cc.Answer("kept"),
        lost("kept", "kept-2"),
        lost("unseen", "unseen"),  # told of no channel: its Linkedid stands in for one
    )
    assert lost("x", "y") == cc.HangupChannel("x", "y", None, LOST_CAUSE_TEXT, Party.SYSTEM)
    adoption, caller = result.adoptions
    assert adoption.dial == cc.Dial("adopt", "5559876") and adoption.age_seconds == 42
    assert adoption.commands == (cc.AddChannel("adopt", "adopt"), cc.AddChannel("adopt", "adopt-2"), cc.Ring("adopt"))
    # A caller's call in progress is adopted too (a trunk call in the inbound context); another application's is not.
    assert caller.dial == cc.Dial("inbound", "05321112233", inbound=True)
    assert caller.commands == (cc.AddChannel("inbound", "inbound"), cc.Answer("inbound"))

    # Run through the machine: every tracked call that is gone ends once, with the lost cause.
    over: list[str] = []
    for command in result.commands:
        call, events = c.handle(calls[command.linkedid], command, NOW)
        calls[command.linkedid] = call
        over += [e.linkedid for e in events if isinstance(e, ev.CallEnded | ev.CallFailed)]
    assert calls["gone"].phase is c.CallPhase.ENDED and calls["gone"].cause_text == LOST_CAUSE_TEXT
    assert calls["unseen"].phase is c.CallPhase.FAILED and calls["unseen"].failure is FailureReason.CANCELLED
    assert calls["kept"].phase is c.CallPhase.ANSWERED and calls["kept"].channels == {"kept", "kept-3"}
    assert over == ["gone", "unseen"]  # each once; "kept" only caught up (CallAnswered)


@pytest.mark.parametrize("wrap_up", [0, None])
def test_agent_offers(wrap_up: int | None) -> None:
    offers = AgentOffers(wrap_up_seconds=wrap_up)
    assert (
        offers.note(1, ac.Ring("A")) == [] and offers.note(2, ac.Ring("A")) == [] and offers.note(3, ac.Ring("A")) == []
    )
    assert offers.note(3, ac.RingNoAnswer("A")) == []
    assert offers.note(1, ac.Answer("A")) == [(2, ac.Withdraw("A"))]  # ringall: the other ring stops
    assert offers.call_over("A") == [(1, ac.EndCall("A", wrap_up))]  # no AgentComplete came (PBX restart)
    offers.note(4, ac.Ring("B"))
    assert offers.abandoned("B") == [(4, ac.Withdraw("B"))]
    offers.note(5, ac.Ring("C"))
    offers.note(6, ac.Answer("D"))
    offers.note(6, ac.EndCall("D"))
    assert offers.keep_only(["C"]) == [] and offers.calls == {"C"}
    assert offers.keep_only([]) == [(5, ac.Withdraw("C"))] and offers.calls == set()
