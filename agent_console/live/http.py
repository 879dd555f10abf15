"""``GET /live``: the WebSocket of the live channel (protocol and close codes: :mod:`agent_console.live`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web

from agent_console.auth.sessions import COOKIE
from agent_console.keys import BUS, DB, LIVE, SESSIONS, SETTINGS
from agent_console.live.hub import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    Connection,
    LiveHub,
    audience_for,
)
from agent_console.web import session_of


def _endpoint(netloc: str) -> tuple[str, int | None] | None:
    """(host, port) of ``host[:port]``; the default ports 80 and 443 count as none (a TLS proxy in front)."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.lower(), None if port in (80, 443) else port


def same_origin(origin: str | None, host: str) -> bool:
    """A browser's WebSocket must come from a page of this site (cross-site WebSocket hijacking: a foreign page
    would otherwise open the socket with the user's cookie). No ``Origin`` at all is not a browser: allowed."""
    if origin is None:
        return True
    scheme, _, netloc = origin.partition("://")
    if scheme.lower() not in ("http", "https"):
        return False
    mine = _endpoint(host)
    return mine is not None and _endpoint(netloc) == mine


async def live(request: web.Request) -> web.StreamResponse:
    hub = request.app[LIVE]
    if not same_origin(request.headers.get("Origin"), request.host):
        raise web.HTTPForbidden(reason="origin")
    ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=64 * 1024, timeout=hub.close_timeout)
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(text="a WebSocket upgrade is expected")
    await ws.prepare(request)
    session = session_of(request)
    token = request.cookies.get(COOKIE)
    if session is None or token is None:
        await ws.close(code=CLOSE_UNAUTHENTICATED, message=b"not signed in")
        return ws
    audience = await audience_for(session, request.app[DB])
    if audience is None:
        await ws.close(code=CLOSE_FORBIDDEN, message=b"not allowed")
        return ws
    connection = Connection(hub, ws, token, session, audience)
    hub.watch(connection)
    await connection.run()
    return ws


def setup(app: web.Application) -> None:
    """The hub (after the database, the bus and the sessions are in ``app``), its route and its life."""
    web_settings = app[SETTINGS].web
    app[LIVE] = LiveHub(
        app[BUS],
        app[DB],
        app[SESSIONS],
        queue_size=web_settings.live_queue_size,
        heartbeat=web_settings.live_heartbeat_seconds,
    )
    app.router.add_get("/live", live)
    app.cleanup_ctx.append(_hub_running)
    app.on_shutdown.append(_close_sockets)


async def _hub_running(app: web.Application) -> AsyncIterator[None]:
    await app[LIVE].start()
    yield
    await app[LIVE].stop()


async def _close_sockets(app: web.Application) -> None:
    await app[LIVE].close_all()
