"""Events of the data pools (stream ``pools``)."""

from __future__ import annotations

import dataclasses

from callcenter.bus.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class _PoolsEvent(Event):
    STREAM = "pools"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolCreated(_PoolsEvent):
    pool_id: int
    name: str
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolUpdated(_PoolsEvent):
    pool_id: int
    fields: tuple[str, ...]
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolImported(_PoolsEvent):
    """A file was imported into a pool: ``stored + rejected`` is every data row of the file."""

    pool_id: int
    import_id: int
    filename: str
    stored: int
    rejected: int
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolRecordsDistributed(_PoolsEvent):
    """Records were assigned; ``counts`` maps each agent's or team's id (as text) to how many it received."""

    pool_id: int
    target_kind: str  # "agent" | "team"
    counts: dict[str, int]
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolRecordClaimed(_PoolsEvent):
    """An agent took a record for preview dialing."""

    record_id: int
    pool_id: int
    agent_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolRecordAttempted(_PoolsEvent):
    """An agent finished an attempt on a record; ``status`` is where the record went (assigned again, done...)."""

    record_id: int
    pool_id: int
    agent_id: int
    disposition: str
    status: str
