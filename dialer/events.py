"""Events of the dialer: agent state (stream ``agents``) and call progress (stream ``calls``).

They are what the state machines of :mod:`dialer.state` decide and what the team leaders' live screens, the
wallboards and the call-record writer consume. ``occurred_at`` is the moment of the transition as the machine saw
it (the ``now`` it was given), not the moment of publishing, so a replay rebuilds the same periods.

Values that are enums in the machines (agent status, failure reason, hang-up party) travel as their plain string
values: events stay flat, and this module does not import the machines (they import it).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from callcenter.bus.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentEvent(Event):
    """Base of the events of stream ``agents``; ``user_id`` is the agent (a user of the platform)."""

    STREAM = "agents"

    user_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentLoggedIn(AgentEvent):
    """The agent logged in to the dialer; until an AgentBecameReady follows, he takes no calls."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentBecameReady(AgentEvent):
    """The agent waits for a call."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentPaused(AgentEvent):
    """A break ("mola") with a configured reason code; ``auto`` when the dialer paused him after missed calls."""

    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentWentOnlineNotTaking(AgentEvent):
    """Logged in and at the desk but not taking calls (seed 001 "çağrı dışı online")."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentReserved(AgentEvent):
    """The dialer set this agent aside for a call (predictive: an answered customer is being routed to him)."""

    call_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentRinging(AgentEvent):
    call_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentAnsweredCall(AgentEvent):
    call_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentMissedCall(AgentEvent):
    """The agent's phone rang and he did not answer; ``consecutive`` counts misses since his last answered call."""

    call_id: str
    consecutive: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentCallWithdrawn(AgentEvent):
    """The call offered to the agent went away before he answered (the customer hung up); not his fault."""

    call_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentStartedWrapUp(AgentEvent):
    """The call ended; the agent writes his notes. ``until`` is when wrap-up ends by itself (None: when he says)."""

    call_id: str
    until: datetime | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentNextStateScheduled(AgentEvent):
    """The agent asked for a state he cannot take now (a pause during a call): it follows after the call.

    ``next_state`` is ``paused``, ``online_not_taking`` or ``logged_out``; ``reason`` is the pause reason.
    """

    next_state: str
    reason: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentNextStateCancelled(AgentEvent):
    """The agent changed his mind: after the call he becomes ready again."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentLoggedOut(AgentEvent):
    """``forced``: by a supervisor or an expired session, even during a call (``interrupted_call_id``)."""

    forced: bool = False
    interrupted_call_id: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallEvent(Event):
    """Base of the events of stream ``calls``; ``linkedid`` is the Asterisk Linkedid shared by the call's channels."""

    STREAM = "calls"

    linkedid: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallDialing(CallEvent):
    """A call began: the dialer placed it (``outbound``: ``destination`` is the number dialed), or a caller's call
    arrived (``inbound``: ``destination`` is the caller's number)."""

    destination: str
    direction: str = "outbound"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallRinging(CallEvent):
    pass


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallAnswered(CallEvent):
    pass


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallConnectedToAgent(CallEvent):
    agent_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallHeld(CallEvent):
    pass


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallResumed(CallEvent):
    held_seconds: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallTransferred(CallEvent):
    """``target``: where the call went (an extension, a queue, a number); ``from_agent_id``: who handed it over."""

    target: str
    from_agent_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallEnded(CallEvent):
    """An answered call is over. ``cause`` is the Q.850 hang-up cause Asterisk reported (16 normal clearing).

    ``talk_seconds`` runs from the first connection to an agent (0 when none took it), ``hold_seconds`` is the
    total time on hold; enough for the live averages of the team leaders' screens.
    """

    cause: int | None
    cause_text: str
    hung_up_by: str
    agent_id: int | None
    talk_seconds: float
    hold_seconds: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallFailed(CallEvent):
    """The call was never answered. ``reason`` drives the disposition and the retry (busy, no_answer, ...)."""

    reason: str
    cause: int | None
    cause_text: str
    originate_reason: int | None
