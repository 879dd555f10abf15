"""Pools and their records in PostgreSQL: distribution to agents and teams, and the preview-dialing pick.

The pick (:meth:`RecordRepository.claim_next`) walks the agent's own records, then his team's, pool by pool in dial
priority order, each time taking the best due record with ``FOR UPDATE SKIP LOCKED``: two agents asking at once
never get the same record and never wait for each other. Each probe is one descent of a partial index
(``pool_records_agent_pick_idx`` / ``pool_records_team_pick_idx``), whatever the pool's size; the walk runs in the
database (function ``pool_claim_next``), so a pick is one round trip.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from asyncpg import Record

from callcenter.db.database import Connection
from dialer.pools.model import (
    Criteria,
    Distribution,
    DuplicateRule,
    Pool,
    PoolRecord,
    RecordStatus,
    TargetKind,
    order_for_remainder,
)

_POOL_COLUMNS = "id, name, description, active, dial_priority, duplicate_rule, created_at"
_RECORD_COLUMNS = (
    "id, pool_id, phone, name, city, region, custom_fields, priority, status, agent_id, team_id, customer_id, "
    "import_id, line_no, disposition, attempts, next_attempt_at, claimed_by, claimed_at, created_at"
)


class DuplicateNameError(ValueError):
    """A pool of that name exists already."""


def _pool(row: Record) -> Pool:
    values = dict(row.items())
    values["duplicate_rule"] = DuplicateRule(values["duplicate_rule"])
    return Pool(**values)


def _record(row: Record) -> PoolRecord:
    values = dict(row.items())
    values["status"] = RecordStatus(values["status"])
    return PoolRecord(**values)


class PoolRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, pool_id: int, *, lock: bool = False) -> Pool | None:
        """The pool; ``lock`` holds it (FOR SHARE) until the transaction ends, so it cannot change meanwhile."""
        sql = f"SELECT {_POOL_COLUMNS} FROM pools WHERE id = $1"  # noqa: S608
        row = await self._conn.fetchrow(sql + " FOR SHARE" if lock else sql, pool_id)
        return _pool(row) if row else None

    async def by_name(self, name: str) -> Pool | None:
        row = await self._conn.fetchrow(
            f"SELECT {_POOL_COLUMNS} FROM pools WHERE lower(name) = lower($1)",  # noqa: S608
            name,
        )
        return _pool(row) if row else None

    async def list(self, *, active_only: bool = False) -> list[Pool]:
        rows = await self._conn.fetch(
            f"""SELECT {_POOL_COLUMNS} FROM pools WHERE active OR NOT $1
                 ORDER BY dial_priority DESC, lower(name)""",  # noqa: S608
            active_only,
        )
        return [_pool(r) for r in rows]

    async def add(
        self, name: str, description: str, *, active: bool, dial_priority: int, duplicate_rule: DuplicateRule
    ) -> Pool:
        if await self.by_name(name) is not None:
            raise DuplicateNameError(name)
        row = await self._conn.fetchrow(
            f"""INSERT INTO pools (name, description, active, dial_priority, duplicate_rule)
                VALUES ($1, $2, $3, $4, $5) RETURNING {_POOL_COLUMNS}""",  # noqa: S608
            name,
            description,
            active,
            dial_priority,
            duplicate_rule.value,
        )
        assert row is not None
        return _pool(row)

    async def save(self, pool: Pool) -> None:
        other = await self.by_name(pool.name)
        if other is not None and other.id != pool.id:
            raise DuplicateNameError(pool.name)
        await self._conn.execute(
            """UPDATE pools SET name = $2, description = $3, active = $4, dial_priority = $5, duplicate_rule = $6,
                      updated_at = now()
                WHERE id = $1""",
            pool.id,
            pool.name,
            pool.description,
            pool.active,
            pool.dial_priority,
            pool.duplicate_rule.value,
        )


@dataclasses.dataclass(frozen=True)
class Targets:
    kind: TargetKind
    ids: tuple[int, ...]


class RecordRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, record_id: int) -> PoolRecord | None:
        row = await self._conn.fetchrow(
            f"SELECT {_RECORD_COLUMNS} FROM pool_records WHERE id = $1",  # noqa: S608
            record_id,
        )
        return _record(row) if row else None

    async def records(
        self, pool_id: int, *, status: RecordStatus | None = None, import_id: int | None = None, limit: int = 1000
    ) -> list[PoolRecord]:
        rows = await self._conn.fetch(
            f"""SELECT {_RECORD_COLUMNS} FROM pool_records
                 WHERE pool_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR import_id = $3)
                 ORDER BY id LIMIT $4""",  # noqa: S608
            pool_id,
            status.value if status else None,
            import_id,
            limit,
        )
        return [_record(r) for r in rows]

    async def status_counts(self, pool_id: int) -> dict[RecordStatus, int]:
        rows = await self._conn.fetch(
            "SELECT status, count(*) AS n FROM pool_records WHERE pool_id = $1 GROUP BY status", pool_id
        )
        return {RecordStatus(r["status"]): r["n"] for r in rows}

    # --- distribution ---------------------------------------------------------------------------------------------

    async def distribute(self, pool_id: int, targets: Targets, criteria: Criteria) -> Distribution:
        """Assign the pool's matching unassigned records round-robin, best priority first, so that counts differ by
        at most one and every target gets an even mix of priorities; the remainder goes to the least loaded."""
        column = "agent_id" if targets.kind is TargetKind.AGENT else "team_id"
        load_rows = await self._conn.fetch(
            f"""SELECT {column} AS target, count(*) AS n FROM pool_records
                 WHERE pool_id = $1 AND {column} = ANY($2::bigint[]) AND status IN ('assigned', 'in_progress')
                 GROUP BY {column}""",  # noqa: S608
            pool_id,
            list(targets.ids),
        )
        order = order_for_remainder(targets.ids, {r["target"]: r["n"] for r in load_rows})
        rows = await self._conn.fetch(
            """WITH picked AS (
                   SELECT id, priority FROM pool_records
                    WHERE pool_id = $1 AND status = 'new'
                      AND (cardinality($2::text[]) = 0 OR city = ANY($2::text[]))
                      AND (cardinality($3::text[]) = 0 OR region = ANY($3::text[]))
                      AND custom_fields @> $4::jsonb
                      AND ($5::integer IS NULL OR priority >= $5)
                      AND ($6::integer IS NULL OR priority <= $6)
                    ORDER BY priority DESC, id
                    LIMIT $7
                    FOR UPDATE SKIP LOCKED
               ), numbered AS (
                   SELECT id, (row_number() OVER (ORDER BY priority DESC, id) - 1) % cardinality($8::bigint[]) + 1
                          AS slot
                     FROM picked
               ), assigned AS (
                   UPDATE pool_records r
                      SET status = 'assigned',
                          agent_id = CASE WHEN $9 THEN ($8::bigint[])[n.slot] END,
                          team_id = CASE WHEN $9 THEN NULL ELSE ($8::bigint[])[n.slot] END,
                          updated_at = now()
                     FROM numbered n
                    WHERE r.id = n.id
                RETURNING n.slot
               )
               SELECT slot, count(*) AS n FROM assigned GROUP BY slot""",
            pool_id,
            list(criteria.cities),
            list(criteria.regions),
            dict(criteria.custom),
            criteria.priority_min,
            criteria.priority_max,
            criteria.limit,
            order,
            targets.kind is TargetKind.AGENT,
        )
        got = {r["slot"]: r["n"] for r in rows}
        return Distribution(targets.kind, {target: got.get(i, 0) for i, target in enumerate(order, 1)})

    async def unassign(self, pool_id: int, *, agent_id: int | None = None, team_id: int | None = None) -> int:
        """Take back the records an agent or team has not started (they become ``new`` again)."""
        result = await self._conn.execute(
            """UPDATE pool_records SET status = 'new', agent_id = NULL, team_id = NULL, updated_at = now()
                WHERE pool_id = $1 AND status = 'assigned'
                  AND (($2::bigint IS NOT NULL AND agent_id = $2) OR ($3::bigint IS NOT NULL AND team_id = $3))""",
            pool_id,
            agent_id,
            team_id,
        )
        return int(result.rsplit(" ", 1)[1])

    # --- preview dialing ------------------------------------------------------------------------------------------

    async def claim_next(self, agent_id: int, now: datetime) -> PoolRecord | None:
        """Take the agent's next record: his own first, then his team's; within each, pools by dial priority, then
        record priority, then age; records whose next attempt is still ahead are left alone. None for an unknown or
        inactive agent, or when nothing is due.

        One round trip: the walk is the SQL function ``pool_claim_next`` (migration 0003), which commits the claim
        without waiting for the disk (``synchronous_commit = off`` for that transaction only). A claim lost in a
        database crash merely leaves the record ``assigned``, as if the agent had not asked yet."""
        row = await self._conn.fetchrow(
            f"SELECT {_RECORD_COLUMNS} FROM pool_claim_next($1, $2)",  # noqa: S608
            agent_id,
            now,
        )
        return _record(row) if row else None

    async def release(self, record_id: int, agent_id: int, *, retry_at: datetime | None = None) -> bool:
        """Give a taken record back untouched (the agent skipped it or went away); no attempt is counted."""
        result = await self._conn.execute(
            """UPDATE pool_records
                  SET status = 'assigned', claimed_by = NULL, claimed_at = NULL,
                      next_attempt_at = coalesce($3, next_attempt_at), updated_at = now()
                WHERE id = $1 AND status = 'in_progress' AND claimed_by = $2""",
            record_id,
            agent_id,
            retry_at,
        )
        return result.endswith(" 1")

    async def finish_attempt(
        self, record_id: int, agent_id: int, disposition: str, *, retry_at: datetime | None, archive: bool = False
    ) -> PoolRecord | None:
        """Count the attempt and set its disposition; the record is dialed again at ``retry_at``, or else is done
        (``archive``: taken out of dialing, e.g. a wrong number)."""
        status = RecordStatus.ASSIGNED if retry_at else (RecordStatus.ARCHIVED if archive else RecordStatus.DONE)
        row = await self._conn.fetchrow(
            f"""UPDATE pool_records
                   SET status = $3, disposition = $4, attempts = attempts + 1, next_attempt_at = $5,
                       claimed_by = NULL, claimed_at = NULL, updated_at = now()
                 WHERE id = $1 AND status = 'in_progress' AND claimed_by = $2
             RETURNING {_RECORD_COLUMNS}""",  # noqa: S608
            record_id,
            agent_id,
            status.value,
            disposition,
            retry_at,
        )
        return _record(row) if row else None

    async def release_stale(self, claimed_before: datetime) -> list[int]:
        """Give back records taken before ``claimed_before`` and never finished (the agent's console went away)."""
        rows = await self._conn.fetch(
            """UPDATE pool_records SET status = 'assigned', claimed_by = NULL, claimed_at = NULL, updated_at = now()
                WHERE status = 'in_progress' AND claimed_at < $1
            RETURNING id""",
            claimed_before,
        )
        return [r["id"] for r in rows]
