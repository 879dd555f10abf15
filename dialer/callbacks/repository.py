"""Call-backs and missed calls in PostgreSQL, and the SQL the campaign dialer's record pick uses for call-backs.

This module imports nothing of :mod:`dialer.campaigns`: the campaigns' repository imports :func:`claim_sql` from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from asyncpg import Record, UniqueViolationError

from callcenter.db.database import Connection
from dialer.callbacks.model import (
    AWAY_STATES,
    OWNER_GRACE,
    Callback,
    CallbackListEntry,
    CallbackStatus,
    EntryKind,
    MissedCall,
    MissedStatus,
    MissSource,
    RecordWarning,
    Visibility,
)

_LIVE = "('open', 'offered')"
_AWAY = "(" + ", ".join(f"'{s}'" for s in AWAY_STATES) + ")"


def owner_away_sql(now: str, grace: timedelta = OWNER_GRACE) -> str:
    """True when the owner of call-back ``cb`` has been away (not logged in, on a break, not taking calls, or never
    logged in) for at least ``grace`` at ``now`` (an SQL expression)."""
    seconds = int(grace.total_seconds())
    return f"""NOT EXISTS (SELECT 1 FROM agent_states s
                            WHERE s.user_id = cb.owner_id
                              AND (s.state NOT IN {_AWAY} OR s.since > {now} - make_interval(secs => {seconds})))"""  # noqa: S608


def _escalated_sql(now: str, team: str, grace: timedelta) -> str:
    """Call-back ``cb`` is due and its owner away past the grace: the agent of ``team`` may take it if it shows."""
    return f"""(cb.due_at <= {now}
                AND (cb.visibility = 'all' OR (cb.visibility = 'team' AND cb.team_id = coalesce({team}, -1)))
                AND {owner_away_sql(now, grace)})"""


def claim_sql(now: str, agent: str, team: str, grace: timedelta = OWNER_GRACE) -> tuple[str, str]:
    """(filter on record ``r``, condition on call-back ``cb``) for a pick by ``agent`` of ``team`` at ``now`` (SQL
    placeholders): a record with a live call-back of another owner is left alone unless that call-back has gone to
    this agent (due, owner away past the grace, visible to him); the call-backs that are his to dial now (due and
    his, or gone to him) are picked before any other record (the pick walks ``callbacks_due_idx`` for them)."""
    escalated = _escalated_sql(now, team, grace)
    keep_out = f"""NOT EXISTS (SELECT 1 FROM callbacks cb
                                WHERE cb.pool_record_id = r.id AND cb.status IN {_LIVE}
                                  AND cb.owner_id <> {agent} AND NOT {escalated})"""  # noqa: S608
    due = f"""cb.status IN {_LIVE} AND cb.due_at <= {now} AND (cb.owner_id = {agent} OR {escalated})"""
    return keep_out, due


def _callback(row: Record) -> Callback:
    values = {k: v for k, v in row.items() if k not in ("updated_at", "visible")}
    values["visibility"] = Visibility(values["visibility"])
    values["status"] = CallbackStatus(values["status"])
    return Callback(**values)


def _missed(row: Record) -> MissedCall:
    values = {k: v for k, v in row.items() if k != "inserted"}
    values["source"] = MissSource(values["source"])
    values["status"] = MissedStatus(values["status"])
    return MissedCall(**values)


_VISIBLE = """(cb.owner_id = $1 OR cb.visibility = 'all'
                OR (cb.visibility = 'team' AND cb.team_id = coalesce($2::bigint, -1)))"""


class CallbackRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(
        self,
        *,
        pool_record_id: int | None,
        customer_id: int | None,
        phone: str,
        campaign_id: int | None,
        owner_id: int,
        team_id: int | None,
        due_at: datetime,
        note: str,
        visibility: Visibility,
        created_by: int | None,
        created_at: datetime,
        source_call_id: str | None = None,
    ) -> Callback:
        """A new call-back. Raises :class:`asyncpg.UniqueViolationError` if the record has a live one already."""
        row = await self._conn.fetchrow(
            """INSERT INTO callbacks (pool_record_id, customer_id, phone, campaign_id, owner_id, team_id, due_at,
                                      note, visibility, created_by, created_at, source_call_id, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11) RETURNING *""",
            pool_record_id,
            customer_id,
            phone,
            campaign_id,
            owner_id,
            team_id,
            due_at,
            note,
            visibility.value,
            created_by,
            created_at,
            source_call_id,
        )
        assert row is not None
        return _callback(row)

    async def get(self, callback_id: int, *, lock: bool = False) -> Callback | None:
        sql = "SELECT * FROM callbacks WHERE id = $1"
        row = await self._conn.fetchrow(sql + " FOR UPDATE" if lock else sql, callback_id)
        return _callback(row) if row else None

    async def live_of_record(self, record_id: int, *, lock: bool = False) -> Callback | None:
        sql = f"SELECT * FROM callbacks WHERE pool_record_id = $1 AND status IN {_LIVE}"  # noqa: S608
        row = await self._conn.fetchrow(sql + " FOR UPDATE" if lock else sql, record_id)
        return _callback(row) if row else None

    async def change(
        self, callback_id: int, *, due_at: datetime, note: str, visibility: Visibility, now: datetime
    ) -> Callback | None:
        """A new time, note or visibility; a new time makes it wait (and alert) again."""
        row = await self._conn.fetchrow(
            f"""UPDATE callbacks
                   SET status = CASE WHEN due_at = $2 THEN status ELSE 'open' END,
                       offered_at = CASE WHEN due_at = $2 THEN offered_at END,
                       escalated_at = CASE WHEN due_at = $2 THEN escalated_at END,
                       due_at = $2, note = $3, visibility = $4, updated_at = $5
                 WHERE id = $1 AND status IN {_LIVE}
             RETURNING *""",  # noqa: S608
            callback_id,
            due_at,
            note,
            visibility.value,
            now,
        )
        return _callback(row) if row else None

    async def end(
        self,
        callback_id: int,
        status: CallbackStatus,
        at: datetime,
        *,
        by: int | None = None,
        call_id: str | None = None,
    ) -> Callback | None:
        row = await self._conn.fetchrow(
            f"""UPDATE callbacks SET status = $2, done_at = $3, done_by = $4, fulfilled_call_id = $5, updated_at = $3
                 WHERE id = $1 AND status IN {_LIVE} RETURNING *""",  # noqa: S608
            callback_id,
            status.value,
            at,
            by,
            call_id,
        )
        return _callback(row) if row else None

    async def visible_to(
        self, user_id: int, team_id: int | None, *, live_only: bool = True, limit: int = 500
    ) -> list[Callback]:
        """The call-backs an agent may see (his own, his team's shared ones, everyone's public ones), by due time."""
        rows = await self._conn.fetch(
            f"""SELECT cb.* FROM callbacks cb
                 WHERE {_VISIBLE} AND (NOT $3 OR cb.status IN {_LIVE})
                 ORDER BY cb.due_at, cb.id LIMIT $4""",  # noqa: S608
            user_id,
            team_id,
            live_only,
            limit,
        )
        return [_callback(r) for r in rows]

    async def due_for(
        self, user_id: int, team_id: int | None, now: datetime, grace: timedelta = OWNER_GRACE
    ) -> list[Callback]:
        """The due call-backs that go to this agent now: his own, and those of owners away past the grace that
        he may see; his own first, then by due time."""
        rows = await self._conn.fetch(
            f"""SELECT cb.* FROM callbacks cb
                 WHERE cb.status IN {_LIVE} AND cb.due_at <= $3
                   AND (cb.owner_id = $1 OR {_escalated_sql("$3", "$2::bigint", grace)})
                 ORDER BY (cb.owner_id = $1) DESC, cb.due_at, cb.id""",  # noqa: S608
            user_id,
            team_id,
            now,
        )
        return [_callback(r) for r in rows]

    async def mark_offered(self, now: datetime) -> list[Callback]:
        """The call-backs that have just become due: offered to their owners (the alert goes out once)."""
        rows = await self._conn.fetch(
            """UPDATE callbacks SET status = 'offered', offered_at = $1, updated_at = $1
                WHERE status = 'open' AND due_at <= $1 RETURNING *""",
            now,
        )
        return sorted((_callback(r) for r in rows), key=lambda c: (c.due_at, c.id))

    async def mark_escalated(self, now: datetime, grace: timedelta = OWNER_GRACE) -> list[Callback]:
        """Due call-backs whose owner has been away past the grace: offered to the others who may see them."""
        rows = await self._conn.fetch(
            f"""UPDATE callbacks cb SET escalated_at = $1, updated_at = $1
                 WHERE cb.status = 'offered' AND cb.escalated_at IS NULL AND cb.visibility <> 'own'
                   AND cb.due_at <= $1 AND {owner_away_sql("$1", grace)}
             RETURNING cb.*""",  # noqa: S608
            now,
        )
        return sorted((_callback(r) for r in rows), key=lambda c: (c.due_at, c.id))

    async def warning(self, record_id: int, user_id: int, team_id: int | None) -> tuple[RecordWarning, int]:
        """The record's live call-backs the agent may see, its past notes, and how many live call-backs he may
        not see (others' private ones: he is warned that there are some)."""
        record = await self._conn.fetchrow("SELECT customer_id, phone FROM pool_records WHERE id = $1", record_id)
        customer_id = record["customer_id"] if record else None
        phone = record["phone"] if record else None
        rows = await self._conn.fetch(
            f"""SELECT cb.*, {_VISIBLE} AS visible FROM callbacks cb
                 WHERE cb.status IN {_LIVE}
                   AND (cb.pool_record_id = $3 OR cb.customer_id = $4 OR cb.phone = $5)
                 ORDER BY cb.due_at, cb.id""",  # noqa: S608
            user_id,
            team_id,
            record_id,
            customer_id,
            phone,
        )
        visible = tuple(_callback(r) for r in rows if r["visible"])
        hidden = sum(1 for r in rows if not r["visible"])
        notes = await self._conn.fetchrow(
            """SELECT count(*) AS notes, max(at) AS last_at FROM (
                   SELECT n.noted_at AS at FROM call_notes n WHERE n.pool_record_id = $1 OR n.customer_id = $2
                   UNION ALL
                   SELECT coalesce(c.disposition_at, c.ended_at, c.dialed_at) FROM call_records c
                    WHERE c.pool_record_id = $1 AND c.note IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM call_notes n WHERE n.call_id = c.call_id)
               ) AS all_notes""",
            record_id,
            customer_id,
        )
        assert notes is not None
        return RecordWarning(visible, notes["notes"], notes["last_at"]), hidden


class MissedCallRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def record_miss(
        self,
        *,
        call_id: str,
        phone: str,
        source: MissSource,
        at: datetime,
        caller_name: str = "",
        queue: str | None = None,
        hold_seconds: int | None = None,
        customer_id: int | None = None,
        pool_record_id: int | None = None,
        campaign_id: int | None = None,
    ) -> MissedCall | None:
        """Count one miss of ``phone`` (the call ``call_id``) on its live entry, opening one if it has none. A call
        counts once whoever reports it: None if it was counted already."""
        if await self._conn.fetchval("SELECT 1 FROM missed_call_events WHERE call_id = $1", call_id):
            return None
        if customer_id is None:
            customer_id = await self._conn.fetchval(
                "SELECT customer_id FROM customer_phones WHERE number = $1 ORDER BY position, customer_id LIMIT 1",
                phone,
            )
        if pool_record_id is None:
            found = await self._conn.fetchrow(
                """SELECT id, campaign_id, customer_id FROM pool_records
                    WHERE phone = $1 AND status <> 'archived' ORDER BY updated_at DESC, id DESC LIMIT 1""",
                phone,
            )
            if found is not None:
                pool_record_id = found["id"]
                campaign_id = campaign_id or found["campaign_id"]
                customer_id = customer_id or found["customer_id"]
        try:
            async with self._conn.transaction():
                row = await self._conn.fetchrow(
                    """INSERT INTO missed_calls (phone, caller_name, customer_id, pool_record_id, campaign_id, queue,
                                                 source, first_missed_at, last_missed_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                       ON CONFLICT (phone) WHERE status <> 'closed' DO UPDATE
                          SET misses = missed_calls.misses + 1,
                              first_missed_at = least(missed_calls.first_missed_at, EXCLUDED.first_missed_at),
                              last_missed_at = greatest(missed_calls.last_missed_at, EXCLUDED.last_missed_at),
                              source = EXCLUDED.source,
                              queue = coalesce(EXCLUDED.queue, missed_calls.queue),
                              caller_name = CASE WHEN EXCLUDED.caller_name <> '' THEN EXCLUDED.caller_name
                                                 ELSE missed_calls.caller_name END,
                              customer_id = coalesce(missed_calls.customer_id, EXCLUDED.customer_id),
                              pool_record_id = coalesce(EXCLUDED.pool_record_id, missed_calls.pool_record_id),
                              campaign_id = coalesce(EXCLUDED.campaign_id, missed_calls.campaign_id)
                    RETURNING *""",
                    phone,
                    caller_name,
                    customer_id,
                    pool_record_id,
                    campaign_id,
                    queue,
                    source.value,
                    at,
                )
                assert row is not None
                await self._conn.execute(
                    """INSERT INTO missed_call_events (call_id, missed_call_id, phone, source, queue, hold_seconds,
                                                       missed_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                    call_id,
                    row["id"],
                    phone,
                    source.value,
                    queue,
                    hold_seconds,
                    at,
                )
        except UniqueViolationError as error:
            if "missed_call_events_pkey" in str(error):
                return None  # reported at the same moment by another writer: counted there
            raise
        return _missed(row)

    async def get(self, entry_id: int) -> MissedCall | None:
        row = await self._conn.fetchrow("SELECT * FROM missed_calls WHERE id = $1", entry_id)
        return _missed(row) if row else None

    async def live_of(self, phone: str) -> MissedCall | None:
        row = await self._conn.fetchrow("SELECT * FROM missed_calls WHERE phone = $1 AND status <> 'closed'", phone)
        return _missed(row) if row else None

    async def live(self, *, limit: int = 500, include_taken: bool = True) -> list[MissedCall]:
        """Entries not yet closed, oldest first (the one that has waited longest on top)."""
        rows = await self._conn.fetch(
            """SELECT * FROM missed_calls
                WHERE status = 'open' OR ($1 AND status = 'taken')
                ORDER BY first_missed_at, id LIMIT $2""",
            include_taken,
            limit,
        )
        return [_missed(r) for r in rows]

    async def take(self, agent_id: int, now: datetime, entry_id: int | None = None) -> MissedCall | None:
        """Take the oldest open entry (or ``entry_id``) for the agent; two agents never take the same one."""
        row = await self._conn.fetchrow(
            """WITH picked AS (
                   SELECT m.id FROM missed_calls m
                    WHERE m.status = 'open' AND ($2::bigint IS NULL OR m.id = $2)
                      AND EXISTS (SELECT 1 FROM users u WHERE u.id = $1 AND u.active)
                    ORDER BY m.first_missed_at, m.id
                    LIMIT 1
                      FOR UPDATE SKIP LOCKED)
               UPDATE missed_calls m SET status = 'taken', taken_by = $1, taken_at = $3
                 FROM picked WHERE m.id = picked.id
             RETURNING m.*""",
            agent_id,
            entry_id,
            now,
        )
        return _missed(row) if row else None

    async def release(self, entry_id: int, agent_id: int | None) -> MissedCall | None:
        """Give a taken entry back (the agent did not reach the number): open again, at its old place."""
        row = await self._conn.fetchrow(
            """UPDATE missed_calls SET status = 'open', taken_by = NULL, taken_at = NULL
                WHERE id = $1 AND status = 'taken' AND ($2::bigint IS NULL OR taken_by = $2) RETURNING *""",
            entry_id,
            agent_id,
        )
        return _missed(row) if row else None

    async def release_stale(self, older_than: datetime) -> list[MissedCall]:
        rows = await self._conn.fetch(
            """UPDATE missed_calls SET status = 'open', taken_by = NULL, taken_at = NULL
                WHERE status = 'taken' AND taken_at < $1 RETURNING *""",
            older_than,
        )
        return [_missed(r) for r in rows]

    async def close_number(
        self, phone: str, at: datetime, *, by: int | None, call_id: str | None, reason: str = "answered"
    ) -> MissedCall | None:
        """The number was reached: its live entry (missed before ``at``) is closed."""
        row = await self._conn.fetchrow(
            """UPDATE missed_calls
                  SET status = 'closed', closed_at = $2, closed_by = $3, closed_call_id = $4, close_reason = $5,
                      taken_by = NULL
                WHERE phone = $1 AND status <> 'closed' AND first_missed_at <= $2
            RETURNING *""",
            phone,
            at,
            by,
            call_id,
            reason,
        )
        return _missed(row) if row else None

    async def dismiss(self, entry_id: int, at: datetime, by: int) -> MissedCall | None:
        row = await self._conn.fetchrow(
            """UPDATE missed_calls
                  SET status = 'closed', closed_at = $2, closed_by = $3, close_reason = 'dismissed', taken_by = NULL
                WHERE id = $1 AND status <> 'closed'
            RETURNING *""",
            entry_id,
            at,
            by,
        )
        return _missed(row) if row else None

    async def retry_entries(self, agent_id: int, team_id: int | None, *, limit: int = 500) -> list[CallbackListEntry]:
        """Records of the agent (his own, his team's, or unassigned ones of his team's campaigns) that were busy or
        did not answer and wait for their retry, waiting since their first unanswered attempt in a row."""
        rows = await self._conn.fetch(
            """SELECT r.id, r.phone, r.name, r.disposition, r.campaign_id, r.attempts, r.next_attempt_at,
                      coalesce((SELECT min(c.dialed_at) FROM call_records c
                                 WHERE c.pool_record_id = r.id
                                   AND c.dialed_at > coalesce((SELECT max(a.dialed_at) FROM call_records a
                                                                WHERE a.pool_record_id = r.id
                                                                  AND a.connected_at IS NOT NULL), '-infinity')),
                               r.last_attempt_at) AS since
                 FROM pool_records r
                 JOIN dispositions d ON d.campaign_id = r.campaign_id AND d.code = r.disposition
                                    AND d.outcome IN ('busy', 'no_answer')
                WHERE r.status = 'assigned' AND r.last_attempt_at IS NOT NULL
                  AND (r.agent_id = $1 OR r.team_id = $2
                       OR (r.agent_id IS NULL AND r.team_id IS NULL
                           AND EXISTS (SELECT 1 FROM campaign_teams ct
                                        WHERE ct.campaign_id = r.campaign_id AND ct.team_id = $2)))
                ORDER BY since, r.id LIMIT $3""",
            agent_id,
            team_id,
            limit,
        )
        return [
            CallbackListEntry(
                kind=EntryKind.RETRY,
                phone=r["phone"],
                name=r["name"],
                waiting_since=r["since"],
                misses=r["attempts"],
                reason=r["disposition"],
                pool_record_id=r["id"],
                campaign_id=r["campaign_id"],
                next_attempt_at=r["next_attempt_at"],
            )
            for r in rows
        ]
