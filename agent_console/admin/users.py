"""Users: the list, the new-user and edit-user form (sign-in rule, permission matrix) and each user's history.

Seed 001 "Kullanıcı giriş protokolleri" (free or IP-bound sign-in per user) and "Esnek yetkilendirme" (per-user
grants and denials on top of the role's defaults)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiDictProxy

from agent_console.admin.audit import describe, load_names
from agent_console.auth.sessions import Session
from agent_console.forms import MAX_ID
from agent_console.i18n import LANGUAGES, Translator
from agent_console.keys import DB, SETTINGS, USERS
from agent_console.web import actor_of, render, requires, session_of, translator
from crm_core.audit.repository import AuditRepository
from crm_core.users.model import PERMISSIONS, IPNetwork, LoginRule, Role, Team, User, parse_networks
from crm_core.users.repository import TeamRepository, UserRepository
from crm_core.users.service import InvalidInputError, NotFoundError, UserChanges

E = TypeVar("E", bound=StrEnum)

_PERMISSION_CHOICES = ("default", "grant", "deny")
#: Fields the form shows an error next to; an error on any other field goes to the alert at the top.
_FORM_FIELDS = frozenset(
    (
        "username",
        "full_name",
        "role",
        "team_id",
        "password",
        "language",
        "login_rule",
        "allowed_networks",
        "permissions",
        "extension",
    )
)


@dataclasses.dataclass
class UserForm:
    """What the form shows: a user's current values, or what was typed in (kept when the form comes back)."""

    username: str = ""
    full_name: str = ""
    role: str = Role.AGENT.value
    team_id: str = ""
    language: str = "tr"
    active: bool = True
    login_rule: str = LoginRule.ANY.value
    networks: str = ""
    permissions: dict[str, str] = dataclasses.field(default_factory=dict)
    extension: str = ""

    @classmethod
    def of(cls, user: User, overrides: Mapping[str, bool]) -> UserForm:
        return cls(
            username=user.username,
            full_name=user.full_name,
            role=user.role.value,
            team_id="" if user.team_id is None else str(user.team_id),
            language=user.language,
            active=user.active,
            login_rule=user.login_rule.value,
            networks="\n".join(str(n) for n in user.allowed_networks),
            permissions={code: "grant" if granted else "deny" for code, granted in overrides.items()},
            extension=user.extension or "",
        )

    @classmethod
    def posted(cls, post: MultiDictProxy[Any], *, username: str | None = None) -> UserForm:
        return cls(
            username=form_text(post, "username").strip() if username is None else username,
            full_name=form_text(post, "full_name"),
            role=form_text(post, "role"),
            team_id=form_text(post, "team_id"),
            language=form_text(post, "language"),
            active="active" in post,
            login_rule=form_text(post, "login_rule"),
            networks=form_text(post, "allowed_networks"),
            permissions={code: form_text(post, f"perm.{code}") or "default" for code in PERMISSIONS},
            extension=form_text(post, "extension").strip(),
        )

    def choice(self, code: str) -> str:
        return self.permissions.get(code, "default")


@dataclasses.dataclass(frozen=True)
class _Checked:
    role: Role
    team_id: int | None
    login_rule: LoginRule
    networks: tuple[IPNetwork, ...]
    overrides: dict[str, bool]


def form_feedback(request: web.Request, errors: Mapping[str, str] | None, fields: frozenset[str]) -> dict[str, Any]:
    """What every admin form shows besides its fields: errors by field, the others in the top alert, "saved"."""
    errors = dict(errors or {})
    return {
        "errors": errors,
        "other_errors": [message for field, message in errors.items() if field not in fields],
        "saved": not errors and request.method == "GET" and request.query.get("saved") == "1",
    }


def form_text(post: MultiDictProxy[Any], name: str) -> str:
    value = post.get(name)
    return value if isinstance(value, str) else ""


def _choice(kind: type[E], value: str) -> E | None:
    try:
        return kind(value)
    except ValueError:
        return None


def optional_id(value: str) -> tuple[int | None, bool]:
    """``""`` -> (None, True); ``"12"`` -> (12, True); anything else -> (None, False)."""
    if not value:
        return None, True
    if value.isdigit() and int(value) <= MAX_ID:
        return int(value), True
    return None, False


def _check(form: UserForm, tr: Translator, *, password: str, creating: bool) -> tuple[_Checked | None, dict[str, str]]:
    """What the service cannot check (choices from the form, the network list) and the empty required fields, all
    at once so that the user sees every mistake in one go."""
    errors: dict[str, str] = {}
    if creating and not form.username:
        errors["username"] = tr("error.required")
    if not form.full_name.strip():
        errors["full_name"] = tr("error.required")
    if creating and not password:
        errors["password"] = tr("error.required")
    role = _choice(Role, form.role)
    if role is None:
        errors["role"] = tr("error.bad_choice")
    team_id, ok = optional_id(form.team_id)
    if not ok:
        errors["team_id"] = tr("error.bad_choice")
    rule = _choice(LoginRule, form.login_rule)
    if rule is None:
        errors["login_rule"] = tr("error.bad_choice")
    networks: tuple[IPNetwork, ...] = ()
    try:
        networks = parse_networks(form.networks)
    except ValueError as exc:
        errors["allowed_networks"] = tr("error.bad_network", value=str(exc))
    if any(choice not in _PERMISSION_CHOICES for choice in form.permissions.values()):
        errors["permissions"] = tr("error.bad_choice")
    if errors or role is None or rule is None:
        return None, errors
    overrides = {code: choice == "grant" for code, choice in form.permissions.items() if choice != "default"}
    return _Checked(role, team_id, rule, networks, overrides), {}


def error_message(tr: Translator, code: str) -> str:
    return tr(code if code.startswith("error.") else f"error.{code}")


def signed_in(request: web.Request) -> Session:
    session = session_of(request)
    assert session is not None  # guarded by requires()
    return session


def visible_teams(session: Session, teams: Sequence[Team]) -> set[int] | None:
    """The teams whose users ``session`` may see, or None for all: a team leader who may not manage users sees only
    the users of the teams he leads."""
    if session.user.role is Role.TEAM_LEADER and not session.can("users.manage"):
        return {t.id for t in teams if t.leader_id == session.user.id}
    return None


def path_id(request: web.Request) -> int:
    """The ``{id}`` of the URL (digits only by its route); one too large for the database is simply not found."""
    value = int(request.match_info["id"])
    if value > MAX_ID:
        raise web.HTTPNotFound()
    return value


async def _load(request: web.Request) -> tuple[User, dict[str, bool]]:
    """The user of the URL and his permission overrides; 404 if unknown, 403 if outside the viewer's teams."""
    session = signed_in(request)
    async with request.app[DB].acquire() as conn:
        repo = UserRepository(conn)
        user = await repo.get(path_id(request))
        if user is None:
            raise web.HTTPNotFound()
        scope = visible_teams(session, await TeamRepository(conn).list())
        overrides = await repo.overrides(user.id)
    if scope is not None and user.team_id not in scope:
        raise web.HTTPForbidden()
    return user, overrides


async def _page(
    request: web.Request,
    *,
    form: UserForm,
    user: User | None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    session = signed_in(request)
    editable = session.can("users.manage")
    role = _choice(Role, form.role) or Role.AGENT
    history = None
    async with request.app[DB].acquire() as conn:
        teams = await TeamRepository(conn).list()
        defaults = await UserRepository(conn).role_defaults(role)
        if user is not None and (editable or session.can("audit.view")):
            entries = await AuditRepository(conn).search(entity="user", entity_id=user.id)
            history = describe(translator(request), await load_names(conn), entries, request.app[SETTINGS].web.zone)
    return render(
        request,
        "admin_user_form.html",
        {
            "form": form,
            "subject": user,
            "editable": editable,
            "action": "/admin/users/new" if user is None else f"/admin/users/{user.id}",
            "teams": teams,
            "roles": list(Role),
            "languages": LANGUAGES,
            "permissions": list(PERMISSIONS),
            "defaults": defaults,
            "defaults_role": role.value,
            "history": history,
            **form_feedback(request, errors, _FORM_FIELDS),
        },
        status=status,
    )


@requires("users.view")
async def list_users(request: web.Request) -> web.StreamResponse:
    session = signed_in(request)
    async with request.app[DB].acquire() as conn:
        users = await UserRepository(conn).list()
        teams = await TeamRepository(conn).list()
    scope = visible_teams(session, teams)
    if scope is not None:
        users = [u for u in users if u.team_id in scope]
    return render(
        request,
        "admin_users.html",
        {
            "users": users,
            "team_names": {t.id: t.name for t in teams},
            "scoped": scope is not None,
            "can_manage": session.can("users.manage"),
        },
    )


@requires("users.manage")
async def new_user_form(request: web.Request) -> web.StreamResponse:
    form = UserForm(language=request.app[SETTINGS].web.default_language)
    return await _page(request, form=form, user=None)


@requires("users.manage")
async def create_user(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    form = UserForm.posted(post)
    password = form_text(post, "password")
    tr = translator(request)
    checked, errors = _check(form, tr, password=password, creating=True)
    if checked is None:
        return await _page(request, form=form, user=None, errors=errors, status=422)
    service = request.app[USERS]
    actor = actor_of(request)
    try:
        user = await service.create_user(
            actor,
            username=form.username,
            full_name=form.full_name,
            role=checked.role,
            password=password,
            team_id=checked.team_id,
            login_rule=checked.login_rule,
            allowed_networks=checked.networks,
            language=form.language,
            permissions=checked.overrides,
            extension=form.extension,
        )
    except InvalidInputError as exc:
        return await _page(request, form=form, user=None, errors={exc.field: error_message(tr, exc.code)}, status=422)
    raise web.HTTPSeeOther(f"/admin/users/{user.id}?saved=1")


@requires("users.view")
async def user_page(request: web.Request) -> web.StreamResponse:
    user, overrides = await _load(request)
    return await _page(request, form=UserForm.of(user, overrides), user=user)


@requires("users.manage")
async def update_user(request: web.Request) -> web.StreamResponse:
    user, _overrides = await _load(request)
    post = await request.post()
    form = UserForm.posted(post, username=user.username)
    password = form_text(post, "password")
    tr = translator(request)
    checked, errors = _check(form, tr, password=password, creating=False)
    if checked is None:
        return await _page(request, form=form, user=user, errors=errors, status=422)
    service = request.app[USERS]
    actor = actor_of(request)
    change = UserChanges(
        full_name=form.full_name,
        role=checked.role,
        team_id=checked.team_id,
        login_rule=checked.login_rule,
        allowed_networks=checked.networks,
        language=form.language,
        active=form.active,
        password=password or None,
        extension=form.extension,
    )
    try:
        await service.update_user(actor, user.id, change, checked.overrides)
    except InvalidInputError as exc:
        return await _page(request, form=form, user=user, errors={exc.field: error_message(tr, exc.code)}, status=422)
    except NotFoundError:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/admin/users/{user.id}?saved=1")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/admin/users", list_users),
        web.get("/admin/users/new", new_user_form),
        web.post("/admin/users/new", create_user),
        web.get(r"/admin/users/{id:\d+}", user_page),
        web.post(r"/admin/users/{id:\d+}", update_user),
    ]
