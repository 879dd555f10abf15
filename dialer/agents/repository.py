"""Agent states in PostgreSQL: the period log (``agent_state_log``), the machine's state (``agent_states``) and the
daily login/logout/break report of seed 001 ("Mola, login ve logout kayıtları").

Every write for one agent takes that agent's transaction-scoped advisory lock first, so two processes recording
transitions for the same agent at once are serialised: the second sees the period the first opened and closes
it. The partial unique index ``agent_state_log_open_key`` is the last line of defence (one open period).
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from asyncpg import Record

from callcenter.db.database import Connection
from dialer.state.agent import Agent, AgentStatus, NextState
from dialer.state.reasons import PauseReasons

#: High half of the advisory lock keys of agents (ASCII "agst"); the low half is the user id.
_LOCK_SPACE = 0x61677374
_PERIOD_COLUMNS = "id, user_id, state, reason, call_id, started_at, ended_at"


@dataclasses.dataclass(frozen=True)
class AgentPeriod:
    """The agent was in ``state`` from ``started_at`` until ``ended_at`` (None: he still is)."""

    id: int
    user_id: int
    state: AgentStatus
    reason: str | None
    call_id: str | None
    started_at: datetime
    ended_at: datetime | None


@dataclasses.dataclass(frozen=True)
class AgentDay:
    """One agent's day in the login/logout/break report. Times are clipped to the day in the report's time zone.

    ``first_login`` is None when the agent did not log in that day (he may have been logged in since the day
    before: ``logged_in_at_start``); ``last_logout`` likewise (``logged_in_at_end``: still logged in when the day,
    or the report, ended). ``by_state`` leaves out logged-out time.
    """

    user_id: int
    username: str
    full_name: str
    team_id: int | None
    day: date
    first_login: datetime | None
    last_logout: datetime | None
    logged_in_at_start: bool
    logged_in_at_end: bool
    logged_in: timedelta
    by_state: Mapping[AgentStatus, timedelta]
    by_pause_reason: Mapping[str, timedelta]
    pauses_by_reason: Mapping[str, int]  # pauses begun that day, per reason

    @property
    def pause_count(self) -> int:
        return sum(self.pauses_by_reason.values())

    def time_in(self, status: AgentStatus) -> timedelta:
        return self.by_state.get(status, timedelta(0))

    def productive_pause(self, reasons: PauseReasons) -> timedelta:
        """Pause time whose reason counts as work (training, meetings, back office); unknown reasons do not."""
        productive = {r.code for r in reasons if r.productive}
        return sum((t for code, t in self.by_pause_reason.items() if code in productive), timedelta(0))


def _period(row: Record) -> AgentPeriod:
    return AgentPeriod(
        id=row["id"],
        user_id=row["user_id"],
        state=AgentStatus(row["state"]),
        reason=row["reason"],
        call_id=row["call_id"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
    )


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return at


class AgentStateRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def lock(self, user_id: int) -> None:
        """Hold this agent's lock until the surrounding transaction ends (call it inside one)."""
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", (_LOCK_SPACE << 32) | (user_id & 0xFFFFFFFF))

    async def current(self, user_id: int) -> AgentPeriod | None:
        """The agent's open period; None if he never logged in."""
        row = await self._conn.fetchrow(
            f"SELECT {_PERIOD_COLUMNS} FROM agent_state_log WHERE user_id = $1 AND ended_at IS NULL",  # noqa: S608
            user_id,
        )
        return _period(row) if row else None

    async def periods(self, user_id: int, start: datetime, end: datetime) -> list[AgentPeriod]:
        """The agent's periods overlapping [start, end), oldest first (a team leader's timeline of one agent)."""
        rows = await self._conn.fetch(
            f"""SELECT {_PERIOD_COLUMNS} FROM agent_state_log
                 WHERE user_id = $1 AND started_at < $3 AND (ended_at IS NULL OR ended_at > $2)
                 ORDER BY started_at, id""",  # noqa: S608
            user_id,
            _aware(start),
            _aware(end),
        )
        return [_period(r) for r in rows]

    async def record_transition(
        self,
        user_id: int,
        new_state: AgentStatus,
        reason: str | None,
        at: datetime,
        call_id: str | None = None,
    ) -> AgentPeriod:
        """Close the open period at ``at`` and open one in ``new_state``; one transaction.

        Recording the state the agent is already in changes nothing. A transition stamped before the open
        period began (clocks of two processes a little apart) is recorded at that beginning, so periods never
        overlap or run backwards.
        """
        at = _aware(at)
        async with self._conn.transaction():
            await self.lock(user_id)
            open_period = await self.current(user_id)
            if open_period is not None:
                if (open_period.state, open_period.reason, open_period.call_id) == (new_state, reason, call_id):
                    return open_period
                at = max(at, open_period.started_at)
                await self._conn.execute("UPDATE agent_state_log SET ended_at = $2 WHERE id = $1", open_period.id, at)
            row = await self._conn.fetchrow(
                f"""INSERT INTO agent_state_log (user_id, state, reason, call_id, started_at)
                    VALUES ($1, $2, $3, $4, $5)
                    RETURNING {_PERIOD_COLUMNS}""",  # noqa: S608
                user_id,
                new_state.value,
                reason,
                call_id,
                at,
            )
        assert row is not None
        return _period(row)

    async def load(self, user_id: int) -> Agent | None:
        """The machine state of the agent (logged out if he never logged in); None if there is no such user."""
        row = await self._conn.fetchrow(
            """SELECT u.id, s.state, s.since, s.reason, s.call_id, s.wrap_up_until, s.next_state, s.next_reason,
                      s.missed_rings
                 FROM users u LEFT JOIN agent_states s ON s.user_id = u.id
                WHERE u.id = $1""",
            user_id,
        )
        if row is None:
            return None
        if row["state"] is None:
            return Agent(user_id=user_id)
        return Agent(
            user_id=user_id,
            status=AgentStatus(row["state"]),
            since=row["since"],
            reason=row["reason"],
            call_id=row["call_id"],
            wrap_up_until=row["wrap_up_until"],
            next=NextState(AgentStatus(row["next_state"]), row["next_reason"]) if row["next_state"] else None,
            missed_rings=row["missed_rings"],
        )

    async def save(self, agent: Agent) -> None:
        await self._conn.execute(
            """INSERT INTO agent_states (user_id, state, since, reason, call_id, wrap_up_until, next_state,
                                         next_reason, missed_rings)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (user_id) DO UPDATE
                  SET state = EXCLUDED.state, since = EXCLUDED.since, reason = EXCLUDED.reason,
                      call_id = EXCLUDED.call_id, wrap_up_until = EXCLUDED.wrap_up_until,
                      next_state = EXCLUDED.next_state, next_reason = EXCLUDED.next_reason,
                      missed_rings = EXCLUDED.missed_rings, updated_at = now()""",
            agent.user_id,
            agent.status.value,
            agent.since,
            agent.reason,
            agent.call_id,
            agent.wrap_up_until,
            agent.next.status.value if agent.next else None,
            agent.next.reason if agent.next else None,
            agent.missed_rings,
        )

    async def due_wrap_ups(self, now: datetime) -> list[tuple[int, str]]:
        """(agent, call) of every timed wrap-up that is over at ``now``."""
        rows = await self._conn.fetch(
            """SELECT user_id, call_id FROM agent_states
                WHERE state = 'wrap_up' AND wrap_up_until <= $1 ORDER BY wrap_up_until""",
            _aware(now),
        )
        return [(r["user_id"], r["call_id"]) for r in rows]

    async def daily_report(
        self, day: date, tz: str, team_id: int | None = None, *, as_of: datetime | None = None
    ) -> list[AgentDay]:
        """Per agent: first login, last logout, logged-in time, time per state and per pause reason, pauses.

        The day runs from midnight to midnight in ``tz`` (e.g. ``Europe/Istanbul``); a period crossing midnight
        counts on each side for its part. A period still open counts until ``as_of`` (default: now). Agents who
        were logged out the whole day are left out.
        """
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}") from None
        rows = await self._conn.fetch(_DAILY_REPORT, day, tz, team_id, _aware(as_of) if as_of else None)
        return _report_rows(day, rows)


_DAILY_REPORT = """
WITH bounds AS (
    SELECT ($1::date::timestamp AT TIME ZONE $2::text) AS lo,
           (($1::date + 1)::timestamp AT TIME ZONE $2::text) AS hi,
           least((($1::date + 1)::timestamp AT TIME ZONE $2::text), coalesce($4::timestamptz, now())) AS report_end
),
periods AS (
    SELECT l.user_id, u.username, u.full_name, u.team_id, l.state, l.reason, l.started_at,
           coalesce(l.ended_at, coalesce($4::timestamptz, now())) AS ended_at,
           lag(l.state) OVER (PARTITION BY l.user_id ORDER BY l.started_at, l.id) AS previous_state
      FROM agent_state_log l
      JOIN users u ON u.id = l.user_id
     CROSS JOIN bounds b
     WHERE ($3::bigint IS NULL OR u.team_id = $3)
       AND l.started_at < b.hi
       AND (l.ended_at IS NULL OR l.ended_at >= b.lo)
)
SELECT p.user_id, p.username, p.full_name, p.team_id, p.state, p.reason,
       sum(greatest(least(p.ended_at, b.hi) - greatest(p.started_at, b.lo), interval '0')) AS spent,
       count(*) FILTER (WHERE p.started_at >= b.lo) AS begun,
       min(p.started_at) FILTER (WHERE p.started_at >= b.lo AND p.state <> 'logged_out'
                                   AND coalesce(p.previous_state, 'logged_out') = 'logged_out') AS first_login,
       max(p.started_at) FILTER (WHERE p.started_at >= b.lo AND p.state = 'logged_out') AS last_logout,
       coalesce(bool_or(p.state <> 'logged_out' AND p.started_at < b.lo AND p.ended_at > b.lo), false)
           AS logged_in_at_start,
       coalesce(bool_or(p.state <> 'logged_out' AND p.started_at < b.report_end
                        AND p.ended_at >= b.report_end), false) AS logged_in_at_end
  FROM periods p
 CROSS JOIN bounds b
 GROUP BY p.user_id, p.username, p.full_name, p.team_id, p.state, p.reason
 ORDER BY lower(p.full_name), p.user_id
"""


def _report_rows(day: date, rows: list[Record]) -> list[AgentDay]:
    """Fold the (agent, state, reason) groups of the report query into one :class:`AgentDay` per agent."""
    days: dict[int, AgentDay] = {}
    for row in rows:
        user_id = row["user_id"]
        current = days.get(user_id) or AgentDay(
            user_id=user_id,
            username=row["username"],
            full_name=row["full_name"],
            team_id=row["team_id"],
            day=day,
            first_login=None,
            last_logout=None,
            logged_in_at_start=False,
            logged_in_at_end=False,
            logged_in=timedelta(0),
            by_state={},
            by_pause_reason={},
            pauses_by_reason={},
        )
        state, spent = AgentStatus(row["state"]), row["spent"]
        by_state, by_reason, counts = (
            dict(current.by_state),
            dict(current.by_pause_reason),
            dict(current.pauses_by_reason),
        )
        if state is not AgentStatus.LOGGED_OUT:
            by_state[state] = by_state.get(state, timedelta(0)) + spent
        if state is AgentStatus.PAUSED:
            by_reason[row["reason"]] = by_reason.get(row["reason"], timedelta(0)) + spent
            if row["begun"]:
                counts[row["reason"]] = counts.get(row["reason"], 0) + row["begun"]
        days[user_id] = dataclasses.replace(
            current,
            first_login=_earliest(current.first_login, row["first_login"]),
            last_logout=_latest(current.last_logout, row["last_logout"]),
            logged_in_at_start=current.logged_in_at_start or row["logged_in_at_start"],
            logged_in_at_end=current.logged_in_at_end or row["logged_in_at_end"],
            logged_in=current.logged_in + (spent if state is not AgentStatus.LOGGED_OUT else timedelta(0)),
            by_state=by_state,
            by_pause_reason=by_reason,
            pauses_by_reason=counts,
        )
    return [d for d in days.values() if d.logged_in or d.first_login or d.last_logout]


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x is not None) if (a or b) else None
