"""Campaigns, their dispositions and call records in PostgreSQL, and the record picks of the two dial modes.

The picks take a record with ``FOR UPDATE SKIP LOCKED`` and mark it ``in_progress`` in the same statement, so two
dialers (or an agent and the progressive dialer) never take the same record. A number already in a live outbound
call is never picked, and the unique index ``call_records_live_phone_key`` makes a second live call to a number
impossible even if two processes raced past that check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from asyncpg import Record, UniqueViolationError

from callcenter.db.database import Connection
from dialer.callbacks.repository import claim_sql
from dialer.campaigns.model import (
    CallingRules,
    Campaign,
    CampaignStatus,
    DialMode,
    Disposition,
    DispositionAction,
    Outcome,
)
from dialer.pools.model import PoolRecord, RecordStatus
from dialer.pools.repository import _RECORD_COLUMNS, _record

# A record with a live call-back waits for its owner; a due one comes first (dialer.callbacks.repository.claim_sql).
_CALLBACK_FILTER, _CALLBACK_DUE = claim_sql(now="$2", agent="$3", team="$4")

# The record picks (DialRecords.claim). Parameters: $1 campaign, $2 now, $3 agent, $4 team, $5 start of the local
# day, $6 attempts allowed per day, $7 preview; the pool probes add $8, the pool.
_DIALABLE = f"""r.status IN ('new', 'assigned')
                AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= $2)
                AND NOT EXISTS (SELECT 1 FROM call_records c
                                 WHERE c.phone = r.phone AND c.status = 'live' AND c.direction = 'outbound')
                AND (SELECT count(*) FROM call_records c WHERE c.pool_record_id = r.id AND c.dialed_at >= $5) < $6
                AND {_CALLBACK_FILTER}"""  # noqa: S608 - constants only, the values are parameters
_CALLBACK_PROBE = f"""SELECT r.id FROM callbacks cb
                        JOIN pool_records r ON r.id = cb.pool_record_id
                        JOIN campaign_pools cp ON cp.pool_id = r.pool_id AND cp.campaign_id = $1
                        JOIN pools p ON p.id = r.pool_id AND p.active
                       WHERE {_CALLBACK_DUE} AND {_DIALABLE}
                       ORDER BY cb.due_at, cb.id"""  # noqa: S608
_OWN_PROBE = f"""SELECT r.id FROM pool_records r
                  WHERE r.agent_id = $3 AND r.pool_id = $8 AND r.status = 'assigned' AND {_DIALABLE}
                  ORDER BY r.priority DESC, r.id"""  # noqa: S608
_TEAM_PROBE = f"""SELECT r.id FROM pool_records r
                   WHERE r.team_id = $4 AND r.pool_id = $8 AND r.status = 'assigned' AND {_DIALABLE}
                   ORDER BY r.priority DESC, r.id"""  # noqa: S608
_FREE_PROBE = f"""SELECT r.id FROM pool_records r
                   WHERE r.pool_id = $8 AND r.status = 'assigned' AND r.agent_id IS NULL AND r.team_id IS NULL
                     AND {_DIALABLE}
                   ORDER BY r.priority DESC, r.id"""  # noqa: S608
_NEW_PROBE = f"""SELECT r.id FROM pool_records r
                  WHERE r.pool_id = $8 AND r.status = 'new' AND {_DIALABLE}
                  ORDER BY r.priority DESC, r.id"""  # noqa: S608
_POOL_PROBES = (_OWN_PROBE, _TEAM_PROBE, _FREE_PROBE, _NEW_PROBE)


def _claim(probe: str) -> str:
    """Take the record ``probe`` finds first, if any, for the agent (preview) or the campaign (progressive)."""
    return f"""WITH picked AS ({probe} LIMIT 1 FOR UPDATE OF r SKIP LOCKED)
               UPDATE pool_records r
                  SET status = 'in_progress', claimed_at = $2, campaign_id = $1,
                      claimed_by = CASE WHEN $7 THEN $3::bigint END, updated_at = $2
                 FROM picked WHERE r.id = picked.id
            RETURNING {", ".join("r." + c.strip() for c in _RECORD_COLUMNS.split(","))}"""  # noqa: S608


_CAMPAIGN_COLUMNS = """c.id, c.name, c.description, c.dial_mode, c.status, c.queue, c.caller_id, c.record_calls,
    c.time_zone, c.call_days, c.call_from, c.call_until, c.max_attempts_per_day, c.calls_per_second, c.max_lines,
    c.ring_timeout, c.wrap_up_seconds, c.consent_rule, c.created_at,
    ARRAY(SELECT pool_id FROM campaign_pools p WHERE p.campaign_id = c.id ORDER BY pool_id) AS pool_ids,
    ARRAY(SELECT team_id FROM campaign_teams t WHERE t.campaign_id = c.id ORDER BY team_id) AS team_ids"""


class DuplicateCampaignError(ValueError):
    """A campaign of that name exists already."""


class NumberBusyError(RuntimeError):
    """The number is already in a live outbound call."""


def _campaign(row: Record) -> Campaign:
    return Campaign(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        dial_mode=DialMode(row["dial_mode"]),
        status=CampaignStatus(row["status"]),
        queue=row["queue"],
        caller_id=row["caller_id"],
        record_calls=row["record_calls"],
        rules=CallingRules(
            time_zone=row["time_zone"],
            call_days=frozenset(row["call_days"]),
            call_from=row["call_from"],
            call_until=row["call_until"],
            max_attempts_per_day=row["max_attempts_per_day"],
            calls_per_second=float(row["calls_per_second"]),
            max_lines=row["max_lines"],
            ring_timeout=row["ring_timeout"],
        ),
        wrap_up_seconds=row["wrap_up_seconds"],
        consent_rule=row["consent_rule"],
        pool_ids=tuple(row["pool_ids"]),
        team_ids=tuple(row["team_ids"]),
        created_at=row["created_at"],
    )


def _disposition(row: Record) -> Disposition:
    return Disposition(
        code=row["code"],
        label=row["label"],
        action=DispositionAction(row["action"]),
        retry_minutes=row["retry_minutes"],
        max_attempts=row["max_attempts"],
        success=row["success"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        position=row["position"],
        active=row["active"],
    )


def _rules_args(rules: CallingRules) -> tuple[Any, ...]:
    return (
        rules.time_zone,
        sorted(rules.call_days),
        rules.call_from,
        rules.call_until,
        rules.max_attempts_per_day,
        rules.calls_per_second,
        rules.max_lines,
        rules.ring_timeout,
    )


class CampaignRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, campaign_id: int, *, lock: bool = False) -> Campaign | None:
        sql = f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns c WHERE c.id = $1"  # noqa: S608
        row = await self._conn.fetchrow(sql + " FOR UPDATE OF c" if lock else sql, campaign_id)
        return _campaign(row) if row else None

    async def find(self, *, status: CampaignStatus | None = None) -> list[Campaign]:
        rows = await self._conn.fetch(
            f"""SELECT {_CAMPAIGN_COLUMNS} FROM campaigns c
                 WHERE ($1::text IS NULL OR c.status = $1) ORDER BY lower(c.name), c.id""",  # noqa: S608
            status.value if status else None,
        )
        return [_campaign(r) for r in rows]

    async def add(self, campaign: Campaign) -> int:
        try:
            row = await self._conn.fetchrow(
                """INSERT INTO campaigns (name, description, dial_mode, status, queue, caller_id, record_calls,
                                          wrap_up_seconds, consent_rule, time_zone, call_days, call_from,
                                          call_until, max_attempts_per_day, calls_per_second, max_lines,
                                          ring_timeout)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
                   RETURNING id""",
                campaign.name,
                campaign.description,
                campaign.dial_mode.value,
                campaign.status.value,
                campaign.queue,
                campaign.caller_id,
                campaign.record_calls,
                campaign.wrap_up_seconds,
                campaign.consent_rule,
                *_rules_args(campaign.rules),
            )
        except UniqueViolationError:
            raise DuplicateCampaignError(campaign.name) from None
        assert row is not None
        campaign_id: int = row["id"]
        await self.set_members(campaign_id, campaign.pool_ids, campaign.team_ids)
        return campaign_id

    async def update(self, campaign: Campaign) -> None:
        try:
            await self._conn.execute(
                """UPDATE campaigns
                      SET name = $2, description = $3, dial_mode = $4, queue = $5, caller_id = $6,
                          record_calls = $7, wrap_up_seconds = $8, consent_rule = $9, time_zone = $10,
                          call_days = $11, call_from = $12, call_until = $13, max_attempts_per_day = $14,
                          calls_per_second = $15, max_lines = $16, ring_timeout = $17, updated_at = now()
                    WHERE id = $1""",
                campaign.id,
                campaign.name,
                campaign.description,
                campaign.dial_mode.value,
                campaign.queue,
                campaign.caller_id,
                campaign.record_calls,
                campaign.wrap_up_seconds,
                campaign.consent_rule,
                *_rules_args(campaign.rules),
            )
        except UniqueViolationError:
            raise DuplicateCampaignError(campaign.name) from None
        await self.set_members(campaign.id, campaign.pool_ids, campaign.team_ids)

    async def set_members(self, campaign_id: int, pool_ids: Sequence[int], team_ids: Sequence[int]) -> None:
        await self._conn.execute("DELETE FROM campaign_pools WHERE campaign_id = $1", campaign_id)
        await self._conn.execute("DELETE FROM campaign_teams WHERE campaign_id = $1", campaign_id)
        await self._conn.executemany(
            "INSERT INTO campaign_pools (campaign_id, pool_id) VALUES ($1, $2)", [(campaign_id, p) for p in pool_ids]
        )
        await self._conn.executemany(
            "INSERT INTO campaign_teams (campaign_id, team_id) VALUES ($1, $2)", [(campaign_id, t) for t in team_ids]
        )

    async def set_status(self, campaign_id: int, status: CampaignStatus) -> None:
        await self._conn.execute(
            "UPDATE campaigns SET status = $2, updated_at = now() WHERE id = $1", campaign_id, status.value
        )

    # -- dispositions ----------------------------------------------------------------------------------------------

    async def dispositions(self, campaign_id: int) -> list[Disposition]:
        rows = await self._conn.fetch(
            "SELECT * FROM dispositions WHERE campaign_id = $1 ORDER BY position, code", campaign_id
        )
        return [_disposition(r) for r in rows]

    async def save_disposition(self, campaign_id: int, d: Disposition) -> None:
        await self._conn.execute(
            """INSERT INTO dispositions (campaign_id, code, label, action, retry_minutes, max_attempts, success,
                                         outcome, position, active)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (campaign_id, code) DO UPDATE
                  SET label = EXCLUDED.label, action = EXCLUDED.action, retry_minutes = EXCLUDED.retry_minutes,
                      max_attempts = EXCLUDED.max_attempts, success = EXCLUDED.success, outcome = EXCLUDED.outcome,
                      position = EXCLUDED.position, active = EXCLUDED.active""",
            campaign_id,
            d.code,
            d.label,
            d.action.value,
            d.retry_minutes,
            d.max_attempts,
            d.success,
            d.outcome.value if d.outcome else None,
            d.position,
            d.active,
        )

    # -- agents ----------------------------------------------------------------------------------------------------

    async def ready_agents(self, campaign_id: int) -> list[tuple[int, str, int]]:
        """(user id, extension, team id) of the campaign's agents who are ready now and have a phone, longest ready
        first."""
        rows = await self._conn.fetch(
            """SELECT u.id, u.extension, u.team_id FROM users u
                 JOIN campaign_teams ct ON ct.team_id = u.team_id AND ct.campaign_id = $1
                 JOIN agent_states s ON s.user_id = u.id AND s.state = 'ready'
                WHERE u.active AND u.extension IS NOT NULL
                ORDER BY s.since NULLS FIRST, u.id""",
            campaign_id,
        )
        return [(r["id"], r["extension"], r["team_id"]) for r in rows]


@dataclasses.dataclass(frozen=True)
class CallRecord:
    id: int
    call_id: str
    direction: str
    campaign_id: int | None
    pool_record_id: int | None
    customer_id: int | None
    agent_id: int | None
    phone: str
    attempt: int
    status: str
    dialed_at: datetime
    ringing_at: datetime | None
    answered_at: datetime | None
    connected_at: datetime | None
    ended_at: datetime | None
    failure: str | None
    cause: int | None
    cause_text: str
    hung_up_by: str | None
    disposition: str | None
    disposition_at: datetime | None
    disposition_by: int | None
    note: str | None
    recording: str | None


@dataclasses.dataclass(frozen=True)
class CallOutcome:
    """What the finished call tells its record (from :class:`dialer.state.call.Call`)."""

    status: str  # ended / failed / lost
    ringing_at: datetime | None
    answered_at: datetime | None
    connected_at: datetime | None
    ended_at: datetime
    agent_id: int | None
    failure: str | None
    cause: int | None
    cause_text: str
    hung_up_by: str | None


class CallRecordRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def start(
        self,
        call_id: str,
        *,
        phone: str,
        dialed_at: datetime,
        campaign_id: int | None,
        pool_record_id: int | None,
        customer_id: int | None,
        agent_id: int | None,
        attempt: int,
        recording: str | None = None,
        direction: str = "outbound",
    ) -> CallRecord:
        """The row of a call about to be dialed. Raises :class:`NumberBusyError` if the number is in a live call."""
        try:
            row = await self._conn.fetchrow(
                """INSERT INTO call_records (call_id, direction, campaign_id, pool_record_id, customer_id, agent_id,
                                             phone, attempt, dialed_at, recording)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *""",
                call_id,
                direction,
                campaign_id,
                pool_record_id,
                customer_id,
                agent_id,
                phone,
                attempt,
                dialed_at,
                recording,
            )
        except UniqueViolationError as error:
            if "call_records_live_phone_key" in str(error):
                raise NumberBusyError(phone) from None
            raise
        assert row is not None
        return CallRecord(**dict(row.items()))

    async def add_finished(
        self,
        call_id: str,
        *,
        direction: str,
        phone: str,
        customer_id: int | None,
        dialed_at: datetime,
        outcome: CallOutcome,
    ) -> CallRecord | None:
        """The row of a call we only learnt of from the PBX (a caller's call), written once it is over; None if it
        is there already (a repeat)."""
        row = await self._conn.fetchrow(
            """INSERT INTO call_records (call_id, direction, customer_id, agent_id, phone, dialed_at, status,
                                         ringing_at, answered_at, connected_at, ended_at, failure, cause, cause_text,
                                         hung_up_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
               ON CONFLICT (call_id) DO NOTHING
               RETURNING *""",
            call_id,
            direction,
            customer_id,
            outcome.agent_id,
            phone,
            dialed_at,
            outcome.status,
            outcome.ringing_at,
            outcome.answered_at,
            outcome.connected_at,
            outcome.ended_at,
            outcome.failure,
            outcome.cause,
            outcome.cause_text,
            outcome.hung_up_by,
        )
        return CallRecord(**dict(row.items())) if row else None

    async def get(self, call_id: str, *, lock: bool = False) -> CallRecord | None:
        sql = "SELECT * FROM call_records WHERE call_id = $1"
        row = await self._conn.fetchrow(sql + " FOR UPDATE" if lock else sql, call_id)
        return CallRecord(**dict(row.items())) if row else None

    async def finish(self, call_id: str, outcome: CallOutcome) -> CallRecord | None:
        """Complete a live call's row; None if there is no such live call (already finished: a repeat)."""
        row = await self._conn.fetchrow(
            """UPDATE call_records
                  SET status = $2, ringing_at = $3, answered_at = $4, connected_at = $5, ended_at = $6,
                      agent_id = coalesce($7, agent_id), failure = $8, cause = $9, cause_text = $10, hung_up_by = $11,
                      recording = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE recording END
                WHERE call_id = $1 AND status = 'live'
            RETURNING *""",
            call_id,
            outcome.status,
            outcome.ringing_at,
            outcome.answered_at,
            outcome.connected_at,
            outcome.ended_at,
            outcome.agent_id,
            outcome.failure,
            outcome.cause,
            outcome.cause_text,
            outcome.hung_up_by,
        )
        return CallRecord(**dict(row.items())) if row else None

    async def set_disposition(
        self, call_id: str, code: str, at: datetime, by: int | None, note: str | None
    ) -> CallRecord | None:
        row = await self._conn.fetchrow(
            """UPDATE call_records SET disposition = $2, disposition_at = $3, disposition_by = $4,
                                      note = coalesce($5, note)
                WHERE call_id = $1 RETURNING *""",
            call_id,
            code,
            at,
            by,
            note,
        )
        return CallRecord(**dict(row.items())) if row else None

    async def live(self) -> list[CallRecord]:
        rows = await self._conn.fetch("SELECT * FROM call_records WHERE status = 'live' ORDER BY dialed_at")
        return [CallRecord(**dict(r.items())) for r in rows]

    async def live_count(self, campaign_id: int) -> int:
        count: int = await self._conn.fetchval(
            "SELECT count(*) FROM call_records WHERE status = 'live' AND campaign_id = $1", campaign_id
        )
        return count

    async def of_record(self, pool_record_id: int) -> list[CallRecord]:
        rows = await self._conn.fetch(
            "SELECT * FROM call_records WHERE pool_record_id = $1 ORDER BY dialed_at DESC", pool_record_id
        )
        return [CallRecord(**dict(r.items())) for r in rows]


class DialRecords:
    """The record picks of the two dial modes and what a finished attempt does to its record."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def claim(
        self,
        campaign: Campaign,
        now: datetime,
        *,
        agent_id: int,
        team_id: int | None,
        for_preview: bool,
    ) -> PoolRecord | None:
        """Take the campaign's next due record for ``agent_id``, or None.

        In this order: a record with a due call-back that is his to dial (:mod:`dialer.callbacks`); then, pool by
        pool in dial priority order, his own records, his team's, unassigned records due for a retry, and new ones,
        each by record priority then age. Left alone: records not due yet, records dialed ``max_attempts_per_day``
        times today (in the campaign's time zone), numbers in a live call, and records whose live call-back is
        another agent's. Preview claims the record for the agent; progressive for the campaign (the agent who
        takes the call becomes its claimant).

        Each probe is one descent of a partial index (``callbacks_due_idx``, ``pool_records_agent_pick_idx``,
        ``…_team_pick_idx``, ``…_free_pick_idx``, ``…_new_idx``) that takes its row with ``FOR UPDATE SKIP
        LOCKED``, so the pick costs the same on a pool of ten million records and dialers never wait for each
        other; a pick is at most a few short round trips in one transaction."""
        args = (
            campaign.id,
            now,
            agent_id,
            team_id,
            campaign.rules.day_start(now),
            campaign.rules.max_attempts_per_day,
            for_preview,
        )
        async with self._conn.transaction():
            # As pool_claim_next (migration 0003): the claim commits without waiting for the disk. A claim lost in a
            # database crash only leaves the record as it was; the call record written before any dial is a
            # synchronous commit, which flushes this one with it.
            await self._conn.execute("SET LOCAL synchronous_commit = off")
            row = await self._conn.fetchrow(_claim(_CALLBACK_PROBE), *args)
            if row is not None:
                return _record(row)
            pools = await self._conn.fetch(
                """SELECT p.id FROM pools p JOIN campaign_pools cp ON cp.pool_id = p.id AND cp.campaign_id = $1
                    WHERE p.active ORDER BY p.dial_priority DESC, p.id""",
                campaign.id,
            )
            for probe in _POOL_PROBES:
                if probe is _TEAM_PROBE and team_id is None:
                    continue
                for pool in pools:
                    row = await self._conn.fetchrow(_claim(probe), *args, pool["id"])
                    if row is not None:
                        return _record(row)
        return None

    async def get(self, record_id: int, *, lock: bool = False) -> PoolRecord | None:
        sql = f"SELECT {_RECORD_COLUMNS} FROM pool_records WHERE id = $1"  # noqa: S608
        row = await self._conn.fetchrow(sql + " FOR UPDATE" if lock else sql, record_id)
        return _record(row) if row else None

    async def count_attempt(self, record_id: int, now: datetime) -> int:
        attempts: int = await self._conn.fetchval(
            """UPDATE pool_records SET attempts = attempts + 1, last_attempt_at = $2, updated_at = $2
                WHERE id = $1 RETURNING attempts""",
            record_id,
            now,
        )
        return attempts

    async def hand_to_agent(self, record_id: int, agent_id: int) -> None:
        """The agent took the record's call: the record waits for his disposition."""
        await self._conn.execute(
            "UPDATE pool_records SET claimed_by = $2, updated_at = now() WHERE id = $1 AND status = 'in_progress'",
            record_id,
            agent_id,
        )

    async def settle(
        self, record_id: int, status: RecordStatus, disposition: str | None, next_attempt_at: datetime | None
    ) -> PoolRecord | None:
        """The record's fate after an attempt (or a skip): its new status and next attempt; the claim ends."""
        row = await self._conn.fetchrow(
            f"""UPDATE pool_records
                   SET status = $2, disposition = coalesce($3, disposition), next_attempt_at = $4,
                       claimed_by = NULL, claimed_at = NULL, updated_at = now()
                 WHERE id = $1
             RETURNING {_RECORD_COLUMNS}""",  # noqa: S608
            record_id,
            status.value,
            disposition,
            next_attempt_at,
        )
        return _record(row) if row else None

    async def stale_claims(self, campaign_id: int) -> list[PoolRecord]:
        """Records a progressive campaign claimed that have no live call (a crash between claim and dial)."""
        rows = await self._conn.fetch(
            f"""SELECT {_RECORD_COLUMNS} FROM pool_records r
                 WHERE r.campaign_id = $1 AND r.status = 'in_progress' AND r.claimed_by IS NULL
                   AND NOT EXISTS (SELECT 1 FROM call_records c
                                    WHERE c.pool_record_id = r.id AND c.status = 'live')""",  # noqa: S608
            campaign_id,
        )
        return [_record(r) for r in rows]

    async def release_absent_claims(self) -> list[int]:
        """Give back the records held by agents who are logged out (or never logged in): a preview record he
        took and left, or a record whose call ended without his disposition. Records in a live call stay."""
        rows = await self._conn.fetch(
            """UPDATE pool_records r
                  SET status = 'assigned', claimed_by = NULL, claimed_at = NULL, updated_at = now()
                WHERE r.status = 'in_progress' AND r.claimed_by IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM agent_states s
                                   WHERE s.user_id = r.claimed_by AND s.state <> 'logged_out')
                  AND NOT EXISTS (SELECT 1 FROM call_records c
                                   WHERE c.pool_record_id = r.id AND c.status = 'live')
            RETURNING r.id"""
        )
        return [r["id"] for r in rows]
