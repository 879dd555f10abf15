"""The pools with their record counts, a new pool, and a pool's page: its settings, its imports and its files."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from agent_console.admin.audit import load_names, local_time
from agent_console.admin.users import form_feedback, form_text, signed_in
from agent_console.forms import error_text, whole_number
from agent_console.i18n import Translator
from agent_console.keys import DB, SETTINGS
from agent_console.pools.common import POOLS, UPLOADS, pool_of
from agent_console.web import actor_of, render, requires, translator
from crm_core.users.service import InvalidInputError, NotFoundError
from dialer.pools.model import DuplicateRule, Pool, RecordStatus
from dialer.pools.repository import RecordRepository
from dialer.pools.service import PoolChanges

_POOL_FIELDS = frozenset(("name", "description", "dial_priority", "duplicate_rule"))


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
    priority = whole_number(form.dial_priority)
    if priority is None:
        errors["dial_priority"] = tr("pools.errors.integer")
    rule = next((r for r in DuplicateRule if r.value == form.duplicate_rule), None)
    if rule is None:
        errors["duplicate_rule"] = tr("error.bad_choice")
    if errors or priority is None or rule is None:
        return None, errors
    return _CheckedPool(priority, rule), {}


def status_counts(counts: Mapping[RecordStatus, int]) -> dict[str, int]:
    out = {status.value: counts.get(status, 0) for status in RecordStatus}
    out["total"] = sum(counts.values())
    return out


@requires("pools.view")
async def list_pools(request: web.Request) -> web.StreamResponse:
    session = signed_in(request)
    pools = await request.app[POOLS].list_pools()
    async with request.app[DB].acquire() as conn:
        records = RecordRepository(conn)
        counts = {pool.id: status_counts(await records.status_counts(pool.id)) for pool in pools}
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


async def render_pool_page(
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
            counts = status_counts(await RecordRepository(conn).status_counts(pool.id))
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
    return await render_pool_page(request, form=PoolForm(), pool=None)


@requires("pools.manage")
async def create_pool(request: web.Request) -> web.StreamResponse:
    form = PoolForm.posted(await request.post())
    tr = translator(request)
    checked, errors = _check_pool(form, tr)
    if checked is None:
        return await render_pool_page(request, form=form, pool=None, errors=errors, status=422)
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
        errors = {exc.field: error_text(tr, exc.code, "pools")}
        return await render_pool_page(request, form=form, pool=None, errors=errors, status=422)
    raise web.HTTPSeeOther(f"/pools/{pool.id}?saved=1")


@requires("pools.view")
async def pool_page(request: web.Request) -> web.StreamResponse:
    pool = await pool_of(request)
    return await render_pool_page(request, form=PoolForm.of(pool), pool=pool)


@requires("pools.manage")
async def update_pool(request: web.Request) -> web.StreamResponse:
    pool = await pool_of(request)
    form = PoolForm.posted(await request.post())
    tr = translator(request)
    checked, errors = _check_pool(form, tr)
    if checked is None:
        return await render_pool_page(request, form=form, pool=pool, errors=errors, status=422)
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
        errors = {exc.field: error_text(tr, exc.code, "pools")}
        return await render_pool_page(request, form=form, pool=pool, errors=errors, status=422)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/pools/{pool.id}?saved=1")
