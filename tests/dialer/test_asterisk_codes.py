"""The Asterisk code tables, and the call machine replayed on the real captures of shared/fixtures/asterisk."""

from __future__ import annotations

import pytest

from dialer import events as ev
from dialer.state import call as c
from dialer.state.causes import (
    ORIGINATE_REASONS,
    FailureReason,
    cause_text,
    failure_for_cause,
    failure_for_dial_status,
    failure_for_originate,
)
from tests.dialer.ami_replay import FIXTURES, Replay, messages

F = FailureReason

needs_captures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason="shared/fixtures/asterisk is not beside the repository"
)


@pytest.mark.parametrize(
    ("reason", "failure"),
    [(0, F.ERROR), (1, F.REJECTED), (3, F.NO_ANSWER), (5, F.BUSY), (8, F.CONGESTION), (42, F.ERROR)],
)
def test_originate_response_reasons(reason: int, failure: FailureReason) -> None:
    assert failure_for_originate(reason) is failure


def test_originate_reason_4_is_not_a_failure() -> None:
    with pytest.raises(ValueError, match="answered"):
        failure_for_originate(4)


@pytest.mark.parametrize(
    ("cause", "failure", "text"),
    [
        (0, None, "Unknown"),
        (16, None, "Normal Clearing"),
        (31, None, "Normal, unspecified"),
        (17, F.BUSY, "User busy"),
        (18, F.NO_ANSWER, "No user responding"),
        (19, F.NO_ANSWER, "User alerting, no answer"),
        (21, F.REJECTED, "Call Rejected"),
        (1, F.INVALID_NUMBER, "Unallocated (unassigned) number"),
        (28, F.INVALID_NUMBER, "Invalid number format"),
        (20, F.UNREACHABLE, "Subscriber absent"),
        (34, F.CONGESTION, "Circuit/channel congestion"),
        (44, F.CONGESTION, "Requested channel not available"),
        (250, F.ERROR, "cause 250"),
        (None, None, ""),
    ],
)
def test_hangup_causes(cause: int | None, failure: FailureReason | None, text: str) -> None:
    assert (failure_for_cause(cause), cause_text(cause)) == (failure, text)


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        ("ANSWER", None),
        ("BUSY", F.BUSY),
        ("NOANSWER", F.NO_ANSWER),
        ("CONGESTION", F.CONGESTION),
        ("CHANUNAVAIL", F.UNREACHABLE),
        ("CANCEL", F.CANCELLED),
        ("cancel", F.CANCELLED),
        ("ODD", F.ERROR),
    ],
)
def test_dial_statuses(status: str, failure: FailureReason | None) -> None:
    assert failure_for_dial_status(status) is failure


@needs_captures
def test_every_cause_and_reason_in_the_captures_is_in_the_tables() -> None:
    """Asterisk's own Cause-txt must match ours, and no failure Reason it sent may be unknown to us."""
    seen: set[tuple[int, str]] = set()
    for path in sorted(FIXTURES.glob("ami-*.txt")):
        for direction, msg in messages(path.name):
            if direction != "<<<":
                continue
            if msg.get("Event") == "Hangup":
                seen.add((int(msg["Cause"]), msg["Cause-txt"]))
            if msg.get("Event") == "OriginateResponse" and msg["Response"] == "Failure":
                assert int(msg["Reason"]) in ORIGINATE_REASONS
    assert {16, 17, 19, 34, 0} <= {cause for cause, _ in seen}
    assert all(cause_text(cause) == text for cause, text in seen)


# capture -> {linkedid: (phase, failure, cause)}
OUTCOMES: dict[str, dict[str, tuple[c.CallPhase, FailureReason | None, int | None]]] = {
    "ami-originate-answer.txt": {"1795431636.0": (c.CallPhase.ENDED, None, 16)},
    "ami-originate-busy.txt": {"1795431682.0": (c.CallPhase.FAILED, F.BUSY, None)},
    "ami-originate-noanswer.txt": {"1795431688.0": (c.CallPhase.FAILED, F.NO_ANSWER, None)},
    "ami-originate-congestion.txt": {"1795431699.0": (c.CallPhase.FAILED, F.CONGESTION, 34)},
    "ami-originate-channelid.txt": {
        "dialer-call-0001": (c.CallPhase.ENDED, None, 16),
        "dialer-call-0002": (c.CallPhase.FAILED, F.BUSY, 17),
        "dialer-call-0003": (c.CallPhase.ENDED, None, 16),
    },
    "ami-originate-answer-queue-agent.txt": {"1795431704.0": (c.CallPhase.ENDED, None, 16)},
    "ami-queue-abandon.txt": {"1795431718.0": (c.CallPhase.ENDED, None, 16)},
    "ami-atxfer.txt": {"1795431800.0": (c.CallPhase.ENDED, None, 16)},
}


@needs_captures
@pytest.mark.parametrize("capture", sorted(OUTCOMES))
def test_replayed_capture_reaches_the_right_outcome(capture: str) -> None:
    replay = Replay().run(capture)
    outcome = {k: (call.phase, call.failure, call.cause) for k, call in replay.calls.items()}
    assert outcome == OUTCOMES[capture]


@needs_captures
@pytest.mark.parametrize("capture", sorted(p.name for p in FIXTURES.glob("ami-*.txt")) if FIXTURES.is_dir() else [])
def test_every_call_of_every_capture_ends_exactly_once(capture: str) -> None:
    replay = Replay().run(capture)
    for linkedid, call in replay.calls.items():
        own = [e for e in replay.events if getattr(e, "linkedid", None) == linkedid]
        assert isinstance(own[0], ev.CallDialing)
        assert [type(e) for e in own if isinstance(e, ev.CallEnded | ev.CallFailed)] == [
            ev.CallEnded if call.phase is c.CallPhase.ENDED else ev.CallFailed
        ], linkedid
    if capture == "ami-event-flood.txt":
        assert len(replay.calls) == 20 and all(call.cause == 16 for call in replay.calls.values())


@needs_captures
def test_queue_calls_record_the_agent_the_transfer_and_the_abandon() -> None:
    queued = Replay().run("ami-originate-answer-queue-agent.txt").calls["1795431704.0"]
    assert (queued.agents, queued.connected_at is not None) == ((1,), True)
    assert queued.talk_time.total_seconds() > 0
    transferred = Replay().run("ami-atxfer.txt").calls["1795431800.0"]
    assert (transferred.agents, len(transferred.transfers), transferred.hold_count) == ((1,), 1, 1)
    abandoned = Replay().run("ami-queue-abandon.txt").calls["1795431718.0"]
    assert (abandoned.connected_at, abandoned.answered_at is not None) == (None, True)


@needs_captures
def test_the_foreign_originate_response_of_the_capture_is_refused() -> None:
    replay = Replay().run("ami-originate-channelid.txt")
    assert [type(e) for e in replay.refused] == [c.IllegalCallTransitionError, c.ForeignOriginateResponseError]
