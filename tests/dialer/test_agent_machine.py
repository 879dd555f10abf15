"""The agent state machine: every legal transition, every refused one, and the rules agents and leaders notice."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callcenter.bus.events import Event
from dialer import events as ev
from dialer.state.agent import (
    Agent,
    AgentRules,
    AgentStatus,
    IllegalAgentTransitionError,
    NextState,
    apply,
    apply_all,
    decide,
    handle,
)
from dialer.state.agent_commands import (
    AgentCommand,
    Answer,
    EndCall,
    FinishWrapUp,
    GoOnlineNotTaking,
    GoReady,
    LogIn,
    LogOut,
    Pause,
    Reserve,
    Ring,
    RingNoAnswer,
    Withdraw,
)
from dialer.state.reasons import AUTO, UnknownPauseReasonError

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)
S = AgentStatus


def agent(status: AgentStatus, **fields: Any) -> Agent:
    return Agent(user_id=7, status=status, since=T0, **fields)


LOGGED_OUT = agent(S.LOGGED_OUT)
READY = agent(S.READY)
BREAK = agent(S.PAUSED, reason="break")
NOT_TAKING = agent(S.ONLINE_NOT_TAKING)
RESERVED = agent(S.RESERVED, call_id="c1")
RINGING = agent(S.RINGING, call_id="c1")
ON_CALL = agent(S.ON_CALL, call_id="c1")
WRAP_UP = agent(S.WRAP_UP, call_id="c1", wrap_up_until=T0 + timedelta(seconds=30))
LUNCH_NEXT = NextState(S.PAUSED, "lunch")


def wish(base: Agent, next_state: NextState) -> Agent:
    return dataclasses.replace(base, next=next_state)


# (start, command, event types, status after, reason after, call after)
LEGAL: list[tuple[str, Agent, AgentCommand, list[type[Event]], AgentStatus, str | None, str | None]] = [
    ("login", LOGGED_OUT, LogIn(), [ev.AgentLoggedIn], S.ONLINE_NOT_TAKING, None, None),
    ("login-ready", LOGGED_OUT, LogIn(ready=True), [ev.AgentLoggedIn, ev.AgentBecameReady], S.READY, None, None),
    ("logout-twice", LOGGED_OUT, LogOut(), [], S.LOGGED_OUT, None, None),
    ("ready-again", READY, GoReady(), [], S.READY, None, None),
    ("ready-pause", READY, Pause("break"), [ev.AgentPaused], S.PAUSED, "break", None),
    ("ready-not-taking", READY, GoOnlineNotTaking(), [ev.AgentWentOnlineNotTaking], S.ONLINE_NOT_TAKING, None, None),
    ("ready-reserve", READY, Reserve("c1"), [ev.AgentReserved], S.RESERVED, None, "c1"),
    ("ready-ring", READY, Ring("c1"), [ev.AgentRinging], S.RINGING, None, "c1"),
    ("ready-logout", READY, LogOut(), [ev.AgentLoggedOut], S.LOGGED_OUT, None, None),
    ("pause-ready", BREAK, GoReady(), [ev.AgentBecameReady], S.READY, None, None),
    ("pause-other", BREAK, Pause("lunch"), [ev.AgentPaused], S.PAUSED, "lunch", None),
    ("pause-same", BREAK, Pause("break"), [], S.PAUSED, "break", None),
    ("pause-not-taking", BREAK, GoOnlineNotTaking(), [ev.AgentWentOnlineNotTaking], S.ONLINE_NOT_TAKING, None, None),
    ("pause-logout", BREAK, LogOut(), [ev.AgentLoggedOut], S.LOGGED_OUT, None, None),
    ("not-taking-ready", NOT_TAKING, GoReady(), [ev.AgentBecameReady], S.READY, None, None),
    ("not-taking-pause", NOT_TAKING, Pause("meeting"), [ev.AgentPaused], S.PAUSED, "meeting", None),
    ("not-taking-again", NOT_TAKING, GoOnlineNotTaking(), [], S.ONLINE_NOT_TAKING, None, None),
    ("not-taking-logout", NOT_TAKING, LogOut(), [ev.AgentLoggedOut], S.LOGGED_OUT, None, None),
    ("reserved-again", RESERVED, Reserve("c1"), [], S.RESERVED, None, "c1"),
    ("reserved-ring", RESERVED, Ring("c1"), [ev.AgentRinging], S.RINGING, None, "c1"),
    ("reserved-auto-answer", RESERVED, Answer("c1"), [ev.AgentAnsweredCall], S.ON_CALL, None, "c1"),
    ("reserved-withdraw", RESERVED, Withdraw("c1"), [ev.AgentCallWithdrawn, ev.AgentBecameReady], S.READY, None, None),
    (
        "reserved-no-answer",
        RESERVED,
        RingNoAnswer("c1"),
        [ev.AgentMissedCall, ev.AgentBecameReady],
        S.READY,
        None,
        None,
    ),
    ("reserved-pause-later", RESERVED, Pause("break"), [ev.AgentNextStateScheduled], S.RESERVED, None, "c1"),
    ("ringing-again", RINGING, Ring("c1"), [], S.RINGING, None, "c1"),
    ("ringing-answer", RINGING, Answer("c1"), [ev.AgentAnsweredCall], S.ON_CALL, None, "c1"),
    ("ringing-no-answer", RINGING, RingNoAnswer("c1"), [ev.AgentMissedCall, ev.AgentBecameReady], S.READY, None, None),
    ("ringing-withdraw", RINGING, Withdraw("c1"), [ev.AgentCallWithdrawn, ev.AgentBecameReady], S.READY, None, None),
    (
        "ringing-second-miss-auto-pause",
        agent(S.RINGING, call_id="c1", missed_rings=1),
        RingNoAnswer("c1"),
        [ev.AgentMissedCall, ev.AgentPaused],
        S.PAUSED,
        AUTO,
        None,
    ),
    (
        "ringing-miss-goes-to-wish",
        wish(RINGING, LUNCH_NEXT),
        RingNoAnswer("c1"),
        [ev.AgentMissedCall, ev.AgentPaused],
        S.PAUSED,
        "lunch",
        None,
    ),
    (
        "ringing-withdraw-goes-to-wish",
        wish(RINGING, LUNCH_NEXT),
        Withdraw("c1"),
        [ev.AgentCallWithdrawn, ev.AgentPaused],
        S.PAUSED,
        "lunch",
        None,
    ),
    ("call-answer-again", ON_CALL, Answer("c1"), [], S.ON_CALL, None, "c1"),
    ("call-end-wrap-up", ON_CALL, EndCall("c1", 30), [ev.AgentStartedWrapUp], S.WRAP_UP, None, "c1"),
    ("call-end-open-wrap-up", ON_CALL, EndCall("c1", None), [ev.AgentStartedWrapUp], S.WRAP_UP, None, "c1"),
    ("call-end-no-wrap-up", ON_CALL, EndCall("c1", 0), [ev.AgentBecameReady], S.READY, None, None),
    ("call-pause-later", ON_CALL, Pause("lunch"), [ev.AgentNextStateScheduled], S.ON_CALL, None, "c1"),
    ("call-not-taking-later", ON_CALL, GoOnlineNotTaking(), [ev.AgentNextStateScheduled], S.ON_CALL, None, "c1"),
    ("call-logout-later", ON_CALL, LogOut(), [ev.AgentNextStateScheduled], S.ON_CALL, None, "c1"),
    ("call-forced-logout", ON_CALL, LogOut(force=True), [ev.AgentLoggedOut], S.LOGGED_OUT, None, None),
    ("call-ready-no-wish", ON_CALL, GoReady(), [], S.ON_CALL, None, "c1"),
    (
        "call-ready-cancels-wish",
        wish(ON_CALL, LUNCH_NEXT),
        GoReady(),
        [ev.AgentNextStateCancelled],
        S.ON_CALL,
        None,
        "c1",
    ),
    ("call-same-wish", wish(ON_CALL, LUNCH_NEXT), Pause("lunch"), [], S.ON_CALL, None, "c1"),
    (
        "call-end-goes-to-wish",
        wish(ON_CALL, LUNCH_NEXT),
        EndCall("c1", 0),
        [ev.AgentPaused],
        S.PAUSED,
        "lunch",
        None,
    ),
    ("wrap-up-finish", WRAP_UP, FinishWrapUp(), [ev.AgentBecameReady], S.READY, None, None),
    ("wrap-up-timer", WRAP_UP, FinishWrapUp("c1"), [ev.AgentBecameReady], S.READY, None, None),
    ("wrap-up-stale-timer", WRAP_UP, FinishWrapUp("c0"), [], S.WRAP_UP, None, "c1"),
    ("wrap-up-end-again", WRAP_UP, EndCall("c1", 30), [], S.WRAP_UP, None, "c1"),
    ("wrap-up-ready", WRAP_UP, GoReady(), [ev.AgentBecameReady], S.READY, None, None),
    ("wrap-up-pause-later", WRAP_UP, Pause("break"), [ev.AgentNextStateScheduled], S.WRAP_UP, None, "c1"),
    ("wrap-up-to-pause", wish(WRAP_UP, LUNCH_NEXT), FinishWrapUp(), [ev.AgentPaused], S.PAUSED, "lunch", None),
    (
        "wrap-up-to-not-taking",
        wish(WRAP_UP, NextState(S.ONLINE_NOT_TAKING)),
        FinishWrapUp(),
        [ev.AgentWentOnlineNotTaking],
        S.ONLINE_NOT_TAKING,
        None,
        None,
    ),
    (
        "wrap-up-to-logout",
        wish(WRAP_UP, NextState(S.LOGGED_OUT)),
        FinishWrapUp(),
        [ev.AgentLoggedOut],
        S.LOGGED_OUT,
        None,
        None,
    ),
    ("wrap-up-ready-drops-wish", wish(WRAP_UP, LUNCH_NEXT), GoReady(), [ev.AgentBecameReady], S.READY, None, None),
    ("ready-stale-timer", READY, FinishWrapUp("c1"), [], S.READY, None, None),
]


@pytest.mark.parametrize(
    ("start", "command", "types", "status", "reason", "call_id"),
    [case[1:] for case in LEGAL],
    ids=[case[0] for case in LEGAL],
)
def test_legal_transition(
    start: Agent,
    command: AgentCommand,
    types: list[type[Event]],
    status: AgentStatus,
    reason: str | None,
    call_id: str | None,
) -> None:
    after, events = handle(start, command, NOW)
    assert [type(e) for e in events] == types
    assert all(e.occurred_at == NOW and getattr(e, "user_id", None) == 7 for e in events)
    assert (after.status, after.reason, after.call_id) == (status, reason, call_id)
    changed = (after.status, after.reason, after.call_id) != (start.status, start.reason, start.call_id)
    assert after.since == (NOW if changed else T0)


ILLEGAL: list[tuple[Agent, AgentCommand]] = [
    *[
        (LOGGED_OUT, command)
        for command in (
            GoReady(),
            Pause("break"),
            GoOnlineNotTaking(),
            Reserve("c1"),
            Ring("c1"),
            Answer("c1"),
            RingNoAnswer("c1"),
            Withdraw("c1"),
            EndCall("c1", 0),
            FinishWrapUp(),
        )
    ],
    (READY, LogIn()),
    (READY, Answer("c1")),
    (READY, RingNoAnswer("c1")),
    (READY, Withdraw("c1")),
    (READY, EndCall("c1", 0)),
    (READY, FinishWrapUp()),
    (BREAK, Reserve("c1")),
    (BREAK, Ring("c1")),
    (BREAK, LogIn()),
    (NOT_TAKING, Reserve("c1")),
    (NOT_TAKING, Ring("c1")),
    (RESERVED, Reserve("c2")),
    (RESERVED, Ring("c2")),
    (RESERVED, Answer("c2")),
    (RESERVED, EndCall("c1", 0)),
    (RESERVED, FinishWrapUp()),
    (RINGING, Reserve("c1")),
    (RINGING, Answer("c2")),
    (RINGING, EndCall("c1", 0)),
    (RINGING, RingNoAnswer("c2")),
    (ON_CALL, Reserve("c2")),
    (ON_CALL, Ring("c2")),
    (ON_CALL, RingNoAnswer("c1")),
    (ON_CALL, Withdraw("c1")),
    (ON_CALL, EndCall("c2", 0)),
    (ON_CALL, FinishWrapUp()),
    (ON_CALL, LogIn()),
    (WRAP_UP, Reserve("c2")),
    (WRAP_UP, Ring("c2")),
    (WRAP_UP, Answer("c1")),
    (WRAP_UP, EndCall("c2", 0)),
]


@pytest.mark.parametrize(("start", "command"), ILLEGAL, ids=[f"{a.status}-{c!r}" for a, c in ILLEGAL])
def test_illegal_transition_is_refused_naming_state_and_command(start: Agent, command: AgentCommand) -> None:
    with pytest.raises(IllegalAgentTransitionError) as error:
        decide(start, command, NOW)
    assert error.value.status is start.status
    assert error.value.command == command
    assert type(command).__name__ in str(error.value)
    assert start.status.value in str(error.value)


def test_an_unknown_pause_reason_is_refused() -> None:
    with pytest.raises(UnknownPauseReasonError):
        decide(READY, Pause("coffee"), NOW)
    with pytest.raises(UnknownPauseReasonError):
        decide(ON_CALL, Pause("coffee"), NOW)


def test_a_pause_asked_during_a_call_waits_for_the_end_of_wrap_up() -> None:
    """The agent clicks "lunch" while talking: the call goes on, and lunch starts when his notes are done."""
    state, _ = handle(ON_CALL, Pause("lunch"), NOW)
    assert state.next == LUNCH_NEXT
    state, events = handle(state, EndCall("c1", 30), NOW + timedelta(minutes=1))
    assert [type(e) for e in events] == [ev.AgentStartedWrapUp]
    assert (state.status, state.next) == (S.WRAP_UP, LUNCH_NEXT)
    later = NOW + timedelta(minutes=1, seconds=30)
    assert state.wrap_up_due(later) and not state.wrap_up_due(later - timedelta(seconds=1))
    state, events = handle(state, FinishWrapUp("c1"), later)
    assert [(type(e), getattr(e, "reason", None)) for e in events] == [(ev.AgentPaused, "lunch")]
    assert (state.status, state.reason, state.next, state.since) == (S.PAUSED, "lunch", None, later)


def test_a_logout_during_a_call_waits_and_a_forced_one_names_the_call() -> None:
    state, events = handle(ON_CALL, LogOut(), NOW)
    assert isinstance(events[0], ev.AgentNextStateScheduled) and events[0].next_state == "logged_out"
    state, events = handle(state, EndCall("c1", 0), NOW)
    assert isinstance(events[0], ev.AgentLoggedOut) and not events[0].forced
    assert state.status is S.LOGGED_OUT
    _, events = handle(ON_CALL, LogOut(force=True), NOW)
    assert events[0] == ev.AgentLoggedOut(user_id=7, occurred_at=NOW, forced=True, interrupted_call_id="c1")


def test_missed_rings_count_until_an_answer_and_pause_automatically() -> None:
    rules = AgentRules(max_missed_rings=3)
    state = READY
    for expected in (1, 2):
        state, _ = handle(state, Ring(f"c{expected}"), NOW, rules)
        state, events = handle(state, RingNoAnswer(f"c{expected}"), NOW, rules)
        assert isinstance(events[0], ev.AgentMissedCall) and events[0].consecutive == expected
        assert state.status is S.READY
    state, _ = handle(state, Ring("c3"), NOW, rules)
    state, _ = handle(state, Answer("c3"), NOW, rules)
    assert state.missed_rings == 0
    state, _ = handle(state, EndCall("c3", 0), NOW, rules)
    for n in (4, 5, 6):
        state, _ = handle(state, Ring(f"c{n}"), NOW, rules)
        state, events = handle(state, RingNoAnswer(f"c{n}"), NOW, rules)
    assert [type(e) for e in events] == [ev.AgentMissedCall, ev.AgentPaused]
    assert (state.status, state.reason, state.missed_rings) == (S.PAUSED, AUTO, 0)


def test_a_withdrawn_call_is_not_a_miss_and_auto_pause_can_be_switched_off() -> None:
    state, _ = handle(agent(S.RINGING, call_id="c1", missed_rings=1), Withdraw("c1"), NOW)
    assert (state.status, state.missed_rings) == (S.READY, 1)
    never = AgentRules(max_missed_rings=None)
    state, _ = handle(agent(S.RINGING, call_id="c1", missed_rings=50), RingNoAnswer("c1"), NOW, never)
    assert (state.status, state.missed_rings) == (S.READY, 51)
    state, _ = handle(RINGING, RingNoAnswer("c1"), NOW, AgentRules(max_missed_rings=1))
    assert (state.status, state.reason) == (S.PAUSED, AUTO)


def test_replaying_the_published_events_rebuilds_the_same_state() -> None:
    """A team leader's screen only sees the ``agents`` stream; it must arrive at the service's state."""
    commands: list[AgentCommand] = [
        LogIn(),
        GoReady(),
        Reserve("c1"),
        Ring("c1"),
        Pause("break"),
        Answer("c1"),
        EndCall("c1", None),
        FinishWrapUp(),
        GoReady(),
        Ring("c2"),
        LogOut(),
        Withdraw("c2"),
    ]
    state, published = LOGGED_OUT, []
    for minute, command in enumerate(commands):
        state, events = handle(state, command, T0 + timedelta(minutes=minute))
        published.extend(events)
    assert state.status is S.LOGGED_OUT
    assert apply_all(LOGGED_OUT, published) == state
    assert [type(e).__name__ for e in published][-3:] == [
        "AgentNextStateScheduled",
        "AgentCallWithdrawn",
        "AgentLoggedOut",
    ]


def test_state_only_takes_its_own_agents_events_and_aware_times() -> None:
    with pytest.raises(ValueError, match="agent 8"):
        apply(READY, ev.AgentPaused(user_id=8, reason="break"))
    with pytest.raises(ValueError, match="timezone"):
        decide(READY, GoReady(), datetime(2026, 11, 23, 9, 0))
    with pytest.raises(ValueError, match="call_id"):
        Reserve("")
    with pytest.raises(ValueError, match="negative"):
        EndCall("c1", -1)
    with pytest.raises(ValueError, match="at least 1"):
        AgentRules(max_missed_rings=0)
