"""The blacklist, İYS consents and campaigns' consent rules in PostgreSQL.

:meth:`BlacklistRepository.blocked` is the check every dial and every import batch runs: one statement for any number
of numbers, each answered by probes of ``blacklist_entries_live_key`` and the primary key of ``iys_consents``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from asyncpg import Record

from callcenter.db.database import Connection
from dialer.blacklist.model import (
    BlacklistEntry,
    CampaignRule,
    Channel,
    Consent,
    ConsentRule,
    ConsentStatus,
    RecipientType,
    Source,
)

_ENTRY_COLUMNS = "id, phone, campaign_id, reason, source, added_by, added_at, removed_at, removed_by, removal_reason"
_CONSENT_COLUMNS = "phone, channel, status, recipient_type, source, consent_date, updated_at, updated_by"
#: The live-entry key: the inference target of ON CONFLICT and the shape the dial check probes.
_LIVE_KEY = "(phone, (coalesce(campaign_id, 0))) WHERE removed_at IS NULL"


def _entry(row: Record) -> BlacklistEntry:
    values = dict(row.items())
    values["source"] = Source(values["source"])
    return BlacklistEntry(**values)


def _consent(row: Record) -> Consent:
    values = dict(row.items())
    values["channel"] = Channel(values["channel"])
    values["status"] = ConsentStatus(values["status"])
    values["recipient_type"] = RecipientType(values["recipient_type"])
    return Consent(**values)


@dataclasses.dataclass(frozen=True)
class EntryFilter:
    """Which entries a list shows. ``digits``: part of the number (None: any); ``campaign_id``: that campaign's
    entries, 0 the global ones, None both; ``status``: ``live``, ``removed`` or ``all``."""

    digits: str | None = None
    exact: str | None = None
    campaign_id: int | None = None
    status: str = "live"


@dataclasses.dataclass(frozen=True)
class NewConsent:
    """A consent about to be stored; ``line_no`` and ``raw`` tie it back to its line of the uploaded file."""

    line_no: int
    phone: str
    channel: Channel
    status: ConsentStatus
    recipient_type: RecipientType
    source: str
    consent_date: datetime
    raw: tuple[str, ...] = dataclasses.field(default=(), compare=False)  # the file's cells, for its report


class BlacklistRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def blocked(self, numbers: Sequence[str], campaign_id: int | None) -> dict[str, str]:
        """Distinct E.164 numbers -> reason code (:class:`BlockReason`) for those that may not be dialed. Without a
        campaign (an import, a call outside campaigns) the İYS rule is the default one, ``refused_blocked``; so is it
        for a campaign that does not exist.

        Each number is answered by its own index probes (the aggregate and the LIMIT keep the planner from turning the
        laterals into joins that read the whole tables): a dial costs microseconds, an import batch of 20,000 numbers
        some tens of milliseconds, however long the lists grow."""
        rows = await self._conn.fetch(
            """SELECT phone, reason FROM (
                   SELECT a.phone,
                          CASE
                              WHEN b.global THEN 'blacklist'
                              WHEN b.own THEN 'blacklist_campaign'
                              WHEN r.consent_rule <> 'ignore' AND c.status = 'RET' THEN 'iys_refused'
                              WHEN r.consent_rule = 'consent_required' AND c.status IS DISTINCT FROM 'ONAY'
                                   THEN 'iys_no_consent'
                          END AS reason
                     FROM unnest($1::text[]) AS a (phone)
                    CROSS JOIN (SELECT coalesce((SELECT consent_rule FROM campaigns WHERE id = $2),
                                                'refused_blocked') AS consent_rule) r
                    CROSS JOIN LATERAL (
                          SELECT bool_or(e.campaign_id IS NULL) AS global, bool_or(e.campaign_id = $2) AS own
                            FROM blacklist_entries e
                           WHERE e.phone = a.phone AND e.removed_at IS NULL) b
                     LEFT JOIN LATERAL (
                          SELECT i.status FROM iys_consents i
                           WHERE i.phone = a.phone AND i.channel = 'ARAMA'
                           LIMIT 1) c ON true
               ) checked
               WHERE reason IS NOT NULL""",
            list(numbers),
            campaign_id,
        )
        return {r["phone"]: r["reason"] for r in rows}

    # --- entries --------------------------------------------------------------------------------------------------

    async def get(self, entry_id: int, *, lock: bool = False) -> BlacklistEntry | None:
        sql = f"SELECT {_ENTRY_COLUMNS} FROM blacklist_entries WHERE id = $1"  # noqa: S608
        row = await self._conn.fetchrow(sql + " FOR UPDATE" if lock else sql, entry_id)
        return _entry(row) if row else None

    async def add(
        self, phone: str, campaign_id: int | None, reason: str, source: Source, added_by: int | None
    ) -> BlacklistEntry | None:
        """The new live entry; None when the number is already listed in that scope."""
        row = await self._conn.fetchrow(
            f"""INSERT INTO blacklist_entries (phone, campaign_id, reason, source, added_by)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT {_LIVE_KEY} DO NOTHING
                RETURNING {_ENTRY_COLUMNS}""",  # noqa: S608
            phone,
            campaign_id,
            reason,
            source.value,
            added_by,
        )
        return _entry(row) if row else None

    async def add_many(
        self,
        phones: Sequence[str],
        reasons: Sequence[str],
        campaign_id: int | None,
        source: Source,
        added_by: int | None,
    ) -> set[str]:
        """List many numbers (distinct) at once; the ones actually added (the others were listed already)."""
        rows = await self._conn.fetch(
            f"""INSERT INTO blacklist_entries (phone, campaign_id, reason, source, added_by)
                SELECT u.phone, $3, u.reason, $4, $5 FROM unnest($1::text[], $2::text[]) AS u (phone, reason)
                ON CONFLICT {_LIVE_KEY} DO NOTHING
                RETURNING phone""",  # noqa: S608
            list(phones),
            list(reasons),
            campaign_id,
            source.value,
            added_by,
        )
        return {r["phone"] for r in rows}

    async def remove(self, entry_id: int, removed_by: int | None, reason: str) -> BlacklistEntry | None:
        """End a live entry (kept, with who, when and why); None when it is not live."""
        row = await self._conn.fetchrow(
            f"""UPDATE blacklist_entries SET removed_at = now(), removed_by = $2, removal_reason = $3
                 WHERE id = $1 AND removed_at IS NULL
             RETURNING {_ENTRY_COLUMNS}""",  # noqa: S608
            entry_id,
            removed_by,
            reason,
        )
        return _entry(row) if row else None

    async def search(
        self, where: EntryFilter, *, before_id: int | None = None, limit: int = 50
    ) -> list[BlacklistEntry]:
        """Entries newest first, ``limit`` of them with ids below ``before_id`` (keyset paging)."""
        rows = await self._conn.fetch(
            f"""SELECT {_ENTRY_COLUMNS} FROM blacklist_entries
                 WHERE ($1::text IS NULL OR phone LIKE '%' || $1 || '%')
                   AND ($2::text IS NULL OR phone = $2)
                   AND ($3::bigint IS NULL OR coalesce(campaign_id, 0) = $3)
                   AND ($4 = 'all' OR (removed_at IS NULL) = ($4 = 'live'))
                   AND ($5::bigint IS NULL OR id < $5)
                 ORDER BY id DESC
                 LIMIT $6""",  # noqa: S608
            where.digits,
            where.exact,
            where.campaign_id,
            where.status,
            before_id,
            limit,
        )
        return [_entry(r) for r in rows]

    # --- campaigns ------------------------------------------------------------------------------------------------

    async def campaigns(self) -> list[CampaignRule]:
        rows = await self._conn.fetch("SELECT id, name, consent_rule FROM campaigns ORDER BY lower(name), id")
        return [CampaignRule(r["id"], r["name"], ConsentRule(r["consent_rule"])) for r in rows]

    async def campaign(self, campaign_id: int, *, lock: bool = False) -> CampaignRule | None:
        sql = "SELECT id, name, consent_rule FROM campaigns WHERE id = $1"
        row = await self._conn.fetchrow(sql + " FOR UPDATE" if lock else sql, campaign_id)
        return CampaignRule(row["id"], row["name"], ConsentRule(row["consent_rule"])) if row else None

    async def set_consent_rule(self, campaign_id: int, rule: ConsentRule) -> None:
        await self._conn.execute(
            "UPDATE campaigns SET consent_rule = $2, updated_at = now() WHERE id = $1", campaign_id, rule.value
        )


class ConsentRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def for_phone(self, phone: str) -> list[Consent]:
        rows = await self._conn.fetch(
            f"SELECT {_CONSENT_COLUMNS} FROM iys_consents WHERE phone = $1 ORDER BY channel",  # noqa: S608
            phone,
        )
        return [_consent(r) for r in rows]

    async def store(self, consents: Sequence[NewConsent], updated_by: int | None) -> set[tuple[str, str]]:
        """Store each consent unless a newer one (by consent date) is known for its number and channel; the
        ``(phone, channel)`` pairs stored. At most one consent per pair."""
        rows = await self._conn.fetch(
            """INSERT INTO iys_consents AS c (phone, channel, status, recipient_type, source, consent_date, updated_by)
               SELECT u.*, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                          $6::timestamptz[]) AS u
               ON CONFLICT (phone, channel) DO UPDATE
                  SET status = EXCLUDED.status, recipient_type = EXCLUDED.recipient_type, source = EXCLUDED.source,
                      consent_date = EXCLUDED.consent_date, updated_at = now(), updated_by = EXCLUDED.updated_by
                WHERE c.consent_date <= EXCLUDED.consent_date
               RETURNING phone, channel""",
            [c.phone for c in consents],
            [c.channel.value for c in consents],
            [c.status.value for c in consents],
            [c.recipient_type.value for c in consents],
            [c.source for c in consents],
            [c.consent_date for c in consents],
            updated_by,
        )
        return {(r["phone"], r["channel"]) for r in rows}
