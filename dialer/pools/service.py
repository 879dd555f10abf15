"""Use cases on data pools: define pools, import lead files, distribute records, and hand agents their next record.

Changes run in one transaction together with their audit record; events are published once it has committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime

from callcenter.bus import EventBus
from callcenter.bus.events import Event, utc_now
from callcenter.db.database import Connection, Database
from crm_core.audit.repository import Actor, AuditRepository
from crm_core.customers import places
from crm_core.customers.model import changes
from crm_core.users.model import Role
from crm_core.users.repository import TeamRepository, UserRepository
from crm_core.users.service import InvalidInputError, NotFoundError
from dialer.pools import events
from dialer.pools.imports import ImportRepository, ImportSummary, StoredFile, Totals, Upload
from dialer.pools.mapping import Batch, ColumnMapping, Issue, RowReader
from dialer.pools.model import Criteria, Distribution, DuplicateRule, Pool, PoolRecord, TargetKind
from dialer.pools.repository import DuplicateNameError, PoolRepository, RecordRepository, Targets

#: The blacklist's hook (built later): given the E.164 numbers about to be imported, return those never to be
#: dialed. It runs inside the import's transaction, on its connection; its numbers are refused as ``blacklisted``.
BlockedNumbers = Callable[[Connection, Sequence[str]], Awaitable[Collection[str]]]

#: Rows per batch of an import: big enough that per-batch costs vanish, small enough to sort in work_mem.
BATCH_ROWS = 20_000


@dataclasses.dataclass(frozen=True)
class ImportReport:
    summary: ImportSummary
    issues: tuple[Issue, ...]

    @property
    def rejected(self) -> list[Issue]:
        return [i for i in self.issues if i.outcome == "rejected"]


@dataclasses.dataclass(frozen=True)
class PoolChanges:
    name: str | None = None
    description: str | None = None
    active: bool | None = None
    dial_priority: int | None = None
    duplicate_rule: DuplicateRule | None = None


class PoolService:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._bus = bus

    async def create_pool(
        self,
        actor: Actor,
        name: str,
        *,
        description: str = "",
        active: bool = True,
        dial_priority: int = 0,
        duplicate_rule: DuplicateRule = DuplicateRule.SKIP,
    ) -> Pool:
        name = _required(name, "name")
        async with self._db.acquire() as conn, conn.transaction():
            try:
                pool = await PoolRepository(conn).add(
                    name, description.strip(), active=active, dial_priority=dial_priority, duplicate_rule=duplicate_rule
                )
            except DuplicateNameError:
                raise InvalidInputError("name", "error.pool_taken") from None
            await AuditRepository(conn).record(actor, "pool.created", "pool", pool.id, changes({}, _view(pool)))
        await self._publish(events.PoolCreated(pool_id=pool.id, name=pool.name, actor_id=actor.id))
        return pool

    async def update_pool(self, actor: Actor, pool_id: int, change: PoolChanges) -> Pool:
        async with self._db.acquire() as conn, conn.transaction():
            repo = PoolRepository(conn)
            pool = await _pool(repo, pool_id)
            updated = dataclasses.replace(
                pool,
                name=pool.name if change.name is None else _required(change.name, "name"),
                description=pool.description if change.description is None else change.description.strip(),
                active=pool.active if change.active is None else change.active,
                dial_priority=pool.dial_priority if change.dial_priority is None else change.dial_priority,
                duplicate_rule=change.duplicate_rule or pool.duplicate_rule,
            )
            diff = changes(_view(pool), _view(updated))
            if not diff:
                return pool
            try:
                await repo.save(updated)
            except DuplicateNameError:
                raise InvalidInputError("name", "error.pool_taken") from None
            await AuditRepository(conn).record(actor, "pool.updated", "pool", pool_id, diff)
        await self._publish(events.PoolUpdated(pool_id=pool_id, fields=tuple(diff), actor_id=actor.id))
        return updated

    async def list_pools(self) -> list[Pool]:
        async with self._db.acquire() as conn:
            return await PoolRepository(conn).list()

    # --- imports --------------------------------------------------------------------------------------------------

    async def import_file(
        self,
        actor: Actor,
        pool_id: int,
        *,
        filename: str,
        content: bytes,
        mapping: Mapping[str, str],
        blocked: BlockedNumbers | None = None,
    ) -> ImportReport:
        """Import a CSV or XLSX file into the pool. Every data row is stored or reported with its reason; a file
        that cannot be read raises ``FileFormatError`` (``MappingError`` for a mapping that does not fit it) and
        stores nothing; any other failure also stores nothing, not even the file."""
        columns = ColumnMapping(dict(mapping))
        async with self._db.acquire() as conn:
            await _pool(PoolRepository(conn), pool_id)
        reader = await asyncio.to_thread(RowReader, filename, content, columns)  # the header and the mapping
        issues: list[Issue] = []
        async with self._db.acquire() as conn, conn.transaction():
            pool = await _pool(PoolRepository(conn), pool_id, lock=True)
            repo = ImportRepository(conn)
            upload = Upload(pool_id, filename, content, columns.as_dict(), actor.id)
            import_id = await repo.begin(upload, reader, pool.duplicate_rule)
            totals = Totals()
            async with _Prefetcher(reader.batches(BATCH_ROWS)) as batches:
                while (batch := await batches.next()) is not None:
                    if blocked is not None and batch.candidates:
                        numbers = set(await blocked(conn, [c[1] for c in batch.candidates]))
                        batch.refuse({c[0]: ("blacklisted", None) for c in batch.candidates if c[1] in numbers})
                    await repo.stage_batch(pool_id, pool.duplicate_rule, batch, totals)
                    batches.prefetch()  # read the next batch while the database inserts this one
                    await repo.store_batch(import_id, pool_id, batch, reader.custom_keys, totals)
                    issues.extend(batch.issues)
            summary = await repo.finish(import_id, totals, reader.blank_lines)
            await AuditRepository(conn).record(
                actor,
                "pool.imported",
                "pool",
                pool_id,
                {
                    "import_id": [None, summary.id],
                    "filename": [None, filename],
                    "stored_rows": [None, summary.stored_rows],
                    "rejected_rows": [None, summary.rejected_rows],
                },
            )
        await self._publish(
            events.PoolImported(
                pool_id=pool_id,
                import_id=summary.id,
                filename=filename,
                stored=summary.stored_rows,
                rejected=summary.rejected_rows,
                actor_id=actor.id,
            )
        )
        return ImportReport(summary, tuple(sorted(issues, key=lambda i: i.line_no)))

    async def imports(self, pool_id: int) -> list[ImportSummary]:
        async with self._db.acquire() as conn:
            return await ImportRepository(conn).for_pool(pool_id)

    async def uploaded_file(self, import_id: int) -> StoredFile:
        async with self._db.acquire() as conn:
            stored = await ImportRepository(conn).file(import_id)
        if stored is None:
            raise NotFoundError(import_id)
        return stored

    async def import_issues(self, import_id: int) -> list[Issue]:
        async with self._db.acquire() as conn:
            return await ImportRepository(conn).issues(import_id)

    # --- distribution ---------------------------------------------------------------------------------------------

    async def distribute(
        self,
        actor: Actor,
        pool_id: int,
        *,
        agents: Sequence[int] = (),
        teams: Sequence[int] = (),
        members_of: int | None = None,
        criteria: Criteria | None = None,
    ) -> Distribution:
        """Hand the pool's unassigned records that match ``criteria`` to agents (``agents``, or the active members of
        team ``members_of``) or to teams (``teams``), in fair shares."""
        if sum(bool(x) for x in (agents, teams, members_of is not None)) != 1:
            raise InvalidInputError("targets", "error.one_kind_of_target")
        criteria = _normalised(criteria or Criteria())
        async with self._db.acquire() as conn, conn.transaction():
            await _pool(PoolRepository(conn), pool_id, lock=True)
            targets = await _targets(conn, agents, teams, members_of)
            result = await RecordRepository(conn).distribute(pool_id, targets, criteria)
            counts = {str(k): v for k, v in result.counts.items()}
            await AuditRepository(conn).record(
                actor, "pool.distributed", "pool", pool_id, {"assigned": [None, counts], "to": [None, targets.kind]}
            )
        await self._publish(
            events.PoolRecordsDistributed(pool_id=pool_id, target_kind=targets.kind, counts=counts, actor_id=actor.id)
        )
        return result

    # --- preview dialing ------------------------------------------------------------------------------------------

    async def next_record(self, agent_id: int, *, now: datetime | None = None) -> PoolRecord | None:
        """The agent's next record to call, taken for him alone; None when nothing is due."""
        async with self._db.acquire() as conn:
            record = await RecordRepository(conn).claim_next(agent_id, now or utc_now())
        if record is not None:
            await self._publish(
                events.PoolRecordClaimed(record_id=record.id, pool_id=record.pool_id, agent_id=agent_id)
            )
        return record

    async def release(self, agent_id: int, record_id: int) -> bool:
        async with self._db.acquire() as conn:
            return await RecordRepository(conn).release(record_id, agent_id)

    async def finish_attempt(
        self,
        agent_id: int,
        record_id: int,
        disposition: str,
        *,
        retry_at: datetime | None = None,
        archive: bool = False,
    ) -> PoolRecord:
        async with self._db.acquire() as conn:
            record = await RecordRepository(conn).finish_attempt(
                record_id, agent_id, disposition, retry_at=retry_at, archive=archive
            )
        if record is None:
            raise NotFoundError(record_id)  # not his, or not in progress
        await self._publish(
            events.PoolRecordAttempted(
                record_id=record.id,
                pool_id=record.pool_id,
                agent_id=agent_id,
                disposition=disposition,
                status=record.status.value,
            )
        )
        return record

    async def _publish(self, event: Event) -> None:
        await self._bus.publish(event)


class _Prefetcher:
    """Reads a file's batches in a worker thread. :meth:`prefetch` starts reading the next batch, to be called when
    the event loop is about to wait on a long database statement: Python then reads rows while PostgreSQL inserts,
    on two cores, and the reading thread does not compete for the GIL with the loop's own short exchanges. A file
    that turns out malformed half-way raises from :meth:`next`."""

    def __init__(self, batches: Iterator[Batch]) -> None:
        self._batches = batches
        self._pending: asyncio.Future[Batch | None] | None = None

    def prefetch(self) -> None:
        if self._pending is None:
            self._pending = asyncio.ensure_future(asyncio.to_thread(next, self._batches, None))

    async def next(self) -> Batch | None:
        self.prefetch()
        assert self._pending is not None
        pending, self._pending = self._pending, None
        return await pending

    async def __aenter__(self) -> _Prefetcher:
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._pending is not None:  # a thread cannot be stopped: let it finish the batch it is reading
            await asyncio.wait({self._pending})
            if not self._pending.cancelled():
                self._pending.exception()  # retrieved: the caller's own failure is the one that matters


def _view(pool: Pool) -> dict[str, object]:
    return {
        "name": pool.name,
        "description": pool.description,
        "active": pool.active,
        "dial_priority": pool.dial_priority,
        "duplicate_rule": pool.duplicate_rule.value,
    }


async def _pool(repo: PoolRepository, pool_id: int, *, lock: bool = False) -> Pool:
    pool = await repo.get(pool_id, lock=lock)
    if pool is None:
        raise NotFoundError(pool_id)
    return pool


def _required(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInputError(field, "error.required")
    return value


def _normalised(criteria: Criteria) -> Criteria:
    """Cities and regions written the way imports store them (``ISTANBUL`` -> ``İstanbul``)."""
    return dataclasses.replace(
        criteria,
        cities=tuple(c for c in (places.city(c) for c in criteria.cities) if c),
        regions=tuple(r for r in (places.region(r) for r in criteria.regions) if r),
        custom={k.strip(): str(v).strip() for k, v in criteria.custom.items()},
    )


async def _targets(conn: Connection, agents: Sequence[int], teams: Sequence[int], members_of: int | None) -> Targets:
    users = UserRepository(conn)
    if teams:
        team_repo = TeamRepository(conn)
        for team_id in teams:
            if await team_repo.get(team_id) is None:
                raise InvalidInputError("teams", "error.no_such_team")
        return Targets(TargetKind.TEAM, tuple(dict.fromkeys(teams)))
    if members_of is not None:
        if await TeamRepository(conn).get(members_of) is None:
            raise InvalidInputError("members_of", "error.no_such_team")
        agents = [u.id for u in await users.list(team_id=members_of) if u.active and u.role is Role.AGENT]
        if not agents:
            raise InvalidInputError("members_of", "error.team_without_agents")
    for agent_id in agents:
        user = await users.get(agent_id)
        if user is None or not user.active:
            raise InvalidInputError("agents", "error.no_such_user")
    return Targets(TargetKind.AGENT, tuple(dict.fromkeys(agents)))
