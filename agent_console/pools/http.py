"""Data pool pages (seed 001 "Data havuzu", "Data kayıtlarına erişim"): the pools with their record counts, a pool's
settings, importing a CSV or XLSX file in two steps (upload, then map its columns) with the import's report, the
history of uploaded files with their download, and distributing a pool's unassigned records to agents or teams.

Viewing needs ``pools.view`` (team leaders have it); every change needs ``pools.manage``."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import re
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web
from multidict import MultiDictProxy

from agent_console.admin.audit import Names, load_names, local_time
from agent_console.admin.users import form_feedback, form_text, signed_in
from agent_console.i18n import Translator
from agent_console.keys import BUS, DB, SETTINGS
from agent_console.pools.columns import CHOICES, CUSTOM_CHOICE, Preview, guess, mapping_of, preview
from agent_console.pools.reasons import file_error_text, issue_text, target_text
from agent_console.pools.uploads import StagedFile, UploadStore, UploadTooLargeError, default_directory
from agent_console.web import actor_of, render, requires, translator
from crm_core.audit.repository import AuditEntry, AuditRepository
from crm_core.customers.places import REGIONS
from crm_core.users.model import Role
from crm_core.users.repository import TeamRepository, UserRepository
from crm_core.users.service import InvalidInputError, NotFoundError
from dialer.blacklist.service import blocked_at_import
from dialer.pools.files import FileFormatError
from dialer.pools.imports import ImportSummary
from dialer.pools.mapping import CUSTOM, FIELDS, Issue
from dialer.pools.model import Criteria, DuplicateRule, Pool, RecordStatus
from dialer.pools.repository import PoolRepository, RecordRepository
from dialer.pools.service import PoolChanges, PoolService

POOLS = web.AppKey("pool_service", PoolService)
UPLOADS = web.AppKey("pool_uploads", UploadStore)

MAX_ID = 2**63 - 1
_INT4 = 2**31 - 1
#: Report lines shown on the page; the CSV download of the report has them all.
REPORT_PAGE_ROWS = 2000
_DISTRIBUTION_HISTORY = 20
_POOL_FIELDS = frozenset(("name", "description", "dial_priority", "duplicate_rule"))
_DISTRIBUTE_FIELDS = frozenset(
    (
        "kind", "agents", "teams", "members_of", "cities", "regions", "custom_value", "priority_min", "priority_max",
        "limit",
    )
)  # fmt: skip
_ENCODINGS = {
    "utf-8": "pools.encoding_utf8",
    "utf-8-sig": "pools.encoding_utf8_bom",
    "utf-16": "pools.encoding_utf16",
    "windows-1254": "pools.encoding_cp1254",
}
_DELIMITERS = {";": "pools.delimiter_semicolon", ",": "pools.delimiter_comma", "\t": "pools.delimiter_tab"}
_MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_TARGET_KINDS = ("agents", "members", "teams")


def setup(app: web.Application) -> None:
    """The pool pages' service, upload store and routes (after the database and the bus are in ``app``)."""
    app[POOLS] = PoolService(app[DB], app[BUS])
    app[UPLOADS] = UploadStore(default_directory())
    app.router.add_routes(routes())


# --- helpers ------------------------------------------------------------------------------------------------------


def _id(request: web.Request, name: str) -> int:
    """A ``{name}`` of the URL (digits only by its route); one too large for the database is simply not found."""
    value = int(request.match_info[name])
    if value > MAX_ID:
        raise web.HTTPNotFound()
    return value


async def _pool(request: web.Request) -> Pool:
    async with request.app[DB].acquire() as conn:
        pool = await PoolRepository(conn).get(_id(request, "id"))
    if pool is None:
        raise web.HTTPNotFound()
    return pool


async def _import(request: web.Request, pool: Pool) -> ImportSummary:
    import_id = _id(request, "import_id")
    for summary in await request.app[POOLS].imports(pool.id):
        if summary.id == import_id:
            return summary
    raise web.HTTPNotFound()


def _error_text(tr: Translator, code: str) -> str:
    """A service error code (``error.pool_taken``) in words: the pool pages' own text, else the shared one."""
    name = code.removeprefix("error.")
    own = f"pools.errors.{name}"
    return tr(own) if tr.catalogue.languages_of(own) else tr(f"error.{name}")


def _int(value: str, *, minimum: int = -_INT4) -> int | None:
    """A whole number typed into a form (``-3``, `` 12 ``), or None when it is not one or out of range."""
    value = value.strip()
    if not re.fullmatch(r"[-+]?\d{1,10}", value):
        return None
    number = int(value)
    return number if minimum <= number <= _INT4 else None


def _ids(values: Sequence[object]) -> list[int] | None:
    out: list[int] = []
    for value in values:
        if not isinstance(value, str) or not value.isdigit() or int(value) > MAX_ID:
            return None
        out.append(int(value))
    return out


def _filename(name: str) -> str:
    """The name of an uploaded file without any folder a browser sent along, control characters or excess length.
    Percent escapes are undone: browsers send ``"`` as ``%22`` (HTML's form encoding), some clients escape all."""
    name = re.split(r"[\\/]", unquote(name))[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[-200:] or "dosya"


def _attachment(filename: str) -> str:
    """A Content-Disposition header that keeps a Turkish file name (RFC 6266 / 5987) with an ASCII fallback."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _encoding_text(tr: Translator, encoding: str | None) -> str:
    key = _ENCODINGS.get(encoding or "")
    return tr(key) if key else (encoding or tr("app.none"))


def _delimiter_text(tr: Translator, delimiter: str | None) -> str:
    key = _DELIMITERS.get(delimiter or "")
    return tr(key) if key else (delimiter or tr("app.none"))


# --- pools: list, new, settings -----------------------------------------------------------------------------------


@dataclasses.dataclass
class PoolForm:
    name: str = ""
    description: str = ""
    active: bool = True
    dial_priority: str = "0"
    duplicate_rule: str = DuplicateRule.SKIP.value

    @classmethod
    def of(cls, pool: Pool) -> PoolForm:
        return cls(pool.name, pool.description, pool.active, str(pool.dial_priority), pool.duplicate_rule.value)

    @classmethod
    def posted(cls, post: MultiDictProxy[Any]) -> PoolForm:
        return cls(
            name=form_text(post, "name"),
            description=form_text(post, "description"),
            active="active" in post,
            dial_priority=form_text(post, "dial_priority"),
            duplicate_rule=form_text(post, "duplicate_rule"),
        )


@dataclasses.dataclass(frozen=True)
class _CheckedPool:
    dial_priority: int
    duplicate_rule: DuplicateRule


def _check_pool(form: PoolForm, tr: Translator) -> tuple[_CheckedPool | None, dict[str, str]]:
    errors: dict[str, str] = {}
    if not form.name.strip():
        errors["name"] = tr("error.required")
    priority = _int(form.dial_priority)
    if priority is None:
        errors["dial_priority"] = tr("pools.errors.integer")
    rule = next((r for r in DuplicateRule if r.value == form.duplicate_rule), None)
    if rule is None:
        errors["duplicate_rule"] = tr("error.bad_choice")
    if errors or priority is None or rule is None:
        return None, errors
    return _CheckedPool(priority, rule), {}


def _status_counts(counts: Mapping[RecordStatus, int]) -> dict[str, int]:
    out = {status.value: counts.get(status, 0) for status in RecordStatus}
    out["total"] = sum(counts.values())
    return out


@requires("pools.view")
async def list_pools(request: web.Request) -> web.StreamResponse:
    session = signed_in(request)
    pools = await request.app[POOLS].list_pools()
    async with request.app[DB].acquire() as conn:
        records = RecordRepository(conn)
        counts = {pool.id: _status_counts(await records.status_counts(pool.id)) for pool in pools}
    return render(
        request,
        "pools.html",
        {
            "pools": pools,
            "counts": counts,
            "statuses": [s.value for s in RecordStatus],
            "can_manage": session.can("pools.manage"),
        },
    )


async def _pool_page(
    request: web.Request,
    *,
    form: PoolForm,
    pool: Pool | None,
    errors: Mapping[str, str] | None = None,
    upload_error: str | None = None,
    status: int = 200,
) -> web.Response:
    session = signed_in(request)
    tr = translator(request)
    zone = request.app[SETTINGS].web.zone
    history: list[dict[str, Any]] = []
    counts = None
    if pool is not None:
        imports = await request.app[POOLS].imports(pool.id)
        async with request.app[DB].acquire() as conn:
            counts = _status_counts(await RecordRepository(conn).status_counts(pool.id))
            names = await load_names(conn)
        history = [
            {
                "summary": s,
                "when": local_time(s.uploaded_at, zone),
                "by": names.user(s.uploaded_by) if s.uploaded_by is not None else tr("audit.system"),
            }
            for s in imports
        ]
    return render(
        request,
        "pools_pool.html",
        {
            "pool": pool,
            "form": form,
            "editable": session.can("pools.manage"),
            "action": "/pools/new" if pool is None else f"/pools/{pool.id}",
            "rules": [r.value for r in DuplicateRule],
            "counts": counts,
            "statuses": [s.value for s in RecordStatus],
            "history": history,
            "upload_error": upload_error,
            "expired": request.query.get("expired") == "1",
            "max_mb": request.app[UPLOADS].max_bytes // 2**20,
            **form_feedback(request, errors, _POOL_FIELDS),
        },
        status=status,
    )


@requires("pools.manage")
async def new_pool_form(request: web.Request) -> web.StreamResponse:
    return await _pool_page(request, form=PoolForm(), pool=None)


@requires("pools.manage")
async def create_pool(request: web.Request) -> web.StreamResponse:
    form = PoolForm.posted(await request.post())
    tr = translator(request)
    checked, errors = _check_pool(form, tr)
    if checked is None:
        return await _pool_page(request, form=form, pool=None, errors=errors, status=422)
    try:
        pool = await request.app[POOLS].create_pool(
            actor_of(request),
            form.name,
            description=form.description,
            active=form.active,
            dial_priority=checked.dial_priority,
            duplicate_rule=checked.duplicate_rule,
        )
    except InvalidInputError as exc:
        errors = {exc.field: _error_text(tr, exc.code)}
        return await _pool_page(request, form=form, pool=None, errors=errors, status=422)
    raise web.HTTPSeeOther(f"/pools/{pool.id}?saved=1")


@requires("pools.view")
async def pool_page(request: web.Request) -> web.StreamResponse:
    pool = await _pool(request)
    return await _pool_page(request, form=PoolForm.of(pool), pool=pool)


@requires("pools.manage")
async def update_pool(request: web.Request) -> web.StreamResponse:
    pool = await _pool(request)
    form = PoolForm.posted(await request.post())
    tr = translator(request)
    checked, errors = _check_pool(form, tr)
    if checked is None:
        return await _pool_page(request, form=form, pool=pool, errors=errors, status=422)
    change = PoolChanges(
        name=form.name,
        description=form.description,
        active=form.active,
        dial_priority=checked.dial_priority,
        duplicate_rule=checked.duplicate_rule,
    )
    try:
        await request.app[POOLS].update_pool(actor_of(request), pool.id, change)
    except InvalidInputError as exc:
        errors = {exc.field: _error_text(tr, exc.code)}
        return await _pool_page(request, form=form, pool=pool, errors=errors, status=422)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/pools/{pool.id}?saved=1")


# --- import: upload, map, report ----------------------------------------------------------------------------------


@requires("pools.manage")
async def upload(request: web.Request) -> web.StreamResponse:
    """Step 1: keep the file on the server and go to its mapping page; a file that cannot be read at all (not CSV
    or XLSX, empty, no header...) is refused at once."""
    pool = await _pool(request)
    session = signed_in(request)
    tr = translator(request)
    store = request.app[UPLOADS]
    field = (await request.post()).get("file")

    async def refuse(message: str) -> web.Response:
        return await _pool_page(request, form=PoolForm.of(pool), pool=pool, upload_error=message, status=422)

    if not isinstance(field, web.FileField) or not field.filename:
        return await refuse(tr("pools.upload_missing"))
    content = await asyncio.to_thread(field.file.read, store.max_bytes + 1)
    filename = _filename(field.filename)
    try:
        await asyncio.to_thread(preview, filename, content, 0)
        token = await asyncio.to_thread(store.put, session.user.id, pool.id, filename, content)
    except UploadTooLargeError as exc:
        return await refuse(tr("pools.upload_too_large", mb=exc.limit // 2**20))
    except FileFormatError as exc:
        return await refuse(file_error_text(tr, exc))
    raise web.HTTPSeeOther(f"/pools/{pool.id}/import/{token}")


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
        return await _pool_page(
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
            "encoding": _encoding_text(tr, look.encoding),
            "delimiter": _delimiter_text(tr, look.delimiter),
            "size_kb": max(1, round(len(staged.content) / 1024)),
            "error": error,
            "action": f"/pools/{pool.id}/import/{staged.token}",
        },
        status=status,
    )


@requires("pools.manage")
async def mapping_form(request: web.Request) -> web.StreamResponse:
    pool = await _pool(request)
    return await _mapping_page(request, pool, await _staged(request, pool))


@requires("pools.manage")
async def run_import(request: web.Request) -> web.StreamResponse:
    """Step 2: import the kept file with the chosen mapping, then show its report; a mapping that does not fit
    (no phone column, a target twice...) brings the mapping page back with what was chosen."""
    pool = await _pool(request)
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
    pool = await _pool(request)
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
    pool = await _pool(request)
    summary = await _import(request, pool)
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
            "encoding": _encoding_text(tr, summary.encoding),
            "delimiter": _delimiter_text(tr, summary.delimiter),
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
    pool = await _pool(request)
    summary = await _import(request, pool)
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
        headers={"Content-Disposition": _attachment(f"{stem}-rapor.csv"), "Cache-Control": "no-store"},
    )


@requires("pools.view")
async def download(request: web.Request) -> web.StreamResponse:
    """The uploaded file exactly as it was uploaded, under its own name (seed 001 "Data kayıtlarına erişim")."""
    pool = await _pool(request)
    summary = await _import(request, pool)
    try:
        stored = await request.app[POOLS].uploaded_file(summary.id)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    return web.Response(
        body=stored.content,
        content_type=_MIME.get(summary.file_format, "application/octet-stream"),
        headers={"Content-Disposition": _attachment(stored.filename), "Cache-Control": "no-store"},
    )


# --- distribution -------------------------------------------------------------------------------------------------


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
        chosen = _ids(form.agents)
    elif form.kind == "teams":
        chosen = _ids(form.teams)
    elif form.kind == "members":
        chosen = _ids([form.members_of]) if form.members_of else []
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
    for name, minimum in (("priority_min", -_INT4), ("priority_max", -_INT4), ("limit", 1)):
        text = getattr(form, name)
        bounds[name] = _int(text, minimum=minimum) if text.strip() else None
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
        counts = _status_counts(await RecordRepository(conn).status_counts(pool.id))
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
    pool = await _pool(request)
    return await _distribute_page(request, pool, DistributeForm())


@requires("pools.manage")
async def distribute(request: web.Request) -> web.StreamResponse:
    pool = await _pool(request)
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
        return await _distribute_page(request, pool, form, errors={field: _error_text(tr, exc.code)}, status=422)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    async with request.app[DB].acquire() as conn:
        done = await AuditRepository(conn).search(
            entity="pool", entity_id=pool.id, action_prefix="pool.distributed", actor_id=actor.id, limit=1
        )
    raise web.HTTPSeeOther(f"/pools/{pool.id}/distribute" + (f"?done={done[0].id}" if done else ""))


def routes() -> list[web.RouteDef]:
    pool = r"/pools/{id:\d+}"
    one_import = pool + r"/imports/{import_id:\d+}"
    staged = pool + r"/import/{token:[A-Za-z0-9_-]+}"
    return [
        web.get("/pools", list_pools),
        web.get("/pools/new", new_pool_form),
        web.post("/pools/new", create_pool),
        web.get(pool, pool_page),
        web.post(pool, update_pool),
        web.post(pool + "/upload", upload),
        web.get(staged, mapping_form),
        web.post(staged, run_import),
        web.post(staged + "/cancel", cancel_import),
        web.get(one_import, report_page),
        web.get(one_import + "/report.csv", report_csv),
        web.get(one_import + "/file", download),
        web.get(pool + "/distribute", distribute_form),
        web.post(pool + "/distribute", distribute),
    ]
