"""Data pools (seed 001 "Data havuzu"): named sets of records to call, filled by imports and handed to agents.

Pure domain: the statuses a record goes through, the duplicate rule an import applies, distribution criteria and
fair shares. No I/O here.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any


class RecordStatus(enum.StrEnum):
    """``new``: in the pool, given to nobody. ``assigned``: given to an agent or a team, waiting to be dialed (again:
    ``next_attempt_at``). ``in_progress``: an agent has taken it. ``done``: finished with a final disposition.
    ``archived``: taken out of dialing (by a disposition, or moved to another pool); kept for reports."""

    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    ARCHIVED = "archived"


class DuplicateRule(enum.StrEnum):
    """What an imported number that is already live in another pool does. Within one pool a number is never twice:
    a repeat inside the file, or of a record already in the pool, is always refused."""

    SKIP = "skip"  # refuse the row
    ALLOW = "allow"  # store it in this pool too
    MOVE = "move"  # store it here and archive the other pools' records not yet being worked


@dataclasses.dataclass(frozen=True)
class Pool:
    id: int
    name: str
    description: str = ""
    active: bool = True
    dial_priority: int = 0
    duplicate_rule: DuplicateRule = DuplicateRule.SKIP
    created_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class PoolRecord:
    id: int
    pool_id: int
    phone: str
    name: str
    city: str | None
    region: str | None
    custom_fields: Mapping[str, Any]
    priority: int
    status: RecordStatus
    agent_id: int | None = None
    team_id: int | None = None
    customer_id: int | None = None
    import_id: int | None = None
    line_no: int | None = None
    disposition: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_by: int | None = None
    claimed_at: datetime | None = None
    created_at: datetime | None = None


# --- distribution -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Criteria:
    """Which unassigned records of a pool to hand out. Empty tuples and None mean "any"; ``custom`` fields must all
    be equal; ``limit`` caps how many records this distribution takes (best priority first)."""

    cities: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    custom: Mapping[str, str] = dataclasses.field(default_factory=dict)
    priority_min: int | None = None
    priority_max: int | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit")
        if self.priority_min is not None and self.priority_max is not None and self.priority_min > self.priority_max:
            raise ValueError("priority range")


class TargetKind(enum.StrEnum):
    AGENT = "agent"
    TEAM = "team"


@dataclasses.dataclass(frozen=True)
class Distribution:
    """How many records each target received."""

    kind: TargetKind
    counts: Mapping[int, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def fair_shares(total: int, targets: int) -> list[int]:
    """Equal counts, the remainder one each to the first targets: ``fair_shares(10, 3) == [4, 3, 3]``."""
    if targets <= 0:
        raise ValueError("no targets")
    base, rest = divmod(total, targets)
    return [base + 1 if i < rest else base for i in range(targets)]


def order_for_remainder(targets: Iterable[int], load: Mapping[int, int]) -> list[int]:
    """Targets in the order they take the round-robin: least open work first, so the remainder of an uneven split
    goes to whoever has least to do; ties by id, so the order is stable."""
    return sorted(dict.fromkeys(targets), key=lambda t: (load.get(t, 0), t))


# --- the duplicate rule -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Conflict:
    """An imported line whose number is already live in a pool (this one or another)."""

    line_no: int
    pool_id: int
    record_id: int
    status: RecordStatus


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the duplicate rule made of the conflicting lines: refused lines and stored lines the rule acted on, each
    ``line -> (reason, detail)``, and the other pools' records to archive (rule ``move``)."""

    rejected: dict[int, tuple[str, str]]
    noted: dict[int, tuple[str, str]]
    archive: tuple[int, ...]


_MOVABLE = (RecordStatus.NEW, RecordStatus.ASSIGNED)


def apply_duplicate_rule(pool_id: int, rule: DuplicateRule, conflicts: Iterable[Conflict]) -> Verdict:
    by_line: dict[int, list[Conflict]] = {}
    for conflict in conflicts:
        by_line.setdefault(conflict.line_no, []).append(conflict)
    rejected: dict[int, tuple[str, str]] = {}
    noted: dict[int, tuple[str, str]] = {}
    archive: list[int] = []
    for line, found in sorted(by_line.items()):
        same = [c for c in found if c.pool_id == pool_id]
        if same:
            rejected[line] = ("duplicate.in_pool", f"record {same[0].record_id}")
            continue
        pools = ", ".join(str(p) for p in sorted({c.pool_id for c in found}))
        if rule is DuplicateRule.SKIP:
            rejected[line] = ("duplicate.other_pool", f"pool {pools}")
        elif rule is DuplicateRule.ALLOW:
            noted[line] = ("duplicate.allowed", f"also in pool {pools}")
        elif any(c.status is RecordStatus.IN_PROGRESS for c in found):
            rejected[line] = ("duplicate.in_use", f"being called in pool {pools}")
        else:
            moved = [c.record_id for c in found if c.status in _MOVABLE]
            archive.extend(moved)
            noted[line] = ("duplicate.moved", f"from pool {pools}" if moved else f"done in pool {pools}")
    return Verdict(rejected, noted, tuple(archive))
