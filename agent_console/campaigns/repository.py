"""What the campaign pages read that the dialer's repositories do not: record counts per campaign, live calls, and
the agents' data archive (seed 001 "Agent data arşivlerine erişim"): call records filtered by agent, time,
disposition and campaign."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime

from asyncpg import Record

from callcenter.db.database import Connection

#: The filter value of "no disposition set yet" (disposition codes are ``[a-z0-9_]`` and never this).
NO_DISPOSITION = "-"


@dataclasses.dataclass(frozen=True)
class ArchiveFilter:
    """Which call records to show; None means "any". ``agents`` limits them to a viewer's scope (a team leader's
    agents), None for everyone. ``until`` is exclusive."""

    agents: frozenset[int] | None = None
    agent_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    disposition: str | None = None
    campaign_id: int | None = None


@dataclasses.dataclass(frozen=True)
class ArchiveRow:
    id: int
    dialed_at: datetime
    agent_id: int | None
    agent_name: str | None
    phone: str
    record_name: str
    campaign_name: str | None
    attempt: int
    status: str
    failure: str | None
    talk_seconds: int | None
    disposition: str | None
    disposition_label: str | None
    note: str | None


_WHERE = """
     WHERE ($1::bigint[] IS NULL OR c.agent_id = ANY($1::bigint[]))
       AND ($2::bigint IS NULL OR c.agent_id = $2)
       AND ($3::timestamptz IS NULL OR c.dialed_at >= $3)
       AND ($4::timestamptz IS NULL OR c.dialed_at < $4)
       AND ($5::text IS NULL OR ($5 = '-' AND c.disposition IS NULL) OR c.disposition = $5)
       AND ($6::bigint IS NULL OR c.campaign_id = $6)"""


def _args(f: ArchiveFilter) -> tuple[object, ...]:
    return (
        sorted(f.agents) if f.agents is not None else None,
        f.agent_id,
        f.since,
        f.until,
        f.disposition,
        f.campaign_id,
    )


def _row(r: Record) -> ArchiveRow:
    return ArchiveRow(**dict(r.items()))


class CampaignPagesRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def record_counts(self) -> dict[int, dict[str, int]]:
        """Per campaign, how many records of its pools are in each status."""
        rows = await self._conn.fetch(
            """SELECT cp.campaign_id, r.status, count(*) AS n
                 FROM campaign_pools cp JOIN pool_records r ON r.pool_id = cp.pool_id
                GROUP BY cp.campaign_id, r.status"""
        )
        out: dict[int, dict[str, int]] = {}
        for r in rows:
            out.setdefault(r["campaign_id"], {})[r["status"]] = r["n"]
        return out

    async def live_calls(self) -> dict[int, int]:
        rows = await self._conn.fetch(
            """SELECT campaign_id, count(*) AS n FROM call_records
                WHERE status = 'live' AND campaign_id IS NOT NULL GROUP BY campaign_id"""
        )
        return {r["campaign_id"]: r["n"] for r in rows}

    async def disposition_labels(self, campaign_id: int | None = None) -> list[tuple[str, str]]:
        """(code, label) of the dispositions of one campaign or of all (one label per code: the first by position)."""
        rows = await self._conn.fetch(
            """SELECT DISTINCT ON (code) code, label FROM dispositions
                WHERE ($1::bigint IS NULL OR campaign_id = $1)
                ORDER BY code, position, campaign_id""",
            campaign_id,
        )
        pairs = [(r["code"], r["label"]) for r in rows]
        return sorted(pairs, key=lambda pair: pair[1].casefold())

    async def users_in_teams(self, team_ids: Collection[int]) -> frozenset[int]:
        rows = await self._conn.fetch("SELECT id FROM users WHERE team_id = ANY($1::bigint[])", sorted(team_ids))
        return frozenset(r["id"] for r in rows)

    async def archive_count(self, f: ArchiveFilter) -> int:
        count: int = await self._conn.fetchval(
            "SELECT count(*) FROM call_records c" + _WHERE,  # noqa: S608 (a constant; values are parameters)
            *_args(f),
        )
        return count

    async def archive(self, f: ArchiveFilter, *, limit: int, offset: int = 0) -> list[ArchiveRow]:
        """The call records of the filter, newest first, with the names the archive shows."""
        rows = await self._conn.fetch(
            f"""SELECT c.id, c.dialed_at, c.agent_id, u.full_name AS agent_name, c.phone,
                      coalesce(nullif(r.name, ''), cu.name, '') AS record_name, cp.name AS campaign_name,
                      c.attempt, c.status, c.failure,
                      CASE WHEN c.ended_at IS NOT NULL AND coalesce(c.connected_at, c.answered_at) IS NOT NULL
                           THEN round(extract(epoch FROM c.ended_at - coalesce(c.connected_at, c.answered_at)))::int
                      END AS talk_seconds,
                      c.disposition, d.label AS disposition_label, c.note
                 FROM call_records c
                 LEFT JOIN users u ON u.id = c.agent_id
                 LEFT JOIN pool_records r ON r.id = c.pool_record_id
                 LEFT JOIN customers cu ON cu.id = c.customer_id
                 LEFT JOIN campaigns cp ON cp.id = c.campaign_id
                 LEFT JOIN dispositions d ON d.campaign_id = c.campaign_id AND d.code = c.disposition
               {_WHERE}
                ORDER BY c.dialed_at DESC, c.id DESC
                LIMIT $7 OFFSET $8""",  # noqa: S608
            *_args(f),
            limit,
            offset,
        )
        return [_row(r) for r in rows]
