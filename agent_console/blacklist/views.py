"""What the blacklist pages show, in words: entries as table rows (numbers as people write them, campaigns and users
by name, times in the call center's zone), upload reports and the reasons behind them, uploaded files read from a
form."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

import phonenumbers
from aiohttp import web
from multidict import MultiDictProxy

from agent_console.admin.audit import Names, local_time
from agent_console.i18n import Translator
from dialer.blacklist.model import BlacklistEntry, ReportLine, UploadReport, reason_key
from dialer.pools.files import FileFormatError

#: The largest file accepted (the application's request limit caps it as well).
MAX_UPLOAD_BYTES = 20 * 2**20
#: Report lines shown on a page; the counts always cover the whole file.
REPORT_LINES = 500


def display_phone(e164: str) -> str:
    """A Turkish number as written at home (``0532 123 45 67``), any other in international form."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    national = phonenumbers.region_code_for_number(number) == "TR"
    style = phonenumbers.PhoneNumberFormat.NATIONAL if national else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def scope_label(tr: Translator, campaign_id: int | None, campaigns: Mapping[int, str]) -> str:
    if campaign_id is None:
        return tr("blacklist.scope_global")
    return tr("blacklist.scope_campaign", name=campaigns.get(campaign_id, f"#{campaign_id}"))


@dataclasses.dataclass(frozen=True)
class EntryRow:
    id: int
    phone: str
    e164: str
    scope: str
    reason: str
    source: str
    added_by: str
    added_at: str
    live: bool
    removed_by: str
    removed_at: str
    removal_reason: str


def entry_row(
    tr: Translator, entry: BlacklistEntry, names: Names, campaigns: Mapping[int, str], zone: tzinfo
) -> EntryRow:
    return EntryRow(
        id=entry.id,
        phone=display_phone(entry.phone),
        e164=entry.phone,
        scope=scope_label(tr, entry.campaign_id, campaigns),
        reason=entry.reason,
        source=tr(f"blacklist.source_{entry.source.value}"),
        added_by=names.user(entry.added_by) if entry.added_by is not None else tr("audit.system"),
        added_at=local_time(entry.added_at, zone),
        live=entry.live,
        removed_by=names.user(entry.removed_by) if entry.removed_by is not None else tr("app.none"),
        removed_at=local_time(entry.removed_at, zone) if entry.removed_at else "",
        removal_reason=entry.removal_reason or "",
    )


# --- uploads and their reports ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReportRow:
    line_no: int
    reason: str
    values: str


@dataclasses.dataclass(frozen=True)
class ReportView:
    filename: str
    total: int
    stored: int
    skipped: int
    rows: list[ReportRow]
    shown: int


def reason_text(tr: Translator, reason: str, detail: str | None) -> str:
    """Why a line was not stored, in words (the detail is the refused value, or a line number)."""
    key = reason_key(reason)
    if not tr.catalogue.languages_of(key):
        return f"{reason} ({detail})" if detail else reason
    return tr(key, detail=detail or "")


def report_view(tr: Translator, report: UploadReport) -> ReportView:
    lines: Sequence[ReportLine] = report.lines[:REPORT_LINES]
    return ReportView(
        filename=report.filename,
        total=report.total_rows,
        stored=report.stored_rows,
        skipped=report.skipped_rows,
        rows=[ReportRow(i.line_no, reason_text(tr, i.reason, i.detail), " | ".join(i.raw)) for i in lines],
        shown=len(lines),
    )


def file_error_text(tr: Translator, error: FileFormatError) -> str:
    """Why a whole file cannot be used."""
    key = "blacklist.file_error." + error.code.replace(".", "_")
    if not tr.catalogue.languages_of(key):
        return f"{error.code}: {error.detail}" if error.detail else error.code
    return tr(key, detail=error.detail)


async def uploaded_file(post: MultiDictProxy[Any], tr: Translator) -> tuple[str, bytes] | str:
    """The file of the form's ``file`` field (its name cleaned of any folder), or the message saying what is
    wrong with it."""
    field = post.get("file")
    if not isinstance(field, web.FileField) or not field.filename:
        return tr("blacklist.upload_missing")
    content = await asyncio.to_thread(field.file.read, MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        return tr("blacklist.upload_too_large", mb=MAX_UPLOAD_BYTES // 2**20)
    name = re.split(r"[\\/]", field.filename)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[-200:] or "dosya", content


def error_text(tr: Translator, code: str, value: str = "") -> str:
    """A service error code is a full catalogue key (``error.required``, ``blacklist.refusal.phone_invalid``); a
    refused number's message names it (``value``)."""
    return tr(code, detail=value)
