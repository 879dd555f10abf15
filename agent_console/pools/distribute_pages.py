"""Distributing a pool's unassigned records to agents or teams by criteria, in fair shares."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from agent_console.admin.audit import Names, load_names, local_time
from agent_console.admin.users import form_feedback, form_text
from agent_console.forms import INT4, error_text, id_list, whole_number
from agent_console.i18n import Translator
from agent_console.keys import DB, SETTINGS
from agent_console.pools.common import POOLS, pool_of
from agent_console.pools.pool_pages import status_counts
from agent_console.web import actor_of, render, requires, translator
from crm_core.audit.repository import AuditEntry, AuditRepository
from crm_core.customers.places import REGIONS
from crm_core.users.model import Role
from crm_core.users.repository import TeamRepository, UserRepository
from crm_core.users.service import InvalidInputError, NotFoundError
from dialer.pools.imports import ImportSummary
from dialer.pools.mapping import CUSTOM
from dialer.pools.model import Criteria, Pool
from dialer.pools.repository import RecordRepository


@dataclasses.dataclass
class DistributeForm:
    kind: str = "agents"
    agents: list[str] = dataclasses.field(default_factory=list)
    teams: list[str] = dataclasses.field(default_factory=list)
    members_of: str = ""
    cities: str = ""
    regions: list[str] = dataclasses.field(default_factory=list)
    custom_key: str = ""
    custom_value: str = ""
    priority_min: str = ""
    priority_max: str = ""
    limit: str = ""

    @classmethod
    def posted(cls, post: MultiDictProxy[Any]) -> DistributeForm:
        def strings(name: str) -> list[str]:
            return [v for v in post.getall(name, []) if isinstance(v, str)]

        return cls(
            kind=form_text(post, "kind"),
            agents=strings("agent"),
            teams=strings("team"),
            members_of=form_text(post, "members_of"),
            cities=form_text(post, "cities"),
            regions=strings("region"),
            custom_key=form_text(post, "custom_key"),
            custom_value=form_text(post, "custom_value"),
            priority_min=form_text(post, "priority_min"),
            priority_max=form_text(post, "priority_max"),
            limit=form_text(post, "limit"),
        )


_DISTRIBUTION_HISTORY = 20
_DISTRIBUTE_FIELDS = frozenset(
    (
        "kind",
        "agents",
        "teams",
        "members_of",
        "cities",
        "regions",
        "custom_value",
        "priority_min",
        "priority_max",
        "limit",
    )
)


@dataclasses.dataclass(frozen=True)
class _Targets:
    agents: list[int]
    teams: list[int]
    members_of: int | None


def _check_distribution(
    form: DistributeForm, tr: Translator, custom_keys: Sequence[str]
) -> tuple[_Targets | None, Criteria | None, dict[str, str]]:
    errors: dict[str, str] = {}
    chosen: list[int] | None = []
    if form.kind == "agents":
        chosen = id_list(form.agents)
    elif form.kind == "teams":
        chosen = id_list(form.teams)
    elif form.kind == "members":
        chosen = id_list([form.members_of]) if form.members_of else []
    else:
        errors["kind"] = tr("error.bad_choice")
    field = {"agents": "agents", "teams": "teams", "members": "members_of"}.get(form.kind, "kind")
    if chosen is None:
        errors[field] = tr("error.bad_choice")
    elif not chosen and "kind" not in errors:
        errors[field] = tr(f"pools.errors.choose_{field}")
    if form.custom_key and form.custom_key not in custom_keys:
        errors["custom_value"] = tr("error.bad_choice")
    elif form.custom_key and not form.custom_value.strip():
        errors["custom_value"] = tr("error.required")
    if any(r not in REGIONS for r in form.regions):
        errors["regions"] = tr("error.bad_choice")
    bounds: dict[str, int | None] = {}
    for name, minimum in (("priority_min", -INT4), ("priority_max", -INT4), ("limit", 1)):
        text = getattr(form, name)
        bounds[name] = whole_number(text, minimum) if text.strip() else None
        if text.strip() and bounds[name] is None:
            errors[name] = tr("pools.errors.integer" if name != "limit" else "pools.errors.positive")
    criteria = None
    if not errors:
        try:
            criteria = Criteria(
                cities=tuple(c.strip() for c in form.cities.split(",") if c.strip()),
                regions=tuple(form.regions),
                custom={form.custom_key: form.custom_value.strip()} if form.custom_key else {},
                priority_min=bounds["priority_min"],
                priority_max=bounds["priority_max"],
                limit=bounds["limit"],
            )
        except ValueError:
            errors["priority_max"] = tr("pools.errors.priority_range")
    if errors or criteria is None or not chosen:
        return None, None, errors
    targets = _Targets(
        agents=chosen if form.kind == "agents" else [],
        teams=chosen if form.kind == "teams" else [],
        members_of=chosen[0] if form.kind == "members" else None,
    )
    return targets, criteria, {}


def _custom_keys(imports: Sequence[ImportSummary]) -> list[str]:
    """The custom fields the pool's imports filled (the keys of their ``custom:`` targets)."""
    keys = {t[len(CUSTOM) :] for s in imports for t in s.mapping.values() if t.startswith(CUSTOM)}
    return sorted(keys)


def _distribution_rows(
    tr: Translator, entries: Sequence[AuditEntry], names: Names, zone: tzinfo
) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        kind = _new_value(entry.changes.get("to"))
        counts = _new_value(entry.changes.get("assigned"))
        if not isinstance(counts, dict):
            continue
        name = names.team if kind == "team" else names.user
        shares = [(name(int(k)) if k.isdigit() else k, int(v)) for k, v in counts.items()]
        rows.append(
            {
                "id": entry.id,
                "when": local_time(entry.at, zone),
                "by": names.user(entry.actor_id) if entry.actor_id is not None else tr("audit.system"),
                "kind": tr("pools.kind_team" if kind == "team" else "pools.kind_agent"),
                "shares": shares,
                "total": sum(n for _, n in shares),
            }
        )
    return rows


def _new_value(change: object) -> object:
    return change[1] if isinstance(change, list) and len(change) == 2 else None


async def _distribute_page(
    request: web.Request,
    pool: Pool,
    form: DistributeForm,
    *,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    tr = translator(request)
    imports = await request.app[POOLS].imports(pool.id)
    async with request.app[DB].acquire() as conn:
        counts = status_counts(await RecordRepository(conn).status_counts(pool.id))
        users = await UserRepository(conn).list()
        teams = await TeamRepository(conn).list()
        entries = await AuditRepository(conn).search(
            entity="pool", entity_id=pool.id, action_prefix="pool.distributed", limit=_DISTRIBUTION_HISTORY
        )
        names = await load_names(conn)
    history = _distribution_rows(tr, entries, names, request.app[SETTINGS].web.zone)
    done = request.query.get("done", "")
    result = next((row for row in history if str(row["id"]) == done), None)
    team_names = {t.id: t.name for t in teams}
    agents = [u for u in users if u.active and u.role is Role.AGENT]
    agents.sort(key=lambda u: (team_names.get(u.team_id or 0, "~"), u.full_name))
    return render(
        request,
        "pools_distribute.html",
        {
            "pool": pool,
            "form": form,
            "counts": counts,
            "agents": agents,
            "team_names": team_names,
            "teams": teams,
            "regions": list(REGIONS),
            "cities": sorted({c for cities in REGIONS.values() for c in cities}),
            "custom_keys": _custom_keys(imports),
            "history": history,
            "result": result,
            **form_feedback(request, errors, _DISTRIBUTE_FIELDS),
        },
        status=status,
    )


@requires("pools.manage")
async def distribute_form(request: web.Request) -> web.StreamResponse:
    pool = await pool_of(request)
    return await _distribute_page(request, pool, DistributeForm())


@requires("pools.manage")
async def distribute(request: web.Request) -> web.StreamResponse:
    pool = await pool_of(request)
    form = DistributeForm.posted(await request.post())
    tr = translator(request)
    custom_keys = _custom_keys(await request.app[POOLS].imports(pool.id))
    targets, criteria, errors = _check_distribution(form, tr, custom_keys)
    if targets is None or criteria is None:
        return await _distribute_page(request, pool, form, errors=errors, status=422)
    actor = actor_of(request)
    try:
        await request.app[POOLS].distribute(
            actor,
            pool.id,
            agents=targets.agents,
            teams=targets.teams,
            members_of=targets.members_of,
            criteria=criteria,
        )
    except InvalidInputError as exc:
        field = {"targets": "kind"}.get(exc.field, exc.field)
        return await _distribute_page(
            request, pool, form, errors={field: error_text(tr, exc.code, "pools")}, status=422
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None
    async with request.app[DB].acquire() as conn:
        done = await AuditRepository(conn).search(
            entity="pool", entity_id=pool.id, action_prefix="pool.distributed", actor_id=actor.id, limit=1
        )
    raise web.HTTPSeeOther(f"/pools/{pool.id}/distribute" + (f"?done={done[0].id}" if done else ""))
