"""Events of call-backs and missed calls (stream ``callbacks``): what the agent console alerts on and what the
call-back list is refreshed from. Times travel as ISO text (or empty)."""

from __future__ import annotations

import dataclasses

from callcenter.bus.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class _CallbackEvent(Event):
    STREAM = "callbacks"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallbackScheduled(_CallbackEvent):
    callback_id: int
    record_id: int | None
    owner_id: int
    team_id: int | None
    visibility: str
    due_at: str
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallbackRescheduled(_CallbackEvent):
    callback_id: int
    owner_id: int
    due_at: str
    visibility: str
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallbackCancelled(_CallbackEvent):
    callback_id: int
    owner_id: int
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallbackDue(_CallbackEvent):
    """A call-back is due: the console alerts its owner (``escalated`` False) or, when the owner has been away past
    the grace period, the agents who may see it (``team_id`` for visibility ``team``, everyone for ``all``)."""

    callback_id: int
    record_id: int | None
    owner_id: int
    team_id: int | None
    visibility: str
    phone: str
    due_at: str
    note: str
    escalated: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class MissedCallCaptured(_CallbackEvent):
    """A number was missed; ``misses`` counts its misses since its entry opened (``first_missed_at``)."""

    missed_call_id: int
    phone: str
    source: str
    misses: int
    first_missed_at: str
    call_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class MissedCallTaken(_CallbackEvent):
    missed_call_id: int
    phone: str
    agent_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class MissedCallReleased(_CallbackEvent):
    missed_call_id: int
    phone: str
    agent_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class MissedCallClosed(_CallbackEvent):
    """The number was reached (``answered``, by ``call_id``) or the entry was dismissed."""

    missed_call_id: int
    phone: str
    reason: str
    agent_id: int | None
    call_id: str
