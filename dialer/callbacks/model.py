"""Call-backs and missed calls: pure domain, no I/O.

A **call-back** (randevu) says: call this record again at ``due_at``. Its owner (the agent who scheduled it) is
offered it first: when it is due, the record comes before any other in his picks and an alert is published. If the
owner is away (logged out, on a break, or not taking calls) for longer than :data:`OWNER_GRACE` once it is due, the
agents who may see it get it too: his team (visibility ``team``) or everyone (``all``); an ``own`` call-back waits
for its owner.

A **missed call** (çağrı yakalama) is a number that called or was reached and that no agent talked to: a caller who
hung up while waiting in a queue, or a customer who answered a campaign call no agent took. A number has one live
entry however often it was missed; agents see the entries oldest first with the time they have waited, take one at
a time, and the entry closes when the number is reached.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timedelta

#: How long an owner may be away from a due call-back before it goes to the others who may see it.
OWNER_GRACE = timedelta(minutes=5)
#: The agent states in which an owner is away (he would not be offered a record).
AWAY_STATES = ("logged_out", "paused", "online_not_taking")


class Visibility(enum.StrEnum):
    OWN = "own"  # only the owner sees it and may change it
    TEAM = "team"  # the owner's team too
    ALL = "all"  # every agent


class CallbackStatus(enum.StrEnum):
    OPEN = "open"
    OFFERED = "offered"  # due, and the owner was alerted
    DONE = "done"
    CANCELLED = "cancelled"
    MISSED = "missed"  # the record left dialing before anyone called back

    @property
    def live(self) -> bool:
        return self in (CallbackStatus.OPEN, CallbackStatus.OFFERED)


@dataclasses.dataclass(frozen=True)
class Callback:
    id: int
    pool_record_id: int | None
    customer_id: int | None
    phone: str
    campaign_id: int | None
    owner_id: int
    team_id: int | None
    due_at: datetime
    note: str
    visibility: Visibility
    status: CallbackStatus
    created_by: int | None
    created_at: datetime
    source_call_id: str | None = None
    offered_at: datetime | None = None
    escalated_at: datetime | None = None
    done_at: datetime | None = None
    done_by: int | None = None
    fulfilled_call_id: str | None = None

    def due(self, now: datetime) -> bool:
        return self.status.live and self.due_at <= now

    def visible_to(self, user_id: int, team_id: int | None) -> bool:
        """Whether an agent (of ``team_id``) may see and change it."""
        match self.visibility:
            case Visibility.OWN:
                return user_id == self.owner_id
            case Visibility.TEAM:
                return user_id == self.owner_id or (team_id is not None and team_id == self.team_id)
            case _:
                return True


class MissSource(enum.StrEnum):
    QUEUE_ABANDON = "queue_abandon"  # the caller hung up while waiting in a queue
    CAMPAIGN_ABANDON = "campaign_abandon"  # the customer answered a campaign call no agent took


class MissedStatus(enum.StrEnum):
    OPEN = "open"
    TAKEN = "taken"
    CLOSED = "closed"


@dataclasses.dataclass(frozen=True)
class MissedCall:
    id: int
    phone: str
    caller_name: str
    customer_id: int | None
    pool_record_id: int | None
    campaign_id: int | None
    queue: str | None
    source: MissSource
    first_missed_at: datetime
    last_missed_at: datetime
    misses: int
    status: MissedStatus
    taken_by: int | None = None
    taken_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: int | None = None
    closed_call_id: str | None = None
    close_reason: str | None = None

    def waited(self, now: datetime) -> timedelta:
        """How long the number has waited for a call-back: since its first miss (until it was reached)."""
        return (self.closed_at or now) - self.first_missed_at


class EntryKind(enum.StrEnum):
    MISSED = "missed"  # a missed call (queue or campaign abandon)
    RETRY = "retry"  # a record that was busy or did not answer, waiting for its retry


@dataclasses.dataclass(frozen=True)
class CallbackListEntry:
    """One line of an agent's call-back list ("çağrı yakalama"): a number to call back, since when it waits."""

    kind: EntryKind
    phone: str
    name: str
    waiting_since: datetime
    misses: int
    reason: str  # the miss source, or the record's disposition (busy, no_answer)
    missed_call_id: int | None = None
    pool_record_id: int | None = None
    campaign_id: int | None = None
    next_attempt_at: datetime | None = None

    def waited(self, now: datetime) -> timedelta:
        return now - self.waiting_since


def merge_entries(missed: list[CallbackListEntry], retries: list[CallbackListEntry]) -> list[CallbackListEntry]:
    """One line per number, oldest first: a number both missed and waiting for a retry is listed once, as missed
    (waiting since the earlier of the two)."""
    by_phone: dict[str, CallbackListEntry] = {}
    for entry in [*missed, *retries]:
        seen = by_phone.get(entry.phone)
        if seen is None:
            by_phone[entry.phone] = entry
        elif entry.waiting_since < seen.waiting_since:
            by_phone[entry.phone] = dataclasses.replace(seen, waiting_since=entry.waiting_since)
    return sorted(by_phone.values(), key=lambda e: (e.waiting_since, e.phone))


@dataclasses.dataclass(frozen=True)
class RecordWarning:
    """What the console warns an agent about when a record is reached: its live call-backs and past notes."""

    callbacks: tuple[Callback, ...]
    notes: int
    last_note_at: datetime | None

    @property
    def open_callbacks(self) -> int:
        return len(self.callbacks)

    @property
    def any(self) -> bool:
        return bool(self.callbacks) or self.notes > 0
