"""The audit log page, and the readable form of audit entries that the user and team pages show as their history."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from urllib.parse import urlencode

from aiohttp import web

from agent_console.forms import MAX_ID
from agent_console.i18n import Translator
from agent_console.keys import DB, SETTINGS
from agent_console.web import render, requires, translator
from callcenter.db.database import Connection
from crm_core.audit.repository import AuditEntry, AuditRepository
from crm_core.users.model import PERMISSIONS
from crm_core.users.repository import TeamRepository, UserRepository

PAGE_SIZE = 100

#: Entity filter choices of the audit page, and the catalogue key of each.
ENTITIES = (("user", "audit.entity_user"), ("team", "audit.entity_team"), ("request", "audit.entity_request"))
#: Action-prefix filter choices.
ACTION_GROUPS = (
    ("user.", "audit.group_user"),
    ("team.", "audit.group_team"),
    ("login.", "audit.group_login"),
    ("logout", "audit.group_logout"),
    ("csrf.", "audit.group_csrf"),
)

_FIELD_LABELS = {
    "username": "users.username",
    "full_name": "users.full_name",
    "role": "users.role",
    "team_id": "users.team",
    "login_rule": "users.login_rule",
    "allowed_networks": "users.networks",
    "language": "users.language",
    "active": "users.active",
    "password": "users.password",
    "extension": "users.extension",
    "name": "teams.name",
    "leader_id": "teams.leader",
    "reason": "audit.reason",
    "method": "audit.method",
}
_ACTOR_NAMES = {"system": "audit.system", "anonymous": "audit.anonymous"}


@dataclasses.dataclass(frozen=True)
class Change:
    """One changed field: ``label: old → new``; ``old`` is None for a value that has no "before"."""

    label: str
    old: str | None
    new: str


@dataclasses.dataclass(frozen=True)
class Row:
    id: int
    at: datetime
    when: str
    actor: str
    actor_href: str | None
    ip: str
    action: str
    record: str
    record_href: str | None
    changes: list[Change]


@dataclasses.dataclass(frozen=True)
class Names:
    """Today's names of the users and teams that audit entries refer to by id."""

    users: Mapping[int, str]
    teams: Mapping[int, str]

    def user(self, user_id: object) -> str:
        return self.users.get(user_id, f"#{user_id}") if isinstance(user_id, int) else str(user_id)

    def team(self, team_id: object) -> str:
        return self.teams.get(team_id, f"#{team_id}") if isinstance(team_id, int) else str(team_id)


async def load_names(conn: Connection) -> Names:
    users = await UserRepository(conn).list()
    teams = await TeamRepository(conn).list()
    return Names({u.id: u.full_name for u in users}, {t.id: t.name for t in teams})


def local_time(at: datetime, zone: tzinfo) -> str:
    """A readable time in the call center's time zone (setting ``web.timezone``)."""
    return at.astimezone(zone).strftime("%d.%m.%Y %H:%M:%S")


def describe(tr: Translator, names: Names, entries: Sequence[AuditEntry], zone: tzinfo) -> list[Row]:
    return [_row(tr, names, entry, zone) for entry in entries]


def _known(tr: Translator, key: str, fallback: str) -> str:
    return tr(key) if tr.catalogue.languages_of(key) else fallback


def _row(tr: Translator, names: Names, entry: AuditEntry, zone: tzinfo) -> Row:
    actor_name = entry.actor_name or ""
    if entry.actor_id is not None:
        actor = names.users.get(entry.actor_id, actor_name)
        if actor_name and actor != actor_name:
            actor = f"{actor} ({actor_name})"
    else:
        actor = _known(tr, _ACTOR_NAMES.get(actor_name, ""), actor_name or tr("app.none"))
    record, record_href = _record(tr, names, entry)
    return Row(
        id=entry.id,
        at=entry.at,
        when=local_time(entry.at, zone),
        actor=actor,
        actor_href=f"/admin/users/{entry.actor_id}" if entry.actor_id is not None else None,
        ip=str(entry.ip) if entry.ip is not None else tr("app.none"),
        action=_known(tr, f"audit.actions.{entry.action}", entry.action),
        record=record,
        record_href=record_href,
        changes=_changes(tr, names, entry),
    )


def _record(tr: Translator, names: Names, entry: AuditEntry) -> tuple[str, str | None]:
    kind = _known(tr, f"audit.entity_{entry.entity}", entry.entity)
    ident = entry.entity_id
    if ident is None:
        return kind, None
    if entry.entity in ("user", "team") and ident.isdigit():
        number = int(ident)
        name = names.user(number) if entry.entity == "user" else names.team(number)
        return f"{kind}: {name}", f"/admin/{entry.entity}s/{number}"
    return f"{kind}: {ident}", None


def _changes(tr: Translator, names: Names, entry: AuditEntry) -> list[Change]:
    created = entry.action.endswith(".created")
    out: list[Change] = []
    for field, value in sorted(entry.changes.items(), key=_field_order):
        label = _label(tr, field)
        if isinstance(value, list) and len(value) == 2:
            old, new = value
            if field == "password":
                if not created:
                    out.append(Change(label, None, tr("audit.password_changed")))
            elif created:
                if new not in (None, "", []):
                    out.append(Change(label, None, _value(tr, names, field, new)))
            else:
                out.append(Change(label, _value(tr, names, field, old), _value(tr, names, field, new)))
        else:
            out.append(Change(label, None, _value(tr, names, field, value)))
    return out


_ORDER = {field: index for index, field in enumerate(_FIELD_LABELS)}


def _field_order(item: tuple[str, object]) -> tuple[int, str]:
    """Fields in the order the forms show them (the database keeps them in its own order)."""
    return _ORDER.get(item[0], len(_ORDER)), item[0]


def _label(tr: Translator, field: str) -> str:
    if field in PERMISSIONS:
        return tr(f"perm.{field}")
    key = _FIELD_LABELS.get(field)
    return tr(key) if key else field


def _value(tr: Translator, names: Names, field: str, value: object) -> str:
    if value is None or value == "" or value == []:
        return tr("users.perm_default") if field in PERMISSIONS else tr("app.none")
    if field == "role":
        return _known(tr, f"role.{value}", str(value))
    if field == "team_id":
        return names.team(value)
    if field == "leader_id":
        return names.user(value)
    if field == "login_rule":
        return _known(tr, f"audit.rule_{value}", str(value))
    if field == "language":
        return _known(tr, f"users.lang_{value}", str(value))
    if field == "reason":
        return _known(tr, f"audit.reason_{value}", str(value))
    if field in PERMISSIONS:
        return _known(tr, f"audit.{value}", str(value))
    if isinstance(value, bool):
        return tr("app.yes") if value else tr("app.no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _query_text(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip()
    return value[:64] or None


def _query_id(request: web.Request, name: str) -> int | None:
    value = request.query.get(name, "")
    if not value.isdigit() or int(value) > MAX_ID:
        return None
    return int(value)


def _audit_url(query: Mapping[str, str]) -> str:
    return "/admin/audit?" + urlencode(query) if query else "/admin/audit"


@requires("audit.view")
async def audit_page(request: web.Request) -> web.StreamResponse:
    entity = _query_text(request, "entity")
    action = _query_text(request, "action")
    before = _query_id(request, "before")
    async with request.app[DB].acquire() as conn:
        entries = await AuditRepository(conn).search(
            entity=entity, action_prefix=action, before_id=before, limit=PAGE_SIZE + 1
        )
        names = await load_names(conn)
    older = None
    if len(entries) > PAGE_SIZE:
        entries = entries[:PAGE_SIZE]
        query = {"entity": entity, "action": action, "before": str(entries[-1].id)}
        older = _audit_url({k: v for k, v in query.items() if v})
    filtered = {k: v for k, v in (("entity", entity), ("action", action)) if v}
    return render(
        request,
        "admin_audit.html",
        {
            "rows": describe(translator(request), names, entries, request.app[SETTINGS].web.zone),
            "entity": entity or "",
            "action": action or "",
            "entities": ENTITIES,
            "action_groups": ACTION_GROUPS,
            "older": older,
            "newest": _audit_url(filtered) if before is not None else None,
        },
    )


def routes() -> list[web.RouteDef]:
    return [web.get("/admin/audit", audit_page)]
