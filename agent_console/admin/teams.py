"""Teams: the list, the new-team and edit-team form (name, leader) and each team's members and history.

Seed 001 "Takım ve ekip oluşturma": several teams, each with its own leader; agents are assigned to teams (on the
user's page)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping

from aiohttp import web

from agent_console.admin.audit import describe, load_names
from agent_console.admin.users import error_message, form_feedback, form_text, optional_id, path_id, signed_in
from agent_console.keys import DB, SETTINGS, USERS
from agent_console.web import actor_of, render, requires, translator
from crm_core.audit.repository import AuditRepository
from crm_core.users.model import Role, Team
from crm_core.users.repository import TeamRepository, UserRepository
from crm_core.users.service import InvalidInputError, NotFoundError

_FORM_FIELDS = frozenset(("name", "leader_id"))


@dataclasses.dataclass
class TeamForm:
    name: str = ""
    leader_id: str = ""

    @classmethod
    def of(cls, team: Team) -> TeamForm:
        return cls(name=team.name, leader_id="" if team.leader_id is None else str(team.leader_id))


async def _load(request: web.Request) -> Team:
    async with request.app[DB].acquire() as conn:
        team = await TeamRepository(conn).get(path_id(request))
    if team is None:
        raise web.HTTPNotFound()
    return team


async def _page(
    request: web.Request,
    *,
    form: TeamForm,
    team: Team | None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    session = signed_in(request)
    editable = session.can("teams.manage")
    history = None
    async with request.app[DB].acquire() as conn:
        users = await UserRepository(conn).list()
        if team is not None and (editable or session.can("audit.view")):
            entries = await AuditRepository(conn).search(entity="team", entity_id=team.id)
            history = describe(translator(request), await load_names(conn), entries, request.app[SETTINGS].web.zone)
    # Anyone but an agent may lead a team; a disabled user only if he already leads this one.
    leaders = [u for u in users if u.role is not Role.AGENT and (u.active or str(u.id) == form.leader_id)]
    return render(
        request,
        "admin_team_form.html",
        {
            "form": form,
            "team": team,
            "editable": editable,
            "action": "/admin/teams/new" if team is None else f"/admin/teams/{team.id}",
            "leaders": leaders,
            "members": [u for u in users if team is not None and u.team_id == team.id],
            "link_users": session.can("users.view"),
            "history": history,
            **form_feedback(request, errors, _FORM_FIELDS),
        },
        status=status,
    )


@requires("teams.view")
async def list_teams(request: web.Request) -> web.StreamResponse:
    session = signed_in(request)
    async with request.app[DB].acquire() as conn:
        teams = await TeamRepository(conn).list()
        users = await UserRepository(conn).list()
    by_id = {u.id: u for u in users}
    return render(
        request,
        "admin_teams.html",
        {
            "teams": teams,
            "leaders": {t.id: by_id[t.leader_id] for t in teams if t.leader_id in by_id},
            "counts": Counter(u.team_id for u in users if u.team_id is not None),
            "can_manage": session.can("teams.manage"),
        },
    )


@requires("teams.manage")
async def new_team_form(request: web.Request) -> web.StreamResponse:
    return await _page(request, form=TeamForm(), team=None)


async def _submitted(request: web.Request) -> tuple[TeamForm, int | None, dict[str, str]]:
    post = await request.post()
    form = TeamForm(name=form_text(post, "name"), leader_id=form_text(post, "leader_id"))
    leader_id, ok = optional_id(form.leader_id)
    errors = {} if ok else {"leader_id": translator(request)("error.bad_choice")}
    return form, leader_id, errors


@requires("teams.manage")
async def create_team(request: web.Request) -> web.StreamResponse:
    form, leader_id, errors = await _submitted(request)
    if errors:
        return await _page(request, form=form, team=None, errors=errors, status=422)
    try:
        team = await request.app[USERS].create_team(actor_of(request), form.name, leader_id)
    except InvalidInputError as exc:
        errors = {exc.field: error_message(translator(request), exc.code)}
        return await _page(request, form=form, team=None, errors=errors, status=422)
    raise web.HTTPSeeOther(f"/admin/teams/{team.id}?saved=1")


@requires("teams.view")
async def team_page(request: web.Request) -> web.StreamResponse:
    team = await _load(request)
    return await _page(request, form=TeamForm.of(team), team=team)


@requires("teams.manage")
async def update_team(request: web.Request) -> web.StreamResponse:
    team = await _load(request)
    form, leader_id, errors = await _submitted(request)
    if errors:
        return await _page(request, form=form, team=team, errors=errors, status=422)
    try:
        await request.app[USERS].update_team(actor_of(request), team.id, form.name, leader_id)
    except InvalidInputError as exc:
        errors = {exc.field: error_message(translator(request), exc.code)}
        return await _page(request, form=form, team=team, errors=errors, status=422)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/admin/teams/{team.id}?saved=1")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/admin/teams", list_teams),
        web.get("/admin/teams/new", new_team_form),
        web.post("/admin/teams/new", create_team),
        web.get(r"/admin/teams/{id:\d+}", team_page),
        web.post(r"/admin/teams/{id:\d+}", update_team),
    ]
