"""``GET /wallboard``: the team leader's live wallboard (issue 5), for a wall screen and for a laptop.

A tile per agent (state, for how long, current call), today's figures per agent and for the team, the records left
per pool of the team's campaigns and the day's top five. The page is rendered with the figures of page load (one
query per figure family, :mod:`agent_console.wallboard.repository`); ``static/wallboard.js`` then keeps it current
from the events the live channel pushes (``static/live.js``) and reloads the figures from ``GET /wallboard/data``
only when the channel sends a snapshot (a fresh start or a resync). Nothing is polled.

Team leaders see the teams they lead (and their own); supervisors and administrators choose a team or all
(``?team=<id>``; none: all). Agents have no ``wallboard.view``: 403.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from agent_console.i18n import Translator
from agent_console.keys import DB, DIALER, SETTINGS
from agent_console.live.labels import client_labels
from agent_console.live.repository import LiveRepository
from agent_console.wallboard.repository import CallFigures, WallboardRepository, top_five
from agent_console.web import render, requires, session_of, translator
from crm_core.users.model import Role, User
from dialer.agents.repository import AgentStateRepository
from dialer.state.reasons import PauseReasons

MAX_ID = 2**63 - 1


def _reasons(request: web.Request) -> PauseReasons:
    runtime = request.app.get(DIALER)
    return runtime.agents.rules.reasons if runtime is not None else PauseReasons()


async def _scope(request: web.Request, user: User) -> tuple[list[int] | None, int | None, bool]:
    """(teams watched — None for all —, the team chosen, whether the user may choose); 404 for an unknown team."""
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        raw = request.query.get("team", "").strip()
        if not raw or raw == "all":
            return None, None, True
        if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
            raise web.HTTPNotFound()
        async with request.app[DB].acquire() as conn:
            if not await WallboardRepository(conn).teams([int(raw)]):
                raise web.HTTPNotFound()
        return [int(raw)], int(raw), True
    async with request.app[DB].acquire() as conn:
        teams = await LiveRepository(conn).led_teams(user.id)
    if user.team_id is not None:
        teams.add(user.team_id)
    return sorted(teams), None, False


async def board_data(request: web.Request, teams: list[int] | None) -> dict[str, Any]:
    """Everything the board shows, as of now: agents with their state and today's figures, the team's totals,
    the pools' records left, the top five and the success dispositions."""
    settings = request.app[SETTINGS].web
    now = datetime.now(UTC)
    day = now.astimezone(settings.zone).date()
    async with request.app[DB].acquire() as conn:
        repo = WallboardRepository(conn)
        agents = await repo.agents(teams)
        figures = await repo.call_figures(day, settings.timezone, teams)
        report = await AgentStateRepository(conn).daily_report(
            day, settings.timezone, teams[0] if teams and len(teams) == 1 else None, as_of=now
        )
        pools = await repo.records_left(teams, now)
        success = await repo.success_codes()
    days = {d.user_id: d for d in report}
    names = {a["user_id"]: a["full_name"] for a in agents}
    for agent in agents:
        mine = figures.get(agent["user_id"]) or CallFigures(agent["user_id"])
        agent["figures"] = mine.to_dict()
        agent_day = days.get(agent["user_id"])
        agent["pause"] = (
            {reason: spent.total_seconds() for reason, spent in agent_day.by_pause_reason.items()} if agent_day else {}
        )
        agent["login_seconds"] = agent_day.logged_in.total_seconds() if agent_day else 0.0
    return {
        "as_of": now.isoformat(),
        "day": day.isoformat(),
        "agents": agents,
        "pools": [{"id": p.pool_id, "name": p.name, "new": p.new, "due": p.due, "left": p.left} for p in pools],
        "top": top_five(figures, names),
        "success": {str(campaign): codes for campaign, codes in success.items()},
    }


def _labels(tr: Translator, reasons: PauseReasons) -> dict[str, Any]:
    labels: dict[str, Any] = client_labels(tr)
    labels["reason"] = {r.code: r.label(tr.language) for r in reasons}
    labels["with_reason"] = tr("wallboard.tile.with_reason", state="{state}", reason="{reason}")
    labels["no_call"] = tr("wallboard.tile.no_call")
    labels["top_line"] = tr("wallboard.top_line", successful="{successful}", calls="{calls}")
    labels["none"] = tr("app.none")
    return labels


def duration(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour), as the board shows times."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _totals(agents: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("calls", "connected", "successful", "failed", "talk_seconds", "talked")
    totals: dict[str, Any] = {key: sum(a["figures"][key] for a in agents) for key in keys}
    pause: dict[str, float] = {}
    for agent in agents:
        for reason, seconds in agent["pause"].items():
            pause[reason] = pause.get(reason, 0.0) + seconds
    totals["pause"] = pause
    totals["login_seconds"] = sum(a["login_seconds"] for a in agents)
    return totals


@requires("wallboard.view")
async def wallboard(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    assert session is not None
    user = session.user
    tr = translator(request)
    teams, chosen, may_choose = await _scope(request, user)
    reasons = _reasons(request)
    if teams == []:
        return render(request, "wallboard.html", {"no_team": True, "board": None})
    data = await board_data(request, teams)
    async with request.app[DB].acquire() as conn:
        all_teams = await WallboardRepository(conn).teams(None if may_choose else teams)
    now = datetime.fromisoformat(data["as_of"])
    for agent in data["agents"]:
        since = datetime.fromisoformat(agent["since"]) if agent["since"] else None
        agent["elapsed"] = duration((now - since).total_seconds()) if since else ""
    return render(
        request,
        "wallboard.html",
        {
            "no_team": False,
            "board": data,
            "totals": _totals(data["agents"]),
            "teams": all_teams,
            "chosen": chosen,
            "may_choose": may_choose,
            "reason_labels": {r.code: r.label(tr.language) for r in reasons},
            "duration": duration,
            "labels": _labels(tr, reasons),
            "data_url": "/wallboard/data" + (f"?team={chosen}" if chosen else ""),
        },
    )


@requires("wallboard.view")
async def wallboard_data(request: web.Request) -> web.StreamResponse:
    """The board's figures as JSON, for the page to reload after a snapshot of the live channel."""
    session = session_of(request)
    assert session is not None
    teams, _chosen, _may_choose = await _scope(request, session.user)
    data = await board_data(request, teams) if teams != [] else {"agents": [], "pools": [], "top": []}
    response = web.json_response(data)
    response.headers["Cache-Control"] = "no-store"
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/wallboard", wallboard)
    app.router.add_get("/wallboard/data", wallboard_data)
