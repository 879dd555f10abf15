"""Request plumbing shared by every page: client address, language, session, CSRF, errors, permissions."""

from __future__ import annotations

import functools
import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import structlog
from aiohttp import web

from agent_console.auth.sessions import COOKIE, Session, new_csrf_token
from agent_console.i18n import Translator, pick_language
from agent_console.keys import ASSETS, CATALOGUE, DB, METRICS, SESSIONS, SETTINGS
from crm_core.audit.repository import Actor, AuditRepository
from crm_core.users.model import IPAddress, IPNetwork

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSRF_COOKIE = "cc_csrf"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
LANG_COOKIE = "cc_lang"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NO_SESSION = ("/static/", "/healthz", "/metrics")

SESSION_KEY = web.RequestKey("session", Session)  # absent when no one is signed in
IP_KEY: web.RequestKey[IPAddress] = web.RequestKey("client_ip")
TRANSLATOR_KEY = web.RequestKey("translator", Translator)
LANGUAGE_KEY = web.RequestKey("language", str)
ANON_CSRF_KEY = web.RequestKey("anon_csrf", str)
EXPIRED_KEY = web.RequestKey("session_expired", bool)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Iterable[IPNetwork]) -> IPAddress:
    """The address a request came from. X-Forwarded-For is believed only as far as it was added by trusted proxies:
    walk it from the right and stop at the first address that is not a trusted proxy."""
    trusted = tuple(trusted)
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return ipaddress.ip_address("0.0.0.0")  # a unix socket: no address  # noqa: S104
    if not forwarded_for:
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if not any(address.version == net.version and address in net for net in trusted):
            break
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            break
    return address


def session_of(request: web.Request) -> Session | None:
    return request.get(SESSION_KEY)


def translator(request: web.Request) -> Translator:
    return request[TRANSLATOR_KEY]


def actor_of(request: web.Request) -> Actor:
    session = session_of(request)
    ip = request[IP_KEY]
    if session is None:
        return Actor(None, "anonymous", ip)
    return Actor(session.user.id, session.user.username, ip)


def csrf_token(request: web.Request) -> str:
    session = session_of(request)
    if session is not None:
        return session.csrf_token
    return request[ANON_CSRF_KEY]


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    settings = app[SETTINGS]
    request[IP_KEY] = client_ip(request.remote, request.headers.get("X-Forwarded-For"), settings.web.trusted_proxies)
    session = None
    if not request.path.startswith(_NO_SESSION):
        token = request.cookies.get(COOKIE)
        if token:
            session = await app[SESSIONS].load(token)
            request[EXPIRED_KEY] = session is None
    if session is not None:
        request[SESSION_KEY] = session
    language = pick_language(
        request.cookies.get(LANG_COOKIE), session.user.language if session else None, settings.web.default_language
    )
    request[LANGUAGE_KEY] = language
    request[TRANSLATOR_KEY] = app[CATALOGUE].translator(language)
    anon = request.cookies.get(CSRF_COOKIE)
    new_anon = None
    if session is None and not request.path.startswith(_NO_SESSION) and not _valid_token(anon):
        new_anon = new_csrf_token()
    request[ANON_CSRF_KEY] = new_anon or anon or ""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _after(request, exc, new_anon)
        raise
    _after(request, response, new_anon)
    return response


def _after(request: web.Request, response: web.StreamResponse, new_anon: str | None) -> None:
    if response.prepared:
        return
    secure = request.app[SETTINGS].web.cookie_secure
    if new_anon:
        response.set_cookie(CSRF_COOKIE, new_anon, httponly=True, secure=secure, samesite="Strict", path="/")
    if request.get(EXPIRED_KEY):
        response.del_cookie(COOKIE, path="/")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")


def _valid_token(token: str | None) -> bool:
    return token is not None and 20 <= len(token) <= 100


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state-changing request (form or JSON) must carry the CSRF token of its session (or, before login, of
    its ``cc_csrf`` cookie) in the ``_csrf`` form field or the ``X-CSRF-Token`` header."""
    if request.method in _SAFE_METHODS:
        return await handler(request)
    session = session_of(request)
    expected = session.csrf_token if session else request.cookies.get(CSRF_COOKIE)
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        value = (await request.post()).get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    if not expected or not supplied or not hmac.compare_digest(expected.encode(), supplied.encode()):
        async with request.app[DB].acquire() as conn:
            await AuditRepository(conn).record(
                actor_of(request),
                "csrf.refused",
                "request",
                request.path,
                {"method": request.method, "reason": "missing" if not supplied else "mismatch"},
            )
        log.warning("csrf_refused", path=request.path, ip=str(request[IP_KEY]))
        raise web.HTTPForbidden(reason="csrf")
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        if exc.status in (403, 404) and TRANSLATOR_KEY in request:
            key = (
                "error.csrf"
                if exc.reason == "csrf"
                else ("error.forbidden" if exc.status == 403 else "error.not_found")
            )
            return _error_page(request, exc.status, key)
        raise
    except Exception:
        log.exception("request_failed", path=request.path, method=request.method)
        if TRANSLATOR_KEY in request:
            return _error_page(request, 500, "error.server")
        raise
    finally:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        metrics = request.app[METRICS]
        metrics.http_requests.labels(method=request.method, route=route, status=str(status)).inc()
        metrics.http_seconds.labels(route=route).observe(time.perf_counter() - started)


def _error_page(request: web.Request, status: int, key: str) -> web.StreamResponse:
    tr = translator(request)
    if _wants_json(request):
        return web.json_response({"error": key, "message": tr(key)}, status=status)
    return render(request, "error.html", {"status": status, "message": tr(key)}, status=status)


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def requires(permission: str | None = None) -> Callable[[Handler], Handler]:
    """Only for signed-in users, and with ``permission`` when given; otherwise to the login page or 403."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = session_of(request)
            if session is None:
                if _wants_json(request):
                    raise web.HTTPUnauthorized()
                target = "/login?next=" + quote(request.path_qs, safe="")
                if request.get(EXPIRED_KEY):
                    target += "&expired=1"
                raise web.HTTPFound(target)
            if permission is not None and not session.can(permission):
                raise web.HTTPForbidden()
            return await handler(request)

        guarded.permission = permission  # type: ignore[attr-defined]
        return guarded

    return decorate


def render(
    request: web.Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    full = {**base_context(request), **(context or {})}
    response: web.Response = aiohttp_jinja2.render_template(template, request, full, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def base_context(request: web.Request) -> dict[str, Any]:
    """What every template can use: ``_``, ``session``, ``csrf_token``, ``static_url``, ``language``, ``nav``."""
    session = session_of(request)
    return {
        "_": request.get(TRANSLATOR_KEY),
        "session": session,
        "user": session.user if session else None,
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request) if TRANSLATOR_KEY in request else "",
        "static_url": request.app[ASSETS].url,
        "language": request.get(LANGUAGE_KEY, "tr"),
        "nav": _nav(session),
        "path": request.path,
    }


_NAV = (
    ("/console", "nav.console", "console.use"),
    ("/admin/users", "nav.users", "users.view"),
    ("/admin/teams", "nav.teams", "teams.view"),
    ("/admin/audit", "nav.audit", "audit.view"),
)


def _nav(session: Session | None) -> list[tuple[str, str]]:
    if session is None:
        return []
    return [(href, label) for href, label, permission in _NAV if session.can(permission)]


def home_for(session: Session) -> str:
    for href, _label in _nav(session):
        return href
    return "/console"  # no module at all: the console answers with a clear "not allowed" page


def safe_next(target: str | None) -> str | None:
    """Only local paths: never redirect a user to another site after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
