"""What the live channel reads from PostgreSQL: users' teams (for filtering), the teams a leader leads, and the
current agent states of an audience (the snapshot)."""

from __future__ import annotations

from typing import Any

from agent_console.live.audience import Audience
from callcenter.db.database import Connection


class LiveRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def teams(self) -> dict[int, int | None]:
        rows = await self._conn.fetch("SELECT id, team_id FROM users")
        return {r["id"]: r["team_id"] for r in rows}

    async def team_of(self, user_id: int) -> tuple[bool, int | None]:
        """(exists, team) of one user."""
        row = await self._conn.fetchrow("SELECT team_id FROM users WHERE id = $1", user_id)
        return (row is not None, row["team_id"] if row else None)

    async def session_alive(self, token_hash: bytes) -> bool:
        """The session exists, has not expired and its user is active (read only: an open socket alone does not
        keep a session alive)."""
        alive = await self._conn.fetchval(
            """SELECT s.expires_at > now() AND u.active
                 FROM web_sessions s JOIN users u ON u.id = s.user_id
                WHERE s.token_hash = $1""",
            token_hash,
        )
        return bool(alive)

    async def led_teams(self, user_id: int) -> set[int]:
        rows = await self._conn.fetch("SELECT id FROM teams WHERE leader_id = $1", user_id)
        return {r["id"] for r in rows}

    async def agent_states(self, audience: Audience) -> list[dict[str, Any]]:
        """Every agent the audience sees (active users with the agent role, or anyone with a state), with his
        current state; never-logged-in agents are ``logged_out``."""
        rows = await self._conn.fetch(
            """SELECT u.id, u.username, u.full_name, u.team_id, coalesce(s.state, 'logged_out') AS state,
                      s.since, s.reason, s.call_id, s.wrap_up_until, s.next_state
                 FROM users u LEFT JOIN agent_states s ON s.user_id = u.id
                WHERE u.active AND (u.role = 'agent' OR s.user_id IS NOT NULL)
                  AND ($1 OR u.id = $2 OR u.team_id = ANY($3::bigint[]))
                ORDER BY lower(u.full_name), u.id""",
            audience.everything,
            audience.user_id,
            sorted(audience.teams | ({audience.leaderboard_team} if audience.leaderboard_team is not None else set())),
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
                "wrap_up_until": r["wrap_up_until"].isoformat() if r["wrap_up_until"] else None,
                "next_state": r["next_state"],
            }
            for r in rows
        ]
