"""The agent console page. Issue 5 fills it with live calls; today it shows who is signed in and an empty call
area."""

from __future__ import annotations

from aiohttp import web

from agent_console.keys import DB
from agent_console.live.labels import client_labels
from agent_console.web import render, requires, session_of, translator
from crm_core.users.repository import TeamRepository


@requires("console.use")
async def console(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    assert session is not None
    team = None
    if session.user.team_id is not None:
        async with request.app[DB].acquire() as conn:
            team = await TeamRepository(conn).get(session.user.team_id)
    return render(request, "console.html", {"team": team, "live_labels": client_labels(translator(request))})


def routes() -> list[web.RouteDef]:
    return [web.get("/console", console)]
