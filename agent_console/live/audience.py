"""Who receives what on the live channel: the audience of a signed-in user, and the small in-memory view the hub
keeps to know which agent (and so which team) an event concerns. Pure: no I/O.

* an agent: his own agent events, calls and campaign attempts, plus his team's agents' state changes (the
  leaderboard: stream ``agents`` only);
* a team leader: everything concerning the agents of the teams he leads (and the team he belongs to);
* a supervisor or an administrator: everything.

Stream ``callbacks``: a call-back's events reach its owner (and those who watch him); a due call-back handed on
after the owner's grace (``CallbackDue.escalated``) reaches his team too (visibility ``team``) or every user
(``all``). Missed calls may be taken by any agent of the call center: their events reach every user.

An event that concerns no agent (a call not yet given to anyone, a campaign's set-up) reaches only the
supervisors.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from datetime import datetime
from typing import Any

from callcenter.bus import Envelope
from dialer.callbacks.events import (
    CallbackDue,
    MissedCallCaptured,
    MissedCallClosed,
    MissedCallReleased,
    MissedCallTaken,
)
from dialer.campaigns.events import RecordDialed
from dialer.events import (
    AgentEvent,
    AgentLoggedOut,
    CallAnswered,
    CallConnectedToAgent,
    CallDialing,
    CallEnded,
    CallEvent,
    CallFailed,
    CallHeld,
    CallResumed,
    CallRinging,
    CallTransferred,
)

#: The streams the live channel forwards to browsers.
STREAMS: tuple[str, ...] = ("agents", "calls", "campaigns", "callbacks")

#: Events every user of the live channel receives (stream ``callbacks``).
_FOR_EVERYONE = (MissedCallCaptured, MissedCallTaken, MissedCallReleased, MissedCallClosed)


@dataclasses.dataclass(frozen=True)
class Audience:
    user_id: int
    everything: bool = False
    #: Teams whose agents he watches in full (a team leader).
    teams: frozenset[int] = frozenset()
    #: The team whose agents' state changes he sees (an agent's leaderboard).
    leaderboard_team: int | None = None

    def sees(self, stream: str, scope: Scope) -> bool:
        if self.everything or scope.agent_id == self.user_id or scope.shared == "all":
            return True
        if scope.team_id is None:
            return False
        return scope.team_id in self.teams or (
            scope.team_id == self.leaderboard_team and (stream == "agents" or scope.shared == "team")
        )


@dataclasses.dataclass(frozen=True)
class Scope:
    """The agent an event concerns and his team (either may be unknown)."""

    agent_id: int | None
    team_id: int | None
    #: Who else receives it: ``team`` (every agent of ``team_id``) or ``all`` (every user); empty: nobody else.
    shared: str = ""


@dataclasses.dataclass
class LiveCall:
    linkedid: str
    status: str
    agent_id: int | None
    since: datetime
    destination: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "status": self.status,
            "agent_id": self.agent_id,
            "since": self.since.isoformat(),
            "destination": self.destination,
        }


_CALL_STATUS: dict[type[CallEvent], str] = {
    CallDialing: "dialing",
    CallRinging: "ringing",
    CallAnswered: "answered",
    CallConnectedToAgent: "connected",
    CallHeld: "held",
    CallResumed: "connected",
    CallTransferred: "transferred",
}


class LiveView:
    """Which call belongs to which agent, the calls still up, and each user's team.

    Bounded: the call-to-agent map keeps the ``max_calls`` most recent calls (so replayed history still resolves),
    the table of live calls drops its oldest entries beyond the same bound (a call whose end was never seen).
    """

    def __init__(self, *, max_calls: int = 20_000) -> None:
        self._max_calls = max_calls
        self._call_agent: OrderedDict[str, int] = OrderedDict()
        self.live_calls: OrderedDict[str, LiveCall] = OrderedDict()
        self.teams: dict[int, int | None] = {}

    def knows_user(self, user_id: int) -> bool:
        return user_id in self.teams

    def set_team(self, user_id: int, team_id: int | None) -> None:
        self.teams[user_id] = team_id

    def forget_user(self, user_id: int) -> None:
        self.teams.pop(user_id, None)

    def agent_of_call(self, linkedid: str) -> int | None:
        return self._call_agent.get(linkedid)

    def _bind(self, linkedid: str, agent_id: int) -> None:
        self._call_agent[linkedid] = agent_id
        self._call_agent.move_to_end(linkedid)
        while len(self._call_agent) > self._max_calls:
            self._call_agent.popitem(last=False)
        call = self.live_calls.get(linkedid)
        if call is not None and call.agent_id is None:
            call.agent_id = agent_id

    def apply(self, envelope: Envelope) -> None:
        """Learn from one event (before it is scoped and fanned out)."""
        event = envelope.event
        if isinstance(event, AgentEvent):
            call_id = getattr(event, "call_id", None)
            if isinstance(call_id, str) and call_id and not isinstance(event, AgentLoggedOut):
                self._bind(call_id, event.user_id)
        elif isinstance(event, RecordDialed):
            if event.agent_id is not None:
                self._bind(event.call_id, event.agent_id)
        elif isinstance(event, CallEvent):
            self._apply_call(event)

    def _apply_call(self, event: CallEvent) -> None:
        linkedid = event.linkedid
        if isinstance(event, CallConnectedToAgent):
            self._bind(linkedid, event.agent_id)
        if isinstance(event, CallEnded | CallFailed):
            self.live_calls.pop(linkedid, None)
            return
        status = _CALL_STATUS.get(type(event))
        if status is None:
            return
        call = self.live_calls.get(linkedid)
        if call is None:
            call = self.live_calls[linkedid] = LiveCall(
                linkedid, status, self._call_agent.get(linkedid), event.occurred_at
            )
            while len(self.live_calls) > self._max_calls:
                self.live_calls.popitem(last=False)
        elif call.status != status:
            call.status, call.since = status, event.occurred_at
        if isinstance(event, CallDialing):
            call.destination = event.destination
        if isinstance(event, CallConnectedToAgent):
            call.agent_id = event.agent_id

    def scope(self, envelope: Envelope) -> Scope:
        agent = self.agent_of(envelope)
        team = self.teams.get(agent) if agent is not None else None
        event = envelope.event
        if isinstance(event, _FOR_EVERYONE):
            return Scope(agent, team, "all")
        if envelope.stream == "callbacks":
            team = getattr(event, "team_id", None) or team  # the call-back's team, else the owner's
            if isinstance(event, CallbackDue) and event.escalated and event.visibility in ("team", "all"):
                return Scope(agent, team, event.visibility)
        return Scope(agent, team)

    def agent_of(self, envelope: Envelope) -> int | None:
        event = envelope.event
        if isinstance(event, AgentEvent):
            return event.user_id
        for name in ("agent_id", "from_agent_id", "owner_id"):
            value = getattr(event, name, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        call_id = getattr(event, "linkedid", None) or getattr(event, "call_id", None)
        return self._call_agent.get(call_id) if isinstance(call_id, str) else None

    def calls_for(self, audience: Audience) -> list[LiveCall]:
        return [
            call
            for call in self.live_calls.values()
            if audience.sees("calls", Scope(call.agent_id, self.teams.get(call.agent_id) if call.agent_id else None))
        ]
