"""Campaign pages (seed 001 "Arama modülü"): the campaigns with their pools, teams, record counts and live calls;
a campaign's set-up (dial mode, pools, teams, caller id, recording, wrap-up, calling rules); starting, pausing and
finishing it. Its dispositions ("Aksiyonel data") are in :mod:`agent_console.campaigns.disposition_pages`.

Viewing needs ``campaigns.view`` (team leaders have it); every change needs ``campaigns.manage``. The agents' data
archive is in :mod:`agent_console.campaigns.archive`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from multidict import MultiDictProxy

from agent_console.admin.users import form_feedback, form_text, signed_in
from agent_console.campaigns import archive
from agent_console.campaigns.disposition_pages import (
    create_disposition,
    disposition_page,
    dispositions_page,
    new_disposition_form,
    update_disposition,
)
from agent_console.campaigns.http_common import CAMPAIGNS, campaign_of, number_text, range_error
from agent_console.campaigns.repository import CampaignPagesRepository
from agent_console.forms import error_text, id_list, whole_number
from agent_console.i18n import Translator
from agent_console.keys import BUS, DB, SETTINGS
from agent_console.web import actor_of, render, requires, translator
from crm_core.users.repository import TeamRepository
from crm_core.users.service import InvalidInputError, NotFoundError
from dialer.campaigns.model import (
    CallingRules,
    Campaign,
    CampaignStatus,
    DialMode,
)
from dialer.campaigns.service import CampaignService
from dialer.pools.model import RecordStatus
from dialer.pools.repository import PoolRepository

DAYS = (1, 2, 3, 4, 5, 6, 7)
_CALLER_ID = re.compile(r"^\+?[0-9]{2,20}$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(:[0-5][0-9])?$")
_CAMPAIGN_FIELDS = frozenset(
    (
        "name", "description", "dial_mode", "pool_ids", "team_ids", "caller_id", "wrap_up_seconds",
        "time_zone", "call_days", "call_from", "call_until", "max_attempts_per_day", "calls_per_second",
        "max_lines", "ring_timeout",
    )
)  # fmt: skip
#: The status a button asks for, and the catalogue key of the button.
_TRANSITIONS = {
    CampaignStatus.RUNNING: "campaigns.start",
    CampaignStatus.PAUSED: "campaigns.pause",
    CampaignStatus.FINISHED: "campaigns.finish",
}


def setup(app: web.Application) -> None:
    """The campaign pages' service and routes (after the database and the bus are in ``app``)."""
    app[CAMPAIGNS] = CampaignService(app[DB], app[BUS])
    app.router.add_routes(routes())


# --- helpers ------------------------------------------------------------------------------------------------------


def _ids_once(values: Sequence[object]) -> list[int] | None:
    """Ticked ids, each once, in order."""
    ids = id_list(values)
    return None if ids is None else sorted(set(ids))


def _strings(post: MultiDictProxy[Any], name: str) -> list[str]:
    return [v for v in post.getall(name, []) if isinstance(v, str)]


# --- campaigns: list, new, settings, status -----------------------------------------------------------------------


@dataclasses.dataclass
class CampaignForm:
    """What the form shows: a campaign's values, or what was typed in (kept when the form comes back)."""

    name: str = ""
    description: str = ""
    dial_mode: str = DialMode.PREVIEW.value
    pool_ids: list[str] = dataclasses.field(default_factory=list)
    team_ids: list[str] = dataclasses.field(default_factory=list)
    caller_id: str = ""
    record_calls: bool = True
    wrap_up_seconds: str = ""
    time_zone: str = "Europe/Istanbul"
    call_days: list[str] = dataclasses.field(default_factory=lambda: ["1", "2", "3", "4", "5", "6"])
    call_from: str = "09:00"
    call_until: str = "20:00"
    max_attempts_per_day: str = "3"
    calls_per_second: str = "5"
    max_lines: str = "30"
    ring_timeout: str = "30"

    @classmethod
    def of(cls, c: Campaign) -> CampaignForm:
        r = c.rules
        return cls(
            name=c.name,
            description=c.description,
            dial_mode=c.dial_mode.value,
            pool_ids=[str(p) for p in c.pool_ids],
            team_ids=[str(t) for t in c.team_ids],
            caller_id=c.caller_id,
            record_calls=c.record_calls,
            wrap_up_seconds="" if c.wrap_up_seconds is None else str(c.wrap_up_seconds),
            time_zone=r.time_zone,
            call_days=[str(d) for d in sorted(r.call_days)],
            call_from=r.call_from.strftime("%H:%M"),
            call_until=r.call_until.strftime("%H:%M"),
            max_attempts_per_day=str(r.max_attempts_per_day),
            calls_per_second=number_text(r.calls_per_second),
            max_lines=str(r.max_lines),
            ring_timeout=str(r.ring_timeout),
        )

    @classmethod
    def posted(cls, post: MultiDictProxy[Any]) -> CampaignForm:
        return cls(
            name=form_text(post, "name"),
            description=form_text(post, "description"),
            dial_mode=form_text(post, "dial_mode"),
            pool_ids=_strings(post, "pool_ids"),
            team_ids=_strings(post, "team_ids"),
            caller_id=form_text(post, "caller_id").strip(),
            record_calls="record_calls" in post,
            wrap_up_seconds=form_text(post, "wrap_up_seconds").strip(),
            time_zone=form_text(post, "time_zone").strip(),
            call_days=_strings(post, "call_days"),
            call_from=form_text(post, "call_from").strip(),
            call_until=form_text(post, "call_until").strip(),
            max_attempts_per_day=form_text(post, "max_attempts_per_day").strip(),
            calls_per_second=form_text(post, "calls_per_second").strip(),
            max_lines=form_text(post, "max_lines").strip(),
            ring_timeout=form_text(post, "ring_timeout").strip(),
        )


@dataclasses.dataclass(frozen=True)
class _CheckedCampaign:
    dial_mode: DialMode
    pool_ids: tuple[int, ...]
    team_ids: tuple[int, ...]
    wrap_up_seconds: int | None
    rules: CallingRules


def _time(value: str) -> time | None:
    match = _TIME.match(value)
    return time(int(match.group(1)), int(match.group(2))) if match else None


def _check_campaign(
    form: CampaignForm, tr: Translator, pools: set[int], teams: set[int]
) -> tuple[_CheckedCampaign | None, dict[str, str]]:
    """Every mistake the form can show at once, each next to its field."""
    errors: dict[str, str] = {}
    if not form.name.strip():
        errors["name"] = tr("error.required")
    elif len(form.name.strip()) > 200:
        errors["name"] = tr("campaigns.errors.too_long", n=200)
    if len(form.description) > 2000:
        errors["description"] = tr("campaigns.errors.too_long", n=2000)
    mode = next((m for m in DialMode if m.value == form.dial_mode), None)
    if mode is None:
        errors["dial_mode"] = tr("error.bad_choice")
    pool_ids = _ids_once(form.pool_ids)
    if pool_ids is None or not set(pool_ids) <= pools:
        errors["pool_ids"] = tr("error.bad_choice")
    team_ids = _ids_once(form.team_ids)
    if team_ids is None or not set(team_ids) <= teams:
        errors["team_ids"] = tr("error.bad_choice")
    if form.caller_id and not _CALLER_ID.match(form.caller_id):
        errors["caller_id"] = tr("campaigns.errors.caller_id")
    wrap_up: int | None = None
    if form.wrap_up_seconds:
        wrap_up = whole_number(form.wrap_up_seconds, 0, 3600)
        if wrap_up is None:
            errors["wrap_up_seconds"] = range_error(tr, 0, 3600)
    zone_ok = False
    try:
        zone_ok = bool(form.time_zone) and ZoneInfo(form.time_zone) is not None
    except (ZoneInfoNotFoundError, ValueError):
        zone_ok = False
    if not zone_ok:
        errors["time_zone"] = tr("campaigns.errors.time_zone")
    days = {int(d) for d in form.call_days if d in {str(n) for n in DAYS}}
    if len(days) != len(set(form.call_days)) or not days:
        errors["call_days"] = tr("campaigns.errors.days")
    call_from, call_until = _time(form.call_from), _time(form.call_until)
    if call_from is None:
        errors["call_from"] = tr("campaigns.errors.time")
    if call_until is None:
        errors["call_until"] = tr("campaigns.errors.time")
    if call_from is not None and call_until is not None and call_from >= call_until:
        errors["call_until"] = tr("campaigns.errors.hours_order")
    per_day = whole_number(form.max_attempts_per_day, 1, 100)
    if per_day is None:
        errors["max_attempts_per_day"] = range_error(tr, 1, 100)
    cps: float | None = None
    if re.fullmatch(r"\d{1,4}([.,]\d{1,2})?", form.calls_per_second):
        cps = float(form.calls_per_second.replace(",", "."))
    if cps is None or not 0 < cps <= 1000:
        errors["calls_per_second"] = range_error(tr, 0.01, 1000)
    lines = whole_number(form.max_lines, 1, 10000)
    if lines is None:
        errors["max_lines"] = range_error(tr, 1, 10000)
    ring = whole_number(form.ring_timeout, 5, 120)
    if ring is None:
        errors["ring_timeout"] = range_error(tr, 5, 120)
    if (
        errors
        or mode is None
        or pool_ids is None
        or team_ids is None
        or call_from is None
        or call_until is None
        or per_day is None
        or cps is None
        or lines is None
        or ring is None
    ):
        return None, errors
    rules = CallingRules(
        time_zone=form.time_zone,
        call_days=frozenset(days),
        call_from=call_from,
        call_until=call_until,
        max_attempts_per_day=per_day,
        calls_per_second=cps,
        max_lines=lines,
        ring_timeout=ring,
    )
    return _CheckedCampaign(mode, tuple(pool_ids), tuple(team_ids), wrap_up, rules), {}


async def _choices(request: web.Request) -> tuple[list[Any], list[Any]]:
    async with request.app[DB].acquire() as conn:
        return await PoolRepository(conn).list(), await TeamRepository(conn).list()


@requires("campaigns.view")
async def list_campaigns(request: web.Request) -> web.StreamResponse:
    session = signed_in(request)
    campaigns = await request.app[CAMPAIGNS].list_campaigns()
    pools, teams = await _choices(request)
    async with request.app[DB].acquire() as conn:
        repo = CampaignPagesRepository(conn)
        counts = await repo.record_counts()
        live = await repo.live_calls()
    statuses = [s.value for s in RecordStatus]
    return render(
        request,
        "campaigns.html",
        {
            "campaigns": campaigns,
            "pool_names": {p.id: p.name for p in pools},
            "team_names": {t.id: t.name for t in teams},
            "counts": {c.id: {s: counts.get(c.id, {}).get(s, 0) for s in statuses} for c in campaigns},
            "live": live,
            "statuses": statuses,
            "can_manage": session.can("campaigns.manage"),
        },
    )


async def _campaign_page(
    request: web.Request,
    *,
    form: CampaignForm,
    campaign: Campaign | None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    session = signed_in(request)
    pools, teams = await _choices(request)
    live = 0
    if campaign is not None:
        async with request.app[DB].acquire() as conn:
            live = (await CampaignPagesRepository(conn).live_calls()).get(campaign.id, 0)
    transitions = []
    if campaign is not None:
        for target, label in _TRANSITIONS.items():
            if target is campaign.status or (target is CampaignStatus.PAUSED and not campaign.running):
                continue
            transitions.append((target.value, label))
    return render(
        request,
        "campaign_form.html",
        {
            "campaign": campaign,
            "form": form,
            "editable": session.can("campaigns.manage"),
            "action": "/campaigns/new" if campaign is None else f"/campaigns/{campaign.id}",
            "modes": [m.value for m in DialMode],
            "pools": pools,
            "teams": teams,
            "days": DAYS,
            "live": live,
            "transitions": transitions,
            **form_feedback(request, errors, _CAMPAIGN_FIELDS),
        },
        status=status,
    )


@requires("campaigns.manage")
async def new_campaign_form(request: web.Request) -> web.StreamResponse:
    form = CampaignForm(time_zone=request.app[SETTINGS].web.timezone)
    return await _campaign_page(request, form=form, campaign=None)


async def _checked(request: web.Request, form: CampaignForm) -> tuple[_CheckedCampaign | None, dict[str, str]]:
    pools, teams = await _choices(request)
    return _check_campaign(form, translator(request), {p.id for p in pools}, {t.id for t in teams})


@requires("campaigns.manage")
async def create_campaign(request: web.Request) -> web.StreamResponse:
    form = CampaignForm.posted(await request.post())
    checked, errors = await _checked(request, form)
    if checked is None:
        return await _campaign_page(request, form=form, campaign=None, errors=errors, status=422)
    try:
        campaign = await request.app[CAMPAIGNS].create_campaign(
            actor_of(request),
            form.name,
            checked.dial_mode,
            pool_ids=checked.pool_ids,
            team_ids=checked.team_ids,
            rules=checked.rules,
            description=form.description,
            caller_id=form.caller_id,
            record_calls=form.record_calls,
            wrap_up_seconds=checked.wrap_up_seconds,
        )
    except InvalidInputError as exc:
        errors = {exc.field: error_text(translator(request), exc.code, "campaigns")}
        return await _campaign_page(request, form=form, campaign=None, errors=errors, status=422)
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}?saved=1")


@requires("campaigns.view")
async def campaign_page(request: web.Request) -> web.StreamResponse:
    campaign = await campaign_of(request)
    return await _campaign_page(request, form=CampaignForm.of(campaign), campaign=campaign)


@requires("campaigns.manage")
async def update_campaign(request: web.Request) -> web.StreamResponse:
    campaign = await campaign_of(request)
    form = CampaignForm.posted(await request.post())
    checked, errors = await _checked(request, form)
    if checked is None:
        return await _campaign_page(request, form=form, campaign=campaign, errors=errors, status=422)
    changed = dataclasses.replace(
        campaign,
        name=form.name.strip(),
        description=form.description.strip(),
        dial_mode=checked.dial_mode,
        pool_ids=checked.pool_ids,
        team_ids=checked.team_ids,
        caller_id=form.caller_id,
        record_calls=form.record_calls,
        wrap_up_seconds=checked.wrap_up_seconds,
        rules=checked.rules,
    )
    try:
        await request.app[CAMPAIGNS].update_campaign(actor_of(request), changed)
    except InvalidInputError as exc:
        errors = {exc.field: error_text(translator(request), exc.code, "campaigns")}
        return await _campaign_page(request, form=form, campaign=campaign, errors=errors, status=422)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}?saved=1")


@requires("campaigns.manage")
async def change_status(request: web.Request) -> web.StreamResponse:
    """Start, pause or finish; starting without a pool and a team shows the campaign again with why not."""
    campaign = await campaign_of(request)
    posted = form_text(await request.post(), "status")
    wanted = next((s for s in _TRANSITIONS if s.value == posted), None)
    tr = translator(request)
    if wanted is None:
        errors = {"status": tr("error.bad_choice")}
        return await _campaign_page(
            request, form=CampaignForm.of(campaign), campaign=campaign, errors=errors, status=422
        )
    try:
        await request.app[CAMPAIGNS].set_status(actor_of(request), campaign.id, wanted)
    except InvalidInputError as exc:
        errors = {exc.field: error_text(tr, exc.code, "campaigns")}
        return await _campaign_page(
            request, form=CampaignForm.of(campaign), campaign=campaign, errors=errors, status=422
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}?saved=1")


def routes() -> list[web.RouteDef]:
    one = r"/campaigns/{id:\d+}"
    return [
        web.get("/campaigns", list_campaigns),
        web.get("/campaigns/new", new_campaign_form),
        web.post("/campaigns/new", create_campaign),
        web.get(one, campaign_page),
        web.post(one, update_campaign),
        web.post(one + "/status", change_status),
        web.get(one + "/dispositions", dispositions_page),
        web.get(one + "/dispositions/new", new_disposition_form),
        web.post(one + "/dispositions/new", create_disposition),
        web.get(one + r"/dispositions/{code:[a-z0-9_]{1,40}}", disposition_page),
        web.post(one + r"/dispositions/{code:[a-z0-9_]{1,40}}", update_disposition),
        *archive.routes(),
    ]
