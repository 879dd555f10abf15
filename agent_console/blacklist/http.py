"""Blacklist pages (seed 001 "Kara liste"): the list with search by number and filters by scope and status; adding a
number, everywhere or for one campaign, with its reason; an entry's page with its history and its removal (with a
reason: entries are never deleted); a file of numbers to block; and İYS (``consents``).

``blacklist.view`` opens the pages; ``blacklist.manage`` changes anything."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from urllib.parse import urlencode

from aiohttp import web

from agent_console.admin.audit import describe, load_names
from agent_console.admin.users import form_feedback, form_text, optional_id, path_id, signed_in
from agent_console.blacklist import consents
from agent_console.blacklist.views import (
    MAX_UPLOAD_BYTES,
    entry_row,
    error_text,
    file_error_text,
    reason_text,
    report_view,
    uploaded_file,
)
from agent_console.i18n import Translator
from agent_console.keys import BLACKLIST, DB, SETTINGS
from agent_console.web import actor_of, render, requires, translator
from crm_core.audit.repository import AuditRepository
from crm_core.customers.phones import InvalidPhoneError, e164
from crm_core.users.service import InvalidInputError, NotFoundError
from dialer.blacklist.model import BlacklistEntry, UploadReport
from dialer.blacklist.service import PAGE_SIZE, STATUSES, Scope, Status
from dialer.pools.files import FileFormatError

_FORM_FIELDS = frozenset(("phone", "scope", "reason"))
_REMOVE_FIELDS = frozenset(("removal_reason",))
#: A service's field name -> the form's.
_FIELDS = {"campaign_id": "scope"}


@dataclasses.dataclass
class EntryForm:
    """The add form and the upload form: a number (not on the upload form), where it is blocked, and why."""

    phone: str = ""
    scope: str = ""  # "": everywhere; else a campaign's id
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class ListQuery:
    """The list's search and filters, as the URL carries them."""

    q: str = ""
    scope: str = "all"  # "all", "global" or a campaign's id
    status: Status = "live"
    before: int | None = None

    @classmethod
    def of(cls, query: Mapping[str, str]) -> ListQuery:
        scope = query.get("scope", "all")
        status = query.get("status", "live")
        before, ok = optional_id(query.get("before", ""))
        return cls(
            q=query.get("q", "").strip()[:64],
            scope=scope if scope in ("all", "global") or optional_id(scope)[0] is not None else "all",
            status=next((s for s in STATUSES if s == status), "live"),
            before=before if ok else None,
        )

    @property
    def service_scope(self) -> Scope:
        if self.scope == "all":
            return "all"
        if self.scope == "global":
            return "global"
        return int(self.scope)

    def url(self, **changes: str | None) -> str:
        values = {"q": self.q, "scope": self.scope, "status": self.status, **changes}
        defaults = {"scope": "all", "status": "live"}
        kept = {k: v for k, v in values.items() if v and defaults.get(k) != v}
        return "/blacklist?" + urlencode(kept) if kept else "/blacklist"


def _form(post: Mapping[str, object]) -> EntryForm:
    def text(name: str) -> str:
        value = post.get(name)
        return value if isinstance(value, str) else ""

    return EntryForm(phone=text("phone").strip(), scope=text("scope"), reason=text("reason"))


async def _campaign_names(request: web.Request) -> dict[int, str]:
    return {c.id: c.name for c in await request.app[BLACKLIST].campaigns()}


async def _list(
    request: web.Request, *, form: EntryForm, errors: Mapping[str, str] | None = None, status: int = 200
) -> web.Response:
    session = signed_in(request)
    query = ListQuery.of(request.query)
    service = request.app[BLACKLIST]
    entries = await service.search(
        query.q,
        scope=query.service_scope,
        status=query.status,
        before_id=query.before,
        limit=PAGE_SIZE + 1,
    )
    older = None
    if len(entries) > PAGE_SIZE:
        entries = entries[:PAGE_SIZE]
        older = query.url(before=str(entries[-1].id))
    campaigns = await service.campaigns()
    names = {c.id: c.name for c in campaigns}
    async with request.app[DB].acquire() as conn:
        people = await load_names(conn)
    tr = translator(request)
    zone = request.app[SETTINGS].web.zone
    return render(
        request,
        "blacklist.html",
        {
            "rows": [entry_row(tr, e, people, names, zone) for e in entries],
            "query": query,
            "campaigns": campaigns,
            "statuses": STATUSES,
            "older": older,
            "newest": query.url() if query.before is not None else None,
            "form": form,
            "can_manage": session.can("blacklist.manage"),
            **form_feedback(request, errors, _FORM_FIELDS),
        },
        status=status,
    )


@requires("blacklist.view")
async def list_page(request: web.Request) -> web.StreamResponse:
    return await _list(request, form=EntryForm())


def _checked(form: EntryForm, tr: Translator, *, phone: bool) -> tuple[int | None, dict[str, str]]:
    """The campaign of the form's scope, and the mistakes that can be seen without the database, all at once so
    that the user corrects them in one go."""
    errors: dict[str, str] = {}
    campaign_id, ok = optional_id(form.scope)
    if not ok:
        errors["scope"] = tr("error.bad_choice")
    if phone:
        try:
            e164(form.phone)
        except InvalidPhoneError as exc:
            empty = exc.code == "phone.empty"
            errors["phone"] = tr("error.required") if empty else reason_text(tr, exc.code, form.phone)
    if not form.reason.strip():
        errors["reason"] = tr("error.required")
    return campaign_id, errors


@requires("blacklist.manage")
async def add(request: web.Request) -> web.StreamResponse:
    form = _form(await request.post())
    tr = translator(request)
    campaign_id, errors = _checked(form, tr, phone=True)
    if errors:
        return await _list(request, form=form, errors=errors, status=422)
    try:
        await request.app[BLACKLIST].add(actor_of(request), form.phone, reason=form.reason, campaign_id=campaign_id)
    except InvalidInputError as exc:
        errors = {_FIELDS.get(exc.field, exc.field): error_text(tr, exc.code, form.phone)}
        return await _list(request, form=form, errors=errors, status=422)
    raise web.HTTPSeeOther("/blacklist?saved=1")


# --- one entry ----------------------------------------------------------------------------------------------------


async def _entry(request: web.Request) -> BlacklistEntry:
    try:
        return await request.app[BLACKLIST].entry(path_id(request))
    except NotFoundError:
        raise web.HTTPNotFound() from None


async def _entry_page(
    request: web.Request,
    entry: BlacklistEntry,
    *,
    removal_reason: str = "",
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    session = signed_in(request)
    tr = translator(request)
    zone = request.app[SETTINGS].web.zone
    campaigns = await _campaign_names(request)
    async with request.app[DB].acquire() as conn:
        people = await load_names(conn)
        history = await AuditRepository(conn).search(entity="blacklist", entity_id=entry.id)
    return render(
        request,
        "blacklist_entry.html",
        {
            "row": entry_row(tr, entry, people, campaigns, zone),
            "history": describe(tr, people, history, zone),
            "removal_reason": removal_reason,
            "can_manage": session.can("blacklist.manage"),
            **form_feedback(request, errors, _REMOVE_FIELDS),
        },
        status=status,
    )


@requires("blacklist.view")
async def entry_page(request: web.Request) -> web.StreamResponse:
    return await _entry_page(request, await _entry(request))


@requires("blacklist.manage")
async def remove(request: web.Request) -> web.StreamResponse:
    entry = await _entry(request)
    reason = form_text(await request.post(), "removal_reason")
    tr = translator(request)
    if not reason.strip():
        errors = {"removal_reason": tr("error.required")}
        return await _entry_page(request, entry, removal_reason=reason, errors=errors, status=422)
    try:
        await request.app[BLACKLIST].remove(actor_of(request), entry.id, reason)
    except InvalidInputError as exc:
        errors = {exc.field: error_text(tr, exc.code)}
        return await _entry_page(request, entry, removal_reason=reason, errors=errors, status=422)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/blacklist/{entry.id}?saved=1")


# --- a file of numbers --------------------------------------------------------------------------------------------


async def _upload_page(
    request: web.Request,
    *,
    form: EntryForm,
    report: UploadReport | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    tr = translator(request)
    return render(
        request,
        "blacklist_upload.html",
        {
            "form": form,
            "campaigns": await request.app[BLACKLIST].campaigns(),
            "report": report_view(tr, report) if report else None,
            "max_mb": MAX_UPLOAD_BYTES // 2**20,
            **form_feedback(request, errors, frozenset(("file", "scope", "reason"))),
        },
        status=status,
    )


@requires("blacklist.manage")
async def upload_form(request: web.Request) -> web.StreamResponse:
    return await _upload_page(request, form=EntryForm())


@requires("blacklist.manage")
async def upload(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    form = _form(post)
    tr = translator(request)
    campaign_id, errors = _checked(form, tr, phone=False)
    file = await uploaded_file(post, tr)
    if isinstance(file, str):
        errors["file"] = file
    if errors or isinstance(file, str):
        return await _upload_page(request, form=form, errors=errors, status=422)
    filename, content = file
    try:
        report = await request.app[BLACKLIST].add_file(
            actor_of(request), filename=filename, content=content, reason=form.reason, campaign_id=campaign_id
        )
    except FileFormatError as exc:
        return await _upload_page(request, form=form, errors={"file": file_error_text(tr, exc)}, status=422)
    except InvalidInputError as exc:
        errors = {_FIELDS.get(exc.field, exc.field): error_text(tr, exc.code)}
        return await _upload_page(request, form=form, errors=errors, status=422)
    return await _upload_page(request, form=EntryForm(), report=report)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/blacklist", list_page),
        web.post("/blacklist", add),
        web.get("/blacklist/upload", upload_form),
        web.post("/blacklist/upload", upload),
        web.get(r"/blacklist/{id:\d+}", entry_page),
        web.post(r"/blacklist/{id:\d+}/remove", remove),
        *consents.routes(),
    ]
