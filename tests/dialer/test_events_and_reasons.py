"""The dialer's bus events survive JSON; pause reasons are a valid, configurable set."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.bus.events import Event, event_from_dict
from dialer import events as ev
from dialer.state.reasons import AUTO, DEFAULT_REASONS, PauseReason, PauseReasons, UnknownPauseReasonError

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

SAMPLES: list[Event] = [
    ev.AgentLoggedIn(user_id=1, occurred_at=NOW),
    ev.AgentBecameReady(user_id=1, occurred_at=NOW),
    ev.AgentPaused(user_id=1, occurred_at=NOW, reason="lunch"),
    ev.AgentWentOnlineNotTaking(user_id=1, occurred_at=NOW),
    ev.AgentReserved(user_id=1, occurred_at=NOW, call_id="c1"),
    ev.AgentRinging(user_id=1, occurred_at=NOW, call_id="c1"),
    ev.AgentAnsweredCall(user_id=1, occurred_at=NOW, call_id="c1"),
    ev.AgentMissedCall(user_id=1, occurred_at=NOW, call_id="c1", consecutive=2),
    ev.AgentCallWithdrawn(user_id=1, occurred_at=NOW, call_id="c1"),
    ev.AgentStartedWrapUp(user_id=1, occurred_at=NOW, call_id="c1", until=NOW + timedelta(seconds=30)),
    ev.AgentStartedWrapUp(user_id=1, occurred_at=NOW, call_id="c1", until=None),
    ev.AgentNextStateScheduled(user_id=1, occurred_at=NOW, next_state="paused", reason="break"),
    ev.AgentNextStateCancelled(user_id=1, occurred_at=NOW),
    ev.AgentLoggedOut(user_id=1, occurred_at=NOW, forced=True, interrupted_call_id="c1"),
    ev.CallDialing(linkedid="1795431636.0", occurred_at=NOW, destination="Local/5551234@outbound"),
    ev.CallRinging(linkedid="1795431636.0", occurred_at=NOW),
    ev.CallAnswered(linkedid="1795431636.0", occurred_at=NOW),
    ev.CallConnectedToAgent(linkedid="1795431636.0", occurred_at=NOW, agent_id=1),
    ev.CallHeld(linkedid="1795431636.0", occurred_at=NOW),
    ev.CallResumed(linkedid="1795431636.0", occurred_at=NOW, held_seconds=12.5),
    ev.CallTransferred(linkedid="1795431636.0", occurred_at=NOW, target="801", from_agent_id=None),
    ev.CallEnded(
        linkedid="1795431636.0",
        occurred_at=NOW,
        cause=16,
        cause_text="Normal Clearing",
        hung_up_by="customer",
        agent_id=1,
        talk_seconds=61.0,
        hold_seconds=0.0,
    ),
    ev.CallFailed(linkedid="x", occurred_at=NOW, reason="busy", cause=None, cause_text="", originate_reason=5),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_through_json(event: Event) -> None:
    payload = json.loads(json.dumps(event.to_dict()))
    assert event_from_dict(payload) == event
    assert ("agents" if type(event).__name__.startswith("Agent") else "calls") == event.STREAM


def test_events_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SAMPLES[2].reason = "break"  # type: ignore[attr-defined]


def test_default_reasons_and_the_automatic_one() -> None:
    reasons = PauseReasons()
    assert [r.code for r in reasons] == ["break", "lunch", "training", "meeting", "back_office", AUTO]
    assert AUTO not in [r.code for r in reasons.selectable()]
    assert reasons.get("lunch").label("tr") == "Yemek" and reasons.get("lunch").label("en") == "Lunch"
    assert {r.code for r in reasons if r.productive} == {"training", "meeting", "back_office"}
    with pytest.raises(UnknownPauseReasonError):
        reasons.get("coffee")
    assert "break" in reasons and "coffee" not in reasons


def test_a_break_too_long_is_flagged() -> None:
    coffee = DEFAULT_REASONS[0]
    assert coffee.overrun(timedelta(minutes=15)) is None
    assert coffee.overrun(timedelta(minutes=21)) == timedelta(minutes=6)
    assert PauseReasons().get("training").overrun(timedelta(hours=5)) is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: PauseReason("Mola!", "Mola", "Break"),
        lambda: PauseReason("mola", "", "Break"),
        lambda: PauseReason("mola", "Mola", "Break", max_minutes=0),
        lambda: PauseReasons([PauseReason("mola", "Mola", "Break"), PauseReason("mola", "Mola 2", "Break 2")]),
    ],
)
def test_a_badly_configured_reason_is_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
