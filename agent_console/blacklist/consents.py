"""İYS pages: one number looked up (its consents, its blacklist entries and whether it may be called), an İYS
consent file upload, and each campaign's İYS rule (call everyone, skip refusals, or call only consenting numbers)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from aiohttp import web

from agent_console.admin.audit import load_names, local_time
from agent_console.admin.users import form_feedback, form_text, optional_id, signed_in
from agent_console.blacklist.views import (
    EntryRow,
    display_phone,
    entry_row,
    error_text,
    file_error_text,
    report_view,
    uploaded_file,
)
from agent_console.i18n import Translator
from agent_console.keys import BLACKLIST, DB, SETTINGS
from agent_console.web import actor_of, render, requires, translator
from crm_core.users.service import InvalidInputError, NotFoundError
from dialer.blacklist.model import ConsentRule, NumberStatus, UploadReport
from dialer.pools.files import FileFormatError

_FIELDS = frozenset(("phone", "file", "consent_rule"))


@dataclasses.dataclass(frozen=True)
class ConsentRow:
    channel: str
    status: str
    refused: bool
    recipient_type: str
    source: str
    consent_date: str
    updated_at: str


@dataclasses.dataclass(frozen=True)
class NumberView:
    phone: str
    consents: list[ConsentRow]
    entries: list[EntryRow]
    verdict: str | None  # why it may not be called; None: it may


async def _number_view(request: web.Request, status: NumberStatus) -> NumberView:
    tr = translator(request)
    zone = request.app[SETTINGS].web.zone
    campaigns = {c.id: c.name for c in await request.app[BLACKLIST].campaigns()}
    async with request.app[DB].acquire() as conn:
        people = await load_names(conn)
    return NumberView(
        phone=display_phone(status.phone),
        consents=[
            ConsentRow(
                channel=tr(f"blacklist.iys.channel_{c.channel.value}"),
                status=tr(f"blacklist.iys.status_{c.status.value}"),
                refused=c.status.value == "RET",
                recipient_type=tr(f"blacklist.iys.recipient_{c.recipient_type.value}"),
                source=c.source or tr("app.none"),
                consent_date=local_time(c.consent_date, zone),
                updated_at=local_time(c.updated_at, zone) if c.updated_at else "",
            )
            for c in status.consents
        ],
        entries=[entry_row(tr, e, people, campaigns, zone) for e in status.entries],
        verdict=tr(f"blacklist.block.{status.blocked.value}") if status.blocked else None,
    )


async def _page(
    request: web.Request,
    *,
    phone: str = "",
    number: NumberStatus | None = None,
    report: UploadReport | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    session = signed_in(request)
    tr: Translator = translator(request)
    return render(
        request,
        "blacklist_consents.html",
        {
            "phone": phone,
            "number": await _number_view(request, number) if number else None,
            "campaigns": await request.app[BLACKLIST].campaigns(),
            "rules": list(ConsentRule),
            "report": report_view(tr, report) if report else None,
            "can_manage": session.can("blacklist.manage"),
            **form_feedback(request, errors, _FIELDS),
        },
        status=status,
    )


@requires("blacklist.view")
async def consents_page(request: web.Request) -> web.StreamResponse:
    phone = request.query.get("phone", "").strip()[:40]
    if not phone:
        return await _page(request)
    try:
        number = await request.app[BLACKLIST].lookup(phone)
    except InvalidInputError as exc:
        errors = {"phone": error_text(translator(request), exc.code, phone)}
        return await _page(request, phone=phone, errors=errors, status=422)
    return await _page(request, phone=phone, number=number)


@requires("blacklist.manage")
async def upload_consents(request: web.Request) -> web.StreamResponse:
    tr = translator(request)
    file = await uploaded_file(await request.post(), tr)
    if isinstance(file, str):
        return await _page(request, errors={"file": file}, status=422)
    filename, content = file
    try:
        report = await request.app[BLACKLIST].import_consents(actor_of(request), filename=filename, content=content)
    except FileFormatError as exc:
        return await _page(request, errors={"file": file_error_text(tr, exc)}, status=422)
    return await _page(request, report=report)


@requires("blacklist.manage")
async def set_rule(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    campaign_id, ok = optional_id(form_text(post, "campaign_id"))
    rule = next((r for r in ConsentRule if r.value == form_text(post, "consent_rule")), None)
    if not ok or campaign_id is None or rule is None:
        return await _page(request, errors={"consent_rule": translator(request)("error.bad_choice")}, status=422)
    try:
        await request.app[BLACKLIST].set_consent_rule(actor_of(request), campaign_id, rule)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther("/blacklist/consents?saved=1")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/blacklist/consents", consents_page),
        web.post("/blacklist/consents", upload_consents),
        web.post("/blacklist/consents/rule", set_rule),
    ]
