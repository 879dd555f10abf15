"""Importing a file into a pool: upload, column mapping, the import and its report, and the kept file's download."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
from collections.abc import Mapping

from aiohttp import web

from agent_console.admin.audit import load_names, local_time
from agent_console.admin.users import form_text, signed_in
from agent_console.keys import DB, SETTINGS
from agent_console.pools.columns import CHOICES, CUSTOM_CHOICE, Preview, guess, mapping_of, preview
from agent_console.pools.common import (
    POOLS,
    UPLOADS,
    attachment,
    clean_filename,
    delimiter_text,
    encoding_text,
    import_of,
    pool_of,
)
from agent_console.pools.pool_pages import PoolForm, render_pool_page
from agent_console.pools.reasons import file_error_text, issue_text, target_text
from agent_console.pools.uploads import StagedFile, UploadTooLargeError
from agent_console.web import actor_of, render, requires, translator
from crm_core.users.service import NotFoundError
from dialer.blacklist.service import blocked_at_import
from dialer.pools.files import FileFormatError
from dialer.pools.imports import ImportSummary
from dialer.pools.mapping import FIELDS, Issue
from dialer.pools.model import Pool


@requires("pools.manage")
async def upload(request: web.Request) -> web.StreamResponse:
    """Step 1: keep the file on the server and go to its mapping page; a file that cannot be read at all (not CSV
    or XLSX, empty, no header...) is refused at once."""
    pool = await pool_of(request)
    session = signed_in(request)
    tr = translator(request)
    store = request.app[UPLOADS]
    field = (await request.post()).get("file")

    async def refuse(message: str) -> web.Response:
        return await render_pool_page(request, form=PoolForm.of(pool), pool=pool, upload_error=message, status=422)

    if not isinstance(field, web.FileField) or not field.filename:
        return await refuse(tr("pools.upload_missing"))
    content = await asyncio.to_thread(field.file.read, store.max_bytes + 1)
    filename = clean_filename(field.filename)
    try:
        await asyncio.to_thread(preview, filename, content, 0)
        token = await asyncio.to_thread(store.put, session.user.id, pool.id, filename, content)
    except UploadTooLargeError as exc:
        return await refuse(tr("pools.upload_too_large", mb=exc.limit // 2**20))
    except FileFormatError as exc:
        return await refuse(file_error_text(tr, exc))
    raise web.HTTPSeeOther(f"/pools/{pool.id}/import/{token}")


#: Report lines shown on the page; the CSV download of the report has them all.
REPORT_PAGE_ROWS = 2000
_MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


async def _staged(request: web.Request, pool: Pool) -> StagedFile:
    """The file of the URL's token, uploaded by this user for this pool; else back to the pool with a notice."""
    session = signed_in(request)
    token = request.match_info["token"]
    staged = await asyncio.to_thread(request.app[UPLOADS].get, token, session.user.id, pool.id)
    if staged is None:
        raise web.HTTPSeeOther(f"/pools/{pool.id}?expired=1")
    return staged


async def _mapping_page(
    request: web.Request,
    pool: Pool,
    staged: StagedFile,
    chosen: Mapping[int, tuple[str, str]] | None = None,
    *,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    tr = translator(request)
    try:
        look: Preview = await asyncio.to_thread(preview, staged.filename, staged.content)
    except FileFormatError as exc:  # it was read at upload: only a changed reader would get here
        await asyncio.to_thread(request.app[UPLOADS].discard, staged.token)
        return await render_pool_page(
            request, form=PoolForm.of(pool), pool=pool, upload_error=file_error_text(tr, exc), status=422
        )
    if chosen is None:
        chosen = guess([c.name for c in look.columns])
    return render(
        request,
        "pools_mapping.html",
        {
            "pool": pool,
            "staged": staged,
            "look": look,
            "chosen": chosen,
            "choices": CHOICES,
            "custom_choice": CUSTOM_CHOICE,
            "encoding": encoding_text(tr, look.encoding),
            "delimiter": delimiter_text(tr, look.delimiter),
            "size_kb": max(1, round(len(staged.content) / 1024)),
            "error": error,
            "action": f"/pools/{pool.id}/import/{staged.token}",
        },
        status=status,
    )


@requires("pools.manage")
async def mapping_form(request: web.Request) -> web.StreamResponse:
    pool = await pool_of(request)
    return await _mapping_page(request, pool, await _staged(request, pool))


@requires("pools.manage")
async def run_import(request: web.Request) -> web.StreamResponse:
    """Step 2: import the kept file with the chosen mapping, then show its report; a mapping that does not fit
    (no phone column, a target twice...) brings the mapping page back with what was chosen."""
    pool = await pool_of(request)
    session = signed_in(request)
    store = request.app[UPLOADS]
    tr = translator(request)
    post = await request.post()
    # Taken for this request alone: a second click while it runs finds it gone (and lands on the pool's page).
    staged = await asyncio.to_thread(store.claim, request.match_info["token"], session.user.id, pool.id)
    if staged is None:
        raise web.HTTPSeeOther(f"/pools/{pool.id}?expired=1")
    chosen: dict[int, tuple[str, str]] | None = None
    try:
        look = await asyncio.to_thread(preview, staged.filename, staged.content, 0)
        header = [c.name for c in look.columns]
        chosen = {i: (form_text(post, f"col{i}"), form_text(post, f"key{i}").strip()) for i in range(len(header))}
        if any(choice not in CHOICES for choice, _ in chosen.values()):
            raise FileFormatError("mapping.unknown_target")
        report = await request.app[POOLS].import_file(
            actor_of(request),
            pool.id,
            filename=staged.filename,
            content=staged.content,
            mapping=mapping_of(header, chosen),
            blocked=blocked_at_import,  # numbers on the do-not-call list are refused as "blacklisted"
        )
    except FileFormatError as exc:  # MappingError too: the mapping page again, with what was chosen
        await asyncio.to_thread(store.release, staged.token)
        return await _mapping_page(request, pool, staged, chosen, error=file_error_text(tr, exc), status=422)
    except NotFoundError:
        await asyncio.to_thread(store.release, staged.token)
        raise web.HTTPNotFound() from None
    except BaseException:
        store.release(staged.token)  # one rename, not awaited: this may be a cancellation
        raise
    await asyncio.to_thread(store.discard, staged.token)
    raise web.HTTPSeeOther(f"/pools/{pool.id}/imports/{report.summary.id}")


@requires("pools.manage")
async def cancel_import(request: web.Request) -> web.StreamResponse:
    pool = await pool_of(request)
    staged = await _staged(request, pool)
    await asyncio.to_thread(request.app[UPLOADS].discard, staged.token)
    raise web.HTTPSeeOther(f"/pools/{pool.id}")


@dataclasses.dataclass(frozen=True)
class _Line:
    line_no: int
    reason: str
    raw: tuple[str, ...]


async def _report_lines(
    request: web.Request, summary: ImportSummary, limit: int | None = None
) -> tuple[list[_Line], list[_Line], bool]:
    """The refused lines and the stored lines the duplicate rule acted on, each with its reason in words (at most
    ``limit`` of each), and whether some were left out."""
    tr = translator(request)
    service = request.app[POOLS]
    issues: list[Issue] = await service.import_issues(summary.id)
    names = {p.id: p.name for p in await service.list_pools()}
    rejected: list[_Line] = []
    noted: list[_Line] = []
    cut = False
    for issue in issues:
        lines = rejected if issue.outcome == "rejected" else noted
        if limit is not None and len(lines) >= limit:
            cut = True
            continue
        lines.append(_Line(issue.line_no, issue_text(tr, issue, names), issue.raw))
    return rejected, noted, cut


@requires("pools.view")
async def report_page(request: web.Request) -> web.StreamResponse:
    pool = await pool_of(request)
    summary = await import_of(request, pool)
    tr = translator(request)
    rejected, noted, cut = await _report_lines(request, summary, REPORT_PAGE_ROWS)
    async with request.app[DB].acquire() as conn:
        names = await load_names(conn)
    return render(
        request,
        "pools_report.html",
        {
            "pool": pool,
            "summary": summary,
            "when": local_time(summary.uploaded_at, request.app[SETTINGS].web.zone),
            "by": names.user(summary.uploaded_by) if summary.uploaded_by is not None else tr("audit.system"),
            "mapping": [
                (column, target_text(tr, target))
                for column, target in sorted(summary.mapping.items(), key=lambda item: _target_order(item[1]))
            ],
            "encoding": encoding_text(tr, summary.encoding),
            "delimiter": delimiter_text(tr, summary.delimiter),
            "rejected": rejected,
            "noted": noted,
            "cut": cut,
            "limit": REPORT_PAGE_ROWS,
            "can_manage": signed_in(request).can("pools.manage"),
        },
    )


def _target_order(target: str) -> tuple[int, str]:
    return (FIELDS.index(target), "") if target in FIELDS else (len(FIELDS), target)


@requires("pools.view")
async def report_csv(request: web.Request) -> web.StreamResponse:
    """The whole report as a CSV Excel opens (UTF-8 with BOM, ``;``): line, outcome, reason, then the row's cells."""
    pool = await pool_of(request)
    summary = await import_of(request, pool)
    tr = translator(request)
    rejected, noted, _ = await _report_lines(request, summary)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([tr("pools.line"), tr("pools.outcome"), tr("pools.reason_title"), tr("pools.row")])
    for outcome, lines in ((tr("pools.outcome_rejected"), rejected), (tr("pools.outcome_stored"), noted)):
        for line in lines:
            writer.writerow([line.line_no, outcome, line.reason, *line.raw])
    body = "\ufeff" + out.getvalue()
    stem = summary.filename.rsplit(".", 1)[0]
    return web.Response(
        body=body.encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": attachment(f"{stem}-rapor.csv"), "Cache-Control": "no-store"},
    )


@requires("pools.view")
async def download(request: web.Request) -> web.StreamResponse:
    """The uploaded file exactly as it was uploaded, under its own name (seed 001 "Data kayıtlarına erişim")."""
    pool = await pool_of(request)
    summary = await import_of(request, pool)
    try:
        stored = await request.app[POOLS].uploaded_file(summary.id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    return web.Response(
        body=stored.content,
        content_type=_MIME.get(summary.file_format, "application/octet-stream"),
        headers={"Content-Disposition": attachment(stored.filename), "Cache-Control": "no-store"},
    )
