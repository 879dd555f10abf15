"""The agents' data archive (seed 001 "Agent Data Arşivlerine Erişim"): every call record (attempt) filtered by
agent, local date range, disposition and campaign, shown page by page and downloaded as CSV (UTF-8 with BOM, ``;``:
what Turkish Excel opens) or XLSX.

Needs ``campaigns.view``. Supervisors and administrators see every agent; a team leader sees the agents of the
teams he leads (and himself); anyone else who was granted the page sees only his own calls."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

import openpyxl
from aiohttp import web
from openpyxl.cell import WriteOnlyCell

from agent_console.admin.audit import local_time
from agent_console.admin.users import signed_in
from agent_console.campaigns.repository import NO_DISPOSITION, ArchiveFilter, ArchiveRow, CampaignPagesRepository
from agent_console.forms import MAX_ID
from agent_console.i18n import Translator
from agent_console.keys import DB, SETTINGS
from agent_console.web import render, requires, translator
from crm_core.users.model import Role, User
from crm_core.users.repository import TeamRepository, UserRepository
from dialer.campaigns.repository import CampaignRepository

PAGE_SIZE = 50
#: At most this many rows go into one download (the newest); the page says so when a filter has more.
EXPORT_LIMIT = 100_000
_FILTER_FIELDS = ("agent", "from", "until", "disposition", "campaign")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PHONE = re.compile(r"^\+?[0-9]+$")


@dataclasses.dataclass(frozen=True)
class Query:
    """The filter as typed (kept in the form and in the page and download links), and what was wrong with it."""

    values: dict[str, str]
    filter: ArchiveFilter
    errors: dict[str, str]
    page: int


async def _scope(request: web.Request) -> frozenset[int] | None:
    """The agents whose calls the viewer may see, or None for all."""
    user = signed_in(request).user
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        return None
    if user.role is not Role.TEAM_LEADER:
        return frozenset({user.id})
    async with request.app[DB].acquire() as conn:
        led = {t.id for t in await TeamRepository(conn).list() if t.leader_id == user.id}
        return await CampaignPagesRepository(conn).users_in_teams(led) | {user.id}


def _id(value: str) -> int | None:
    return int(value) if value.isdigit() and int(value) <= MAX_ID else None


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None
    except ValueError:
        return None


def _start_of(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def parse_query(request: web.Request, tr: Translator, scope: frozenset[int] | None, zone: tzinfo) -> Query:
    values = {name: request.query.get(name, "").strip()[:64] for name in _FILTER_FIELDS}
    errors: dict[str, str] = {}
    agent_id = campaign_id = None
    if values["agent"]:
        agent_id = _id(values["agent"])
        if agent_id is None or (scope is not None and agent_id not in scope):
            errors["agent"] = tr("error.bad_choice")
    if values["campaign"]:
        campaign_id = _id(values["campaign"])
        if campaign_id is None:
            errors["campaign"] = tr("error.bad_choice")
    since = until = None
    if values["from"]:
        day = _date(values["from"])
        if day is None:
            errors["from"] = tr("campaigns.errors.date")
        else:
            since = _start_of(day, zone)
    if values["until"]:
        day = _date(values["until"])
        if day is None:
            errors["until"] = tr("campaigns.errors.date")
        else:
            until = _start_of(day + timedelta(days=1), zone)
    if since is not None and until is not None and since >= until:
        errors["until"] = tr("campaigns.errors.date_order")
    disposition = values["disposition"] or None
    if disposition is not None and disposition != NO_DISPOSITION and not re.fullmatch(r"[a-z0-9_]{1,40}", disposition):
        errors["disposition"] = tr("error.bad_choice")
    page_text = request.query.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 10**6 else 1
    return Query(
        values=values,
        filter=ArchiveFilter(
            agents=scope,
            agent_id=agent_id,
            since=since,
            until=until,
            disposition=disposition,
            campaign_id=campaign_id,
        ),
        errors=errors,
        page=page,
    )


def duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _status(tr: Translator, row: ArchiveRow) -> str:
    text = tr(f"campaigns.call_status.{row.status}")
    if row.failure:
        key = f"campaigns.failure.{row.failure}"
        text += " (" + (tr(key) if tr.catalogue.languages_of(key) else row.failure) + ")"
    return text


def _disposition(row: ArchiveRow) -> str:
    return row.disposition_label or row.disposition or ""


def _link(values: dict[str, str], **extra: str) -> str:
    query = {k: v for k, v in {**values, **extra}.items() if v}
    return "?" + urlencode(query) if query else ""


async def _context(request: web.Request) -> tuple[Query, tzinfo, list[User]]:
    tr = translator(request)
    zone = request.app[SETTINGS].web.zone
    scope = await _scope(request)
    query = parse_query(request, tr, scope, zone)
    async with request.app[DB].acquire() as conn:
        users = await UserRepository(conn).list()
    agents = [u for u in users if scope is None or u.id in scope]
    return query, zone, agents


@requires("campaigns.view")
async def archive_page(request: web.Request) -> web.StreamResponse:
    tr = translator(request)
    query, zone, agents = await _context(request)
    rows: list[ArchiveRow] = []
    total = 0
    async with request.app[DB].acquire() as conn:
        campaigns = await CampaignRepository(conn).find()
        repo = CampaignPagesRepository(conn)
        labels = await repo.disposition_labels(query.filter.campaign_id)
        if not query.errors:
            total = await repo.archive_count(query.filter)
            rows = await repo.archive(query.filter, limit=PAGE_SIZE, offset=(query.page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(
        request,
        "campaign_archive.html",
        {
            "values": query.values,
            "errors": query.errors,
            "agents": agents,
            "campaigns": campaigns,
            "dispositions": labels,
            "no_disposition": NO_DISPOSITION,
            "rows": [
                {
                    "row": r,
                    "when": local_time(r.dialed_at, zone),
                    "status": _status(tr, r),
                    "duration": duration(r.talk_seconds),
                    "disposition": _disposition(r),
                }
                for r in rows
            ],
            "total": total,
            "page": query.page,
            "pages": pages,
            "prev_link": _link(query.values, page=str(query.page - 1)) if query.page > 1 else None,
            "next_link": _link(query.values, page=str(query.page + 1)) if query.page < pages else None,
            "download": _link(query.values),
            "too_many": total > EXPORT_LIMIT,
            "export_limit": EXPORT_LIMIT,
        },
        status=422 if query.errors else 200,
    )


def _headers(tr: Translator) -> list[str]:
    return [
        tr(f"campaigns.archive.{name}")
        for name in (
            "time", "agent", "phone", "record", "campaign", "attempt", "status", "seconds", "disposition",
            "disposition_code", "note",
        )
    ]  # fmt: skip


def _safe(text: str) -> str:
    """A cell Excel will not take for a formula (names and notes are typed by people); numbers stay numbers."""
    if text and text[0] in "=+-@\t\r" and not _PHONE.match(text):
        return "'" + text
    return text


def _cells(tr: Translator, row: ArchiveRow) -> list[Any]:
    return [
        row.agent_name or "",
        row.phone,
        row.record_name,
        row.campaign_name or "",
        row.attempt,
        _status(tr, row),
        row.talk_seconds,
        _disposition(row),
        row.disposition or "",
        row.note or "",
    ]


async def _export_rows(request: web.Request) -> tuple[Translator, tzinfo, list[ArchiveRow], str]:
    tr = translator(request)
    query, zone, _agents = await _context(request)
    if query.errors:
        raise web.HTTPSeeOther("/campaigns/archive" + _link(query.values))
    async with request.app[DB].acquire() as conn:
        rows = await CampaignPagesRepository(conn).archive(query.filter, limit=EXPORT_LIMIT)
    stem = "agent-data-arsivi-" + datetime.now(zone).strftime("%Y%m%d-%H%M")
    return tr, zone, rows, stem


def _download(body: bytes, content_type: str, filename: str, charset: str | None = None) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        charset=charset,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def csv_bytes(headers: Sequence[str], rows: Sequence[tuple[str, list[Any]]]) -> bytes:
    """What Turkish Excel opens as it is: UTF-8 with a BOM, ``;`` between cells, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    for when, cells in rows:
        writer.writerow([when, *(_safe(c) if isinstance(c, str) else ("" if c is None else c) for c in cells)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@requires("campaigns.view")
async def archive_csv(request: web.Request) -> web.StreamResponse:
    tr, zone, rows, stem = await _export_rows(request)
    data = [(local_time(r.dialed_at, zone), _cells(tr, r)) for r in rows]
    body = await asyncio.to_thread(csv_bytes, _headers(tr), data)
    return _download(body, "text/csv", f"{stem}.csv", "utf-8")


def xlsx_bytes(headers: Sequence[str], rows: Sequence[tuple[datetime, list[Any]]]) -> bytes:
    """A one-sheet workbook: the header row, then each row's local time (a real date cell) and its cells."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(list(headers))
    for at, cells in rows:
        when = WriteOnlyCell(sheet, value=at)
        when.number_format = "dd.mm.yyyy hh:mm:ss"
        sheet.append([when, *(_safe(c) if isinstance(c, str) else c for c in cells)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@requires("campaigns.view")
async def archive_xlsx(request: web.Request) -> web.StreamResponse:
    tr, zone, rows, stem = await _export_rows(request)
    data = [(r.dialed_at.astimezone(zone).replace(tzinfo=None), _cells(tr, r)) for r in rows]
    body = await asyncio.to_thread(xlsx_bytes, _headers(tr), data)
    return _download(body, _XLSX, f"{stem}.xlsx")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/campaigns/archive", archive_page),
        web.get("/campaigns/archive.csv", archive_csv),
        web.get("/campaigns/archive.xlsx", archive_xlsx),
    ]
