"""A campaign's dispositions ("Aksiyonel data"): the list, a new one, editing one (label, rule, order, on/off).
The dialer's own (those with an ``outcome``) keep their outcome and cannot be switched off or made call-backs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from agent_console.admin.users import form_feedback, form_text, signed_in
from agent_console.campaigns.http_common import CAMPAIGNS, campaign_of, range_error
from agent_console.forms import whole_number
from agent_console.i18n import Translator
from agent_console.web import actor_of, render, requires, translator
from crm_core.users.service import NotFoundError
from dialer.campaigns.model import (
    Campaign,
    Disposition,
    DispositionAction,
    ordered,
)

_DISPOSITION_FIELDS = frozenset(
    ("code", "label", "action", "retry_minutes", "max_attempts", "position", "active", "success")
)

_CODE = re.compile(r"^[a-z0-9_]{1,40}$")


@dataclasses.dataclass
class DispositionForm:
    code: str = ""
    label: str = ""
    action: str = DispositionAction.FINAL.value
    retry_minutes: str = ""
    max_attempts: str = ""
    success: bool = False
    active: bool = True
    position: str = "0"

    @classmethod
    def of(cls, d: Disposition) -> DispositionForm:
        return cls(
            code=d.code,
            label=d.label,
            action=d.action.value,
            retry_minutes="" if d.retry_minutes is None else str(d.retry_minutes),
            max_attempts="" if d.max_attempts is None else str(d.max_attempts),
            success=d.success,
            active=d.active,
            position=str(d.position),
        )

    @classmethod
    def posted(cls, post: MultiDictProxy[Any], *, code: str | None = None) -> DispositionForm:
        return cls(
            code=form_text(post, "code").strip() if code is None else code,
            label=form_text(post, "label"),
            action=form_text(post, "action"),
            retry_minutes=form_text(post, "retry_minutes").strip(),
            max_attempts=form_text(post, "max_attempts").strip(),
            success="success" in post,
            active="active" in post,
            position=form_text(post, "position").strip(),
        )


def _check_disposition(
    form: DispositionForm, tr: Translator, existing: Disposition | None, taken: set[str]
) -> tuple[Disposition | None, dict[str, str]]:
    """The disposition the form describes. The dialer's own (those with an ``outcome``) keep their code and outcome,
    stay active, and cannot become a call-back (the dialer has no time to call back at)."""
    errors: dict[str, str] = {}
    if existing is None:
        if not _CODE.match(form.code):
            errors["code"] = tr("campaigns.errors.code")
        elif form.code in taken or form.code == "new":
            errors["code"] = tr("campaigns.errors.code_taken")
    label = form.label.strip()
    if not label:
        errors["label"] = tr("error.required")
    elif len(label) > 100:
        errors["label"] = tr("campaigns.errors.too_long", n=100)
    action = next((a for a in DispositionAction if a.value == form.action), None)
    own = existing is not None and existing.outcome is not None
    if action is None:
        errors["action"] = tr("error.bad_choice")
    elif own and action is DispositionAction.CALLBACK:
        errors["action"] = tr("campaigns.errors.outcome_callback")
    if own and not form.active:
        errors["active"] = tr("campaigns.errors.outcome_active")
    retry_minutes = max_attempts = None
    if action is DispositionAction.RETRY:
        retry_minutes = whole_number(form.retry_minutes, 1, 525600)
        if retry_minutes is None:
            errors["retry_minutes"] = range_error(tr, 1, 525600)
        max_attempts = whole_number(form.max_attempts, 1, 100)
        if max_attempts is None:
            errors["max_attempts"] = range_error(tr, 1, 100)
    position = whole_number(form.position, -100000, 100000) if form.position else 0
    if position is None:
        errors["position"] = range_error(tr, -100000, 100000)
    if errors or action is None or position is None:
        return None, errors
    return (
        Disposition(
            code=existing.code if existing is not None else form.code,
            label=label,
            action=action,
            retry_minutes=retry_minutes,
            max_attempts=max_attempts,
            success=form.success,
            outcome=existing.outcome if existing is not None else None,
            position=position,
            active=form.active,
        ),
        {},
    )


@requires("campaigns.view")
async def dispositions_page(request: web.Request) -> web.StreamResponse:
    campaign = await campaign_of(request)
    dispositions = ordered(await request.app[CAMPAIGNS].dispositions(campaign.id))
    return render(
        request,
        "campaign_dispositions.html",
        {
            "campaign": campaign,
            "dispositions": dispositions,
            "can_manage": signed_in(request).can("campaigns.manage"),
            "saved": request.query.get("saved") == "1",
        },
    )


async def _disposition(request: web.Request, campaign: Campaign) -> Disposition:
    code = request.match_info["code"]
    found = next((d for d in await request.app[CAMPAIGNS].dispositions(campaign.id) if d.code == code), None)
    if found is None:
        raise web.HTTPNotFound()
    return found


async def _disposition_page(
    request: web.Request,
    campaign: Campaign,
    form: DispositionForm,
    existing: Disposition | None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    base = f"/campaigns/{campaign.id}/dispositions"
    return render(
        request,
        "campaign_disposition_form.html",
        {
            "campaign": campaign,
            "form": form,
            "existing": existing,
            "editable": signed_in(request).can("campaigns.manage"),
            "action": f"{base}/new" if existing is None else f"{base}/{existing.code}",
            "actions": [a.value for a in DispositionAction],
            **form_feedback(request, errors, _DISPOSITION_FIELDS),
        },
        status=status,
    )


@requires("campaigns.manage")
async def new_disposition_form(request: web.Request) -> web.StreamResponse:
    campaign = await campaign_of(request)
    dispositions = await request.app[CAMPAIGNS].dispositions(campaign.id)
    position = max((d.position for d in dispositions), default=0) + 10
    return await _disposition_page(request, campaign, DispositionForm(position=str(position)), None)


@requires("campaigns.view")
async def disposition_page(request: web.Request) -> web.StreamResponse:
    campaign = await campaign_of(request)
    existing = await _disposition(request, campaign)
    return await _disposition_page(request, campaign, DispositionForm.of(existing), existing)


async def _save_disposition(request: web.Request, existing: Disposition | None) -> web.StreamResponse:
    campaign = await campaign_of(request)
    if existing is None and "code" in request.match_info:
        existing = await _disposition(request, campaign)
    post = await request.post()
    form = DispositionForm.posted(post, code=existing.code if existing is not None else None)
    taken = {d.code for d in await request.app[CAMPAIGNS].dispositions(campaign.id)}
    disposition, errors = _check_disposition(form, translator(request), existing, taken)
    if disposition is None:
        return await _disposition_page(request, campaign, form, existing, errors, status=422)
    try:
        await request.app[CAMPAIGNS].save_disposition(actor_of(request), campaign.id, disposition)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}/dispositions?saved=1")


@requires("campaigns.manage")
async def create_disposition(request: web.Request) -> web.StreamResponse:
    return await _save_disposition(request, None)


@requires("campaigns.manage")
async def update_disposition(request: web.Request) -> web.StreamResponse:
    return await _save_disposition(request, None)
