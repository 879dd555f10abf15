"""Campaigns (seed 001 "Arama modülü"): pure domain, no I/O.

A campaign dials the records of its pools for the agents of its teams, in one of two modes:

* **preview** (manual): the agent is shown his next record with its history and dials it or skips it with a reason;
* **progressive**: the dialer places one call per ready agent; the agent is reserved while the customer's phone
  rings and the answered call goes to him.

Its **calling rules** say when and how hard it may dial: local days and hours in its time zone, at most N attempts
per number per local day, calls per second and lines (trunk channels) at once. Its **dispositions** ("Aksiyonel
data") say what an attempt's outcome does to the record: dial again after N minutes up to M attempts, final,
archive, or a scheduled call-back. Some dispositions carry an ``outcome``: the dialer sets them by itself for calls
no agent talked to (no answer, busy, congestion, failed, abandoned).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dialer.pools.model import RecordStatus
from dialer.state.causes import FailureReason


class DialMode(enum.StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


class DispositionAction(enum.StrEnum):
    RETRY = "retry"
    FINAL = "final"
    ARCHIVE = "archive"
    CALLBACK = "callback"


class Outcome(enum.StrEnum):
    """What happened to an attempt no agent talked on: the dialer's own dispositions."""

    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CONGESTION = "congestion"
    FAILED = "failed"
    ABANDONED = "abandoned"  # answered, but no agent took it (it is also a missed call)
    MACHINE = "machine"


def outcome_of_failure(reason: FailureReason | str) -> Outcome:
    """The disposition outcome of a call that was never answered."""
    match FailureReason(reason):
        case FailureReason.NO_ANSWER:
            return Outcome.NO_ANSWER
        case FailureReason.BUSY:
            return Outcome.BUSY
        case FailureReason.CONGESTION:
            return Outcome.CONGESTION
        case _:
            return Outcome.FAILED


@dataclasses.dataclass(frozen=True)
class CallingRules:
    time_zone: str = "Europe/Istanbul"
    call_days: frozenset[int] = frozenset({1, 2, 3, 4, 5, 6})  # ISO weekdays, 1 = Monday
    call_from: time = time(9, 0)
    call_until: time = time(20, 0)
    max_attempts_per_day: int = 3
    calls_per_second: float = 5.0
    max_lines: int = 30
    ring_timeout: int = 30

    def __post_init__(self) -> None:
        ZoneInfo(self.time_zone)  # raises for an unknown zone
        if not self.call_days or not self.call_days <= set(range(1, 8)):
            raise ValueError("call_days must be ISO weekdays 1..7")
        if self.call_from >= self.call_until:
            raise ValueError("call_from must be before call_until")
        if self.max_attempts_per_day < 1 or self.calls_per_second <= 0 or self.max_lines < 1:
            raise ValueError("limits must be positive")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def may_call_at(self, now: datetime) -> bool:
        """Whether ``now`` is within the calling days and hours (in the campaign's time zone)."""
        local = now.astimezone(self.zone)
        return local.isoweekday() in self.call_days and self.call_from <= local.time() < self.call_until

    def next_opening(self, now: datetime) -> datetime:
        """The first moment at or after ``now`` when calling is allowed (UTC)."""
        if self.may_call_at(now):
            return now
        local = now.astimezone(self.zone)
        for days in range(8):
            day: date = local.date() + timedelta(days=days)
            if day.isoweekday() not in self.call_days:
                continue
            opening = datetime.combine(day, self.call_from, self.zone)
            if opening >= local:
                return opening.astimezone(UTC)
        raise AssertionError("call_days is never empty")  # pragma: no cover - checked in __post_init__

    def day_start(self, now: datetime) -> datetime:
        """Midnight of ``now``'s local day: attempts per day are counted from here."""
        local = now.astimezone(self.zone)
        return datetime.combine(local.date(), time(0), self.zone).astimezone(UTC)


@dataclasses.dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    dial_mode: DialMode
    status: CampaignStatus = CampaignStatus.DRAFT
    description: str = ""
    queue: str = "sales"
    caller_id: str = ""
    record_calls: bool = True
    rules: CallingRules = CallingRules()
    wrap_up_seconds: int | None = None
    consent_rule: str = "refused_blocked"
    pool_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()
    created_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.status is CampaignStatus.RUNNING


@dataclasses.dataclass(frozen=True)
class Disposition:
    code: str
    label: str
    action: DispositionAction
    retry_minutes: int | None = None
    max_attempts: int | None = None
    success: bool = False
    outcome: Outcome | None = None
    position: int = 0
    active: bool = True

    def __post_init__(self) -> None:
        if (self.action is DispositionAction.RETRY) != (
            self.retry_minutes is not None and self.max_attempts is not None
        ):
            raise ValueError("a retry disposition needs retry_minutes and max_attempts, others neither")


#: The dispositions a new campaign starts with; each campaign edits its own copy.
DEFAULT_DISPOSITIONS: tuple[Disposition, ...] = (
    Disposition("sale", "Satış", DispositionAction.FINAL, success=True, position=10),
    Disposition("interested", "İlgileniyor", DispositionAction.CALLBACK, position=20),
    Disposition("call_back", "Tekrar aranacak", DispositionAction.CALLBACK, position=30),
    Disposition("not_interested", "İlgilenmiyor", DispositionAction.FINAL, position=40),
    Disposition("wrong_number", "Yanlış numara", DispositionAction.ARCHIVE, position=50),
    Disposition("do_not_call", "Aranmak istemiyor", DispositionAction.ARCHIVE, position=60),
    Disposition("no_answer", "Cevap yok", DispositionAction.RETRY, 60, 5, outcome=Outcome.NO_ANSWER, position=70),
    Disposition("busy", "Meşgul", DispositionAction.RETRY, 15, 5, outcome=Outcome.BUSY, position=80),
    Disposition("congestion", "Hat yoğun", DispositionAction.RETRY, 10, 5, outcome=Outcome.CONGESTION, position=90),
    Disposition("failed", "Arama kurulamadı", DispositionAction.RETRY, 30, 3, outcome=Outcome.FAILED, position=100),
    Disposition(
        "abandoned", "Temsilciye bağlanamadı", DispositionAction.RETRY, 5, 5, outcome=Outcome.ABANDONED, position=110
    ),
    Disposition("machine", "Telesekreter", DispositionAction.RETRY, 240, 3, outcome=Outcome.MACHINE, position=120),
)


def by_outcome(dispositions: Iterable[Disposition], outcome: Outcome) -> Disposition | None:
    return next((d for d in dispositions if d.outcome is outcome and d.active), None)


@dataclasses.dataclass(frozen=True)
class RecordFate:
    """What a disposition does to the record: its new status and when it may be dialed again."""

    status: RecordStatus
    next_attempt_at: datetime | None = None


def fate(disposition: Disposition, attempts: int, now: datetime, callback_at: datetime | None = None) -> RecordFate:
    """The record's fate after its ``attempts``-th attempt got ``disposition``.

    A retry past its last attempt is final (``done``); a call-back without a time is due at once."""
    match disposition.action:
        case DispositionAction.RETRY:
            assert disposition.retry_minutes is not None and disposition.max_attempts is not None
            if attempts >= disposition.max_attempts:
                return RecordFate(RecordStatus.DONE)
            return RecordFate(RecordStatus.ASSIGNED, now + timedelta(minutes=disposition.retry_minutes))
        case DispositionAction.CALLBACK:
            return RecordFate(RecordStatus.ASSIGNED, callback_at or now)
        case DispositionAction.ARCHIVE:
            return RecordFate(RecordStatus.ARCHIVED)
        case _:
            return RecordFate(RecordStatus.DONE)


def pacing(*, ready_agents: int, lines_busy: int, rules: CallingRules, dialed_last_second: int, may_call: bool) -> int:
    """How many calls a progressive campaign may place now: one per ready (not yet reserved) agent, within the
    free lines and the calls-per-second budget; none outside the calling hours or with no agent ready."""
    if not may_call or ready_agents <= 0:
        return 0
    free_lines = rules.max_lines - lines_busy
    budget = max(1, int(rules.calls_per_second)) - dialed_last_second
    return max(0, min(ready_agents, free_lines, budget))


def ordered(dispositions: Sequence[Disposition]) -> list[Disposition]:
    return sorted(dispositions, key=lambda d: (d.position, d.code))
