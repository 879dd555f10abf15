"""What the team leader's wallboard reads from PostgreSQL: the agents of the watched teams with their state and
current call, today's call figures per agent, the records left per pool of the teams' campaigns, and the success
dispositions (for the live count of successful calls).

"Today" is the day in the call center's time zone (``web.timezone``): a call at 22:30 UTC is 01:30 in Istanbul,
so it belongs to the next local day. One query per figure family, never one per agent. ``teams`` None means every
team (a supervisor's "all").
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from callcenter.db.database import Connection


@dataclasses.dataclass(frozen=True)
class CallFigures:
    """One agent's calls of the day: attempts, calls that reached him, successful (a disposition counting as a
    success), failed attempts (never answered), and talk time of his connected calls that ended."""

    agent_id: int
    calls: int = 0
    connected: int = 0
    successful: int = 0
    failed: int = 0
    talk_seconds: float = 0.0
    talked: int = 0  # connected calls that ended (the divisor of the average talk time)

    @property
    def average_talk(self) -> float:
        return self.talk_seconds / self.talked if self.talked else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "connected": self.connected,
            "successful": self.successful,
            "failed": self.failed,
            "talk_seconds": round(self.talk_seconds, 1),
            "talked": self.talked,
        }


@dataclasses.dataclass(frozen=True)
class PoolLeft:
    pool_id: int
    name: str
    new: int
    due: int

    @property
    def left(self) -> int:
        return self.new + self.due


class WallboardRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def teams(self, teams: list[int] | None) -> list[dict[str, Any]]:
        """(id, name) of the given teams (every team for None), by name."""
        rows = await self._conn.fetch(
            "SELECT id, name FROM teams WHERE $1::bigint[] IS NULL OR id = ANY($1) ORDER BY lower(name), id", teams
        )
        return [{"id": r["id"], "name": r["name"]} for r in rows]

    async def agents(self, teams: list[int] | None) -> list[dict[str, Any]]:
        """The teams' active agents (and anyone of theirs with a state), with the state, since when, the reason, and
        the current call's number and customer (or record) name when known."""
        rows = await self._conn.fetch(
            """SELECT u.id, u.username, u.full_name, u.team_id, coalesce(s.state, 'logged_out') AS state,
                      s.since, s.reason, s.call_id, c.phone, coalesce(cu.name, nullif(r.name, '')) AS customer
                 FROM users u
                 LEFT JOIN agent_states s ON s.user_id = u.id
                 LEFT JOIN call_records c ON c.call_id = s.call_id
                 LEFT JOIN pool_records r ON r.id = c.pool_record_id
                 LEFT JOIN customers cu ON cu.id = c.customer_id
                WHERE u.active AND (u.role = 'agent' OR s.user_id IS NOT NULL)
                  AND u.team_id IS NOT NULL AND ($1::bigint[] IS NULL OR u.team_id = ANY($1))
                ORDER BY lower(u.full_name), u.id""",
            teams,
        )
        return [
            {
                "user_id": r["id"],
                "username": r["username"],
                "full_name": r["full_name"],
                "team_id": r["team_id"],
                "state": r["state"],
                "since": r["since"].isoformat() if r["since"] else None,
                "reason": r["reason"],
                "call_id": r["call_id"],
                "phone": r["phone"],
                "customer": r["customer"],
            }
            for r in rows
        ]

    async def call_figures(self, day: date, tz: str, teams: list[int] | None) -> dict[int, CallFigures]:
        """Per agent of the teams: his calls dialed on ``day`` (local to ``tz``)."""
        rows = await self._conn.fetch(
            """WITH bounds AS (
                   SELECT ($1::date::timestamp AT TIME ZONE $2::text) AS lo,
                          (($1::date + 1)::timestamp AT TIME ZONE $2::text) AS hi
               )
               SELECT c.agent_id,
                      count(*) AS calls,
                      count(*) FILTER (WHERE c.connected_at IS NOT NULL) AS connected,
                      count(*) FILTER (WHERE d.success) AS successful,
                      count(*) FILTER (WHERE c.status = 'failed') AS failed,
                      coalesce(sum(extract(epoch FROM c.ended_at - c.connected_at))
                               FILTER (WHERE c.connected_at IS NOT NULL AND c.ended_at IS NOT NULL), 0) AS talk,
                      count(*) FILTER (WHERE c.connected_at IS NOT NULL AND c.ended_at IS NOT NULL) AS talked
                 FROM call_records c
                 CROSS JOIN bounds b
                 JOIN users u ON u.id = c.agent_id
                 LEFT JOIN dispositions d ON d.campaign_id = c.campaign_id AND d.code = c.disposition
                WHERE c.dialed_at >= b.lo AND c.dialed_at < b.hi
                  AND u.team_id IS NOT NULL AND ($3::bigint[] IS NULL OR u.team_id = ANY($3))
                GROUP BY c.agent_id""",
            day,
            tz,
            teams,
        )
        return {
            r["agent_id"]: CallFigures(
                agent_id=r["agent_id"],
                calls=r["calls"],
                connected=r["connected"],
                successful=r["successful"],
                failed=r["failed"],
                talk_seconds=float(r["talk"]),
                talked=r["talked"],
            )
            for r in rows
        }

    async def records_left(self, teams: list[int] | None, now: datetime) -> list[PoolLeft]:
        """Per active pool dialed by a campaign of the teams: records never given out (new) and records given to
        the teams, their agents or nobody whose next attempt is due (assigned)."""
        rows = await self._conn.fetch(
            """WITH watched AS (
                   SELECT DISTINCT cp.pool_id
                     FROM campaign_pools cp
                     JOIN campaign_teams ct ON ct.campaign_id = cp.campaign_id
                     JOIN campaigns k ON k.id = cp.campaign_id
                    WHERE k.status <> 'finished' AND ($1::bigint[] IS NULL OR ct.team_id = ANY($1))
               )
               SELECT p.id, p.name,
                      count(r.id) FILTER (WHERE r.status = 'new') AS new,
                      count(r.id) FILTER (
                          WHERE r.status = 'assigned'
                            AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= $2)
                            AND ($1::bigint[] IS NULL
                                 OR (r.agent_id IS NULL AND r.team_id IS NULL)
                                 OR r.team_id = ANY($1)
                                 OR r.agent_id IN (SELECT id FROM users WHERE team_id = ANY($1)))) AS due
                 FROM watched w
                 JOIN pools p ON p.id = w.pool_id AND p.active
                 LEFT JOIN pool_records r ON r.pool_id = p.id AND r.status IN ('new', 'assigned')
                GROUP BY p.id, p.name
                ORDER BY p.dial_priority DESC, lower(p.name), p.id""",
            teams,
            now,
        )
        return [PoolLeft(r["id"], r["name"], r["new"], r["due"]) for r in rows]

    async def success_codes(self) -> dict[int, list[str]]:
        """Per campaign, the disposition codes that count as a success."""
        rows = await self._conn.fetch(
            "SELECT campaign_id, array_agg(code ORDER BY code) AS codes FROM dispositions WHERE success "
            "GROUP BY campaign_id"
        )
        return {r["campaign_id"]: list(r["codes"]) for r in rows}


def top_five(figures: dict[int, CallFigures], names: dict[int, str]) -> list[dict[str, Any]]:
    """The day's best five agents by successful calls, ties by calls (then by name, for a stable board)."""
    ranked = sorted(
        (f for f in figures.values() if f.agent_id in names and (f.successful or f.calls)),
        key=lambda f: (-f.successful, -f.calls, names[f.agent_id].lower(), f.agent_id),
    )
    return [
        {"user_id": f.agent_id, "full_name": names[f.agent_id], "successful": f.successful, "calls": f.calls}
        for f in ranked[:5]
    ]
