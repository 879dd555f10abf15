"""The agent state machine: pure code, no I/O, no clock (``now`` is always given).

``decide(agent, command, now)`` answers a command (:mod:`dialer.state.agent_commands`) with the events it causes
(or raises :class:`IllegalAgentTransitionError`); ``apply(agent, event)`` folds one event into the state. The
service stores and publishes what ``decide`` returns; a live screen that only reads the ``agents`` stream rebuilds
the same state with ``apply``. Each command has one handler, all listed in ``_HANDLERS``::

    logged_out --LogIn--> online_not_taking <----> ready <----> paused(reason)
                          (the three reach each other | ^ with GoOnlineNotTaking, GoReady, Pause)
                                                      | |
                    +------ Reserve / Ring -----------+ | Withdraw, RingNoAnswer, FinishWrapUp,
                    v                                   | EndCall without wrap-up
                reserved --Ring--> ringing --Answer--> on_call --EndCall--> wrap_up
                    +--------Answer (auto-answer)---------^

    When a call is over the agent goes to ready, or to the state he asked for during it (paused,
    online_not_taking, logged_out); N unanswered rings in a row: paused "auto". LogOut from every logged-in state.

Rules a call center relies on (see the tests for every case):

* **Pause after this call.** An agent who asks for a pause (or for "online, not taking calls", or to log out)
  while a call is being offered to him, is on a call or is in wrap-up is not refused: the wish is scheduled
  (:class:`AgentNextStateScheduled`) and taken when the call is over — after wrap-up, or at once when the offer is
  withdrawn or rings unanswered. GoReady during the call cancels the wish. A call is never cut by a pause.
* **Log out during a call** is scheduled the same way (the agent still finishes his notes in wrap-up), unless
  it is forced (``LogOut(force=True)``: a supervisor, an expired session, the end of a shift), which logs out at
  once and names the interrupted call so the dialer can take care of it.
* **Ring, no answer.** A call that rings unanswered on the agent's phone sends him back to ready (the dialer
  offers the call elsewhere); after ``max_missed_rings`` misses in a row he is paused with reason ``auto``, as
  Asterisk's queue autopause and commercial dialers' "RONA" do, so the dialer stops offering calls to an empty
  desk. A call withdrawn before he could answer (the customer hung up) is not counted.
* **Idempotent where the PBX repeats:** a duplicate Ring, Answer or EndCall for the call the agent already has is
  a no-op, as is a FinishWrapUp from a wrap-up timer that fired for an earlier call.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from callcenter.bus.events import Event
from dialer import events as ev
from dialer.state.agent_commands import (
    AgentCallCommand,
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
from dialer.state.reasons import AUTO, PauseReasons


class AgentStatus(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    ONLINE_NOT_TAKING = "online_not_taking"


#: States in which the agent has a call (offered, live or being wrapped up): other wishes wait for its end.
WITH_CALL = frozenset({AgentStatus.RESERVED, AgentStatus.RINGING, AgentStatus.ON_CALL, AgentStatus.WRAP_UP})
_OFFERED = frozenset({AgentStatus.RESERVED, AgentStatus.RINGING})


@dataclasses.dataclass(frozen=True)
class NextState:
    """What the agent asked to become once his current call is over."""

    status: AgentStatus  # PAUSED, ONLINE_NOT_TAKING or LOGGED_OUT
    reason: str | None = None


@dataclasses.dataclass(frozen=True)
class Agent:
    """An agent's state. ``since`` is when the current period (status, reason, call) began."""

    user_id: int
    status: AgentStatus = AgentStatus.LOGGED_OUT
    since: datetime | None = None
    reason: str | None = None
    call_id: str | None = None
    wrap_up_until: datetime | None = None
    next: NextState | None = None
    missed_rings: int = 0

    @property
    def has_call(self) -> bool:
        return self.status in WITH_CALL

    def wrap_up_due(self, now: datetime) -> bool:
        """True when a timed wrap-up is over: the dialer then sends :class:`FinishWrapUp`."""
        return self.status is AgentStatus.WRAP_UP and self.wrap_up_until is not None and now >= self.wrap_up_until


# -- rules and errors -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AgentRules:
    """Per-installation settings. ``max_missed_rings``: misses in a row before the auto pause (None: never)."""

    reasons: PauseReasons = dataclasses.field(default_factory=PauseReasons)
    max_missed_rings: int | None = 2

    def __post_init__(self) -> None:
        if self.max_missed_rings is not None and self.max_missed_rings < 1:
            raise ValueError("max_missed_rings must be at least 1 (or None)")


DEFAULT_RULES = AgentRules()


class IllegalAgentTransitionError(ValueError):
    """The command makes no sense in the agent's state; the state is unchanged."""

    def __init__(self, agent: Agent, command: AgentCommand, why: str) -> None:
        super().__init__(f"agent {agent.user_id}: cannot {type(command).__name__} while {agent.status.value}: {why}")
        self.status = agent.status
        self.command = command
        self.why = why


# -- decide ---------------------------------------------------------------------------------------------------------

Handler = Callable[[Agent, Any, datetime, AgentRules], list[Event]]


def decide(agent: Agent, command: AgentCommand, now: datetime, rules: AgentRules = DEFAULT_RULES) -> list[Event]:
    """The events ``command`` causes at ``now`` (empty when it changes nothing). Raises, never half-applies."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"not an agent command: {command!r}")
    return handler(agent, command, now, rules)


def _event(cls: type[ev.AgentEvent], agent: Agent, now: datetime, **fields: Any) -> Event:
    return cls(user_id=agent.user_id, occurred_at=now, **fields)


def _illegal(agent: Agent, command: AgentCommand, why: str) -> IllegalAgentTransitionError:
    return IllegalAgentTransitionError(agent, command, why)


def _after_call(agent: Agent, now: datetime) -> list[Event]:
    """Where the agent goes when his call (or the offer of one) is over: his scheduled wish, else ready."""
    wish = agent.next
    if wish is None:
        return [_event(ev.AgentBecameReady, agent, now)]
    if wish.status is AgentStatus.PAUSED:
        return [_event(ev.AgentPaused, agent, now, reason=wish.reason)]
    if wish.status is AgentStatus.ONLINE_NOT_TAKING:
        return [_event(ev.AgentWentOnlineNotTaking, agent, now)]
    return [_event(ev.AgentLoggedOut, agent, now)]


def _schedule(agent: Agent, now: datetime, wish: NextState) -> list[Event]:
    if agent.next == wish:
        return []
    return [_event(ev.AgentNextStateScheduled, agent, now, next_state=wish.status.value, reason=wish.reason)]


def _same_call(agent: Agent, command: AgentCallCommand, states: frozenset[AgentStatus]) -> bool:
    return agent.status in states and agent.call_id == command.call_id


def _log_in(agent: Agent, command: LogIn, now: datetime, rules: AgentRules) -> list[Event]:
    if agent.status is not AgentStatus.LOGGED_OUT:
        raise _illegal(agent, command, "already logged in")
    out = [_event(ev.AgentLoggedIn, agent, now)]
    if command.ready:
        out.append(_event(ev.AgentBecameReady, agent, now))
    return out


def _go_ready(agent: Agent, command: GoReady, now: datetime, rules: AgentRules) -> list[Event]:
    match agent.status:
        case AgentStatus.LOGGED_OUT:
            raise _illegal(agent, command, "log in first")
        case AgentStatus.READY:
            return []
        case AgentStatus.PAUSED | AgentStatus.ONLINE_NOT_TAKING | AgentStatus.WRAP_UP:
            return [_event(ev.AgentBecameReady, agent, now)]
        case _:  # offered a call or on one: ready again afterwards, i.e. forget a scheduled wish
            return [] if agent.next is None else [_event(ev.AgentNextStateCancelled, agent, now)]


def _pause(agent: Agent, command: Pause, now: datetime, rules: AgentRules) -> list[Event]:
    reason = rules.reasons.get(command.reason).code
    if agent.status is AgentStatus.LOGGED_OUT:
        raise _illegal(agent, command, "log in first")
    if agent.has_call:
        return _schedule(agent, now, NextState(AgentStatus.PAUSED, reason))
    if agent.status is AgentStatus.PAUSED and agent.reason == reason:
        return []
    return [_event(ev.AgentPaused, agent, now, reason=reason)]


def _go_online_not_taking(agent: Agent, command: GoOnlineNotTaking, now: datetime, rules: AgentRules) -> list[Event]:
    if agent.status is AgentStatus.LOGGED_OUT:
        raise _illegal(agent, command, "log in first")
    if agent.has_call:
        return _schedule(agent, now, NextState(AgentStatus.ONLINE_NOT_TAKING))
    if agent.status is AgentStatus.ONLINE_NOT_TAKING:
        return []
    return [_event(ev.AgentWentOnlineNotTaking, agent, now)]


def _reserve(agent: Agent, command: Reserve, now: datetime, rules: AgentRules) -> list[Event]:
    if _same_call(agent, command, frozenset({AgentStatus.RESERVED})):
        return []
    if agent.status is not AgentStatus.READY:
        raise _illegal(agent, command, "only a ready agent is given calls")
    return [_event(ev.AgentReserved, agent, now, call_id=command.call_id)]


def _ring(agent: Agent, command: Ring, now: datetime, rules: AgentRules) -> list[Event]:
    if _same_call(agent, command, frozenset({AgentStatus.RINGING})):
        return []
    if agent.status is AgentStatus.READY or _same_call(agent, command, frozenset({AgentStatus.RESERVED})):
        return [_event(ev.AgentRinging, agent, now, call_id=command.call_id)]
    raise _illegal(agent, command, "only a ready agent, or one reserved for this call, can be rung")


def _answer(agent: Agent, command: Answer, now: datetime, rules: AgentRules) -> list[Event]:
    if _same_call(agent, command, frozenset({AgentStatus.ON_CALL})):
        return []
    if _same_call(agent, command, _OFFERED):
        return [_event(ev.AgentAnsweredCall, agent, now, call_id=command.call_id)]
    raise _illegal(agent, command, "this call was not offered to the agent")


def _ring_no_answer(agent: Agent, command: RingNoAnswer, now: datetime, rules: AgentRules) -> list[Event]:
    if not _same_call(agent, command, _OFFERED):
        raise _illegal(agent, command, "this call is not ringing for the agent")
    consecutive = agent.missed_rings + 1
    out = [_event(ev.AgentMissedCall, agent, now, call_id=command.call_id, consecutive=consecutive)]
    if agent.next is None and rules.max_missed_rings is not None and consecutive >= rules.max_missed_rings:
        return [*out, _event(ev.AgentPaused, agent, now, reason=AUTO)]
    return out + _after_call(agent, now)


def _withdraw(agent: Agent, command: Withdraw, now: datetime, rules: AgentRules) -> list[Event]:
    if not _same_call(agent, command, _OFFERED):
        raise _illegal(agent, command, "this call is not offered to the agent")
    return [_event(ev.AgentCallWithdrawn, agent, now, call_id=command.call_id), *_after_call(agent, now)]


def _end_call(agent: Agent, command: EndCall, now: datetime, rules: AgentRules) -> list[Event]:
    if _same_call(agent, command, frozenset({AgentStatus.WRAP_UP})):
        return []
    if not _same_call(agent, command, frozenset({AgentStatus.ON_CALL})):
        raise _illegal(agent, command, "the agent is not on this call (an unanswered offer is withdrawn instead)")
    if command.wrap_up_seconds == 0:
        return _after_call(agent, now)
    until = None if command.wrap_up_seconds is None else now + timedelta(seconds=command.wrap_up_seconds)
    return [_event(ev.AgentStartedWrapUp, agent, now, call_id=command.call_id, until=until)]


def _finish_wrap_up(agent: Agent, command: FinishWrapUp, now: datetime, rules: AgentRules) -> list[Event]:
    if agent.status is AgentStatus.WRAP_UP and command.call_id in (None, agent.call_id):
        return _after_call(agent, now)
    if command.call_id is not None:  # a wrap-up timer of an earlier call, overtaken by the agent
        return []
    raise _illegal(agent, command, "the agent is not in wrap-up")


def _log_out(agent: Agent, command: LogOut, now: datetime, rules: AgentRules) -> list[Event]:
    if agent.status is AgentStatus.LOGGED_OUT:
        return []
    if agent.has_call and not command.force:
        return _schedule(agent, now, NextState(AgentStatus.LOGGED_OUT))
    return [_event(ev.AgentLoggedOut, agent, now, forced=command.force, interrupted_call_id=agent.call_id)]


_HANDLERS: Mapping[type[AgentCommand], Handler] = {
    LogIn: _log_in,
    GoReady: _go_ready,
    Pause: _pause,
    GoOnlineNotTaking: _go_online_not_taking,
    Reserve: _reserve,
    Ring: _ring,
    Answer: _answer,
    RingNoAnswer: _ring_no_answer,
    Withdraw: _withdraw,
    EndCall: _end_call,
    FinishWrapUp: _finish_wrap_up,
    LogOut: _log_out,
}


# -- apply ----------------------------------------------------------------------------------------------------------


def _enter(
    agent: Agent,
    status: AgentStatus,
    at: datetime,
    *,
    reason: str | None = None,
    call_id: str | None = None,
    **changes: Any,
) -> Agent:
    """Move to a new period; a period only begins (``since``) when status, reason or call really change."""
    same = (status, reason, call_id) == (agent.status, agent.reason, agent.call_id)
    defaults: dict[str, Any] = {"wrap_up_until": None, "next": None}
    return dataclasses.replace(
        agent,
        **{**defaults, **changes},
        status=status,
        reason=reason,
        call_id=call_id,
        since=agent.since if same else at,
    )


_APPLIERS: Mapping[type[Event], Callable[[Agent, Any], Agent]] = {
    ev.AgentLoggedIn: lambda a, e: _enter(a, AgentStatus.ONLINE_NOT_TAKING, e.occurred_at, missed_rings=0),
    ev.AgentBecameReady: lambda a, e: _enter(a, AgentStatus.READY, e.occurred_at),
    ev.AgentPaused: lambda a, e: _enter(
        a,
        AgentStatus.PAUSED,
        e.occurred_at,
        reason=e.reason,
        missed_rings=0 if e.reason == AUTO else a.missed_rings,
    ),
    ev.AgentWentOnlineNotTaking: lambda a, e: _enter(a, AgentStatus.ONLINE_NOT_TAKING, e.occurred_at),
    ev.AgentReserved: lambda a, e: _enter(a, AgentStatus.RESERVED, e.occurred_at, call_id=e.call_id, next=a.next),
    ev.AgentRinging: lambda a, e: _enter(a, AgentStatus.RINGING, e.occurred_at, call_id=e.call_id, next=a.next),
    ev.AgentAnsweredCall: lambda a, e: _enter(
        a, AgentStatus.ON_CALL, e.occurred_at, call_id=e.call_id, next=a.next, missed_rings=0
    ),
    ev.AgentMissedCall: lambda a, e: dataclasses.replace(a, missed_rings=e.consecutive),
    ev.AgentCallWithdrawn: lambda a, e: a,
    ev.AgentStartedWrapUp: lambda a, e: _enter(
        a, AgentStatus.WRAP_UP, e.occurred_at, call_id=e.call_id, next=a.next, wrap_up_until=e.until
    ),
    ev.AgentNextStateScheduled: lambda a, e: dataclasses.replace(
        a, next=NextState(AgentStatus(e.next_state), e.reason)
    ),
    ev.AgentNextStateCancelled: lambda a, e: dataclasses.replace(a, next=None),
    ev.AgentLoggedOut: lambda a, e: _enter(a, AgentStatus.LOGGED_OUT, e.occurred_at, missed_rings=0),
}


def apply(agent: Agent, event: Event) -> Agent:
    """The state after ``event``. Events of other agents, or of other streams, are refused."""
    applier = _APPLIERS.get(type(event))
    if applier is None:
        raise TypeError(f"not an agent event: {type(event).__name__}")
    if getattr(event, "user_id", None) != agent.user_id:
        raise ValueError(f"event of agent {getattr(event, 'user_id', None)} applied to agent {agent.user_id}")
    return applier(agent, event)


def apply_all(agent: Agent, events: Sequence[Event]) -> Agent:
    for event in events:
        agent = apply(agent, event)
    return agent


def handle(
    agent: Agent, command: AgentCommand, now: datetime, rules: AgentRules = DEFAULT_RULES
) -> tuple[Agent, list[Event]]:
    """:func:`decide` and :func:`apply` together: the new state and the events to publish."""
    events = decide(agent, command, now, rules)
    return apply_all(agent, events), events
