"""Sign-in and sign-out pages, and the language switch."""

from __future__ import annotations

from aiohttp import web

from agent_console.auth.service import Refusal
from agent_console.auth.sessions import COOKIE
from agent_console.i18n import LANGUAGES
from agent_console.keys import AUTH, METRICS, SESSIONS, SETTINGS
from agent_console.web import IP_KEY, LANG_COOKIE, home_for, render, requires, safe_next, session_of, translator


async def login_page(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    if session is not None:
        raise web.HTTPFound(safe_next(request.query.get("next")) or home_for(session))
    tr = translator(request)
    notice = None
    if request.query.get("expired"):
        notice = tr("login.session_expired")
    elif request.query.get("bye"):
        notice = tr("login.logged_out")
    return render(
        request, "login.html", {"next": request.query.get("next", ""), "notice": notice, "error": None, "username": ""}
    )


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    next_url = safe_next(str(form.get("next", "")))
    ip = request[IP_KEY]
    outcome = await request.app[AUTH].login(username, password, ip, request.headers.get("User-Agent", ""))
    request.app[METRICS].logins.labels(outcome=outcome.refusal.value if outcome.refusal else "succeeded").inc()
    if outcome.refusal is not None:
        tr = translator(request)
        minutes = int(request.app[AUTH].window.total_seconds() // 60)
        message = {
            Refusal.BAD_CREDENTIALS: tr("login.bad_credentials"),
            Refusal.DISABLED: tr("login.disabled"),
            Refusal.ADDRESS_NOT_ALLOWED: tr("login.address_not_allowed", ip=str(ip)),
            Refusal.THROTTLED: tr("login.throttled", minutes=minutes),
        }[outcome.refusal]
        status = (
            429
            if outcome.refusal is Refusal.THROTTLED
            else 403
            if outcome.refusal is Refusal.ADDRESS_NOT_ALLOWED
            else 401
        )
        return render(
            request,
            "login.html",
            {"next": next_url or "", "error": message, "notice": None, "username": username},
            status=status,
        )
    assert outcome.token is not None and outcome.user is not None
    settings = request.app[SETTINGS]
    response = web.HTTPFound(next_url or "/")
    response.set_cookie(
        COOKIE,
        outcome.token,
        httponly=True,
        secure=settings.web.cookie_secure,
        samesite="Lax",
        path="/",
        max_age=int(request.app[SESSIONS].lifetime.total_seconds()),
    )
    raise response


@requires()
async def logout(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    assert session is not None
    await request.app[AUTH].logout(session, request[IP_KEY])
    response = web.HTTPFound("/login?bye=1")
    response.del_cookie(COOKIE, path="/")
    raise response


@requires()
async def home(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    assert session is not None
    raise web.HTTPFound(home_for(session))


async def switch_language(request: web.Request) -> web.StreamResponse:
    language = request.match_info["language"]
    if language not in LANGUAGES:
        raise web.HTTPNotFound()
    response = web.HTTPFound(safe_next(request.query.get("next")) or "/")
    response.set_cookie(
        LANG_COOKIE,
        language,
        max_age=365 * 24 * 3600,
        path="/",
        samesite="Lax",
        secure=request.app[SETTINGS].web.cookie_secure,
    )
    raise response


def routes() -> list[web.RouteDef]:
    return [
        web.get("/", home),
        web.get("/login", login_page),
        web.post("/login", login_submit),
        web.post("/logout", logout),
        web.get("/lang/{language}", switch_language),
    ]
