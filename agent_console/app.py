"""The web application factory. The composition root (``callcenter.bootstrap``) builds the adapters and passes them
in; nothing here opens a connection of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web

from agent_console import ops
from agent_console.admin import http as admin_http
from agent_console.assets import StaticAssets
from agent_console.auth import http as auth_http
from agent_console.auth.service import AuthService
from agent_console.auth.sessions import SessionStore
from agent_console.blacklist import http as blacklist_http
from agent_console.campaigns import http as campaigns_http
from agent_console.console import http as console_http
from agent_console.i18n import Catalogue
from agent_console.keys import (
    ASSETS,
    AUTH,
    BLACKLIST,
    BUS,
    CATALOGUE,
    DB,
    DIALER,
    METRICS,
    SESSIONS,
    SETTINGS,
    USERS,
)
from agent_console.live import http as live_http
from agent_console.pools import http as pools_http
from agent_console.wallboard import http as wallboard_http
from agent_console.web import context_middleware, csrf_middleware, error_middleware
from callcenter.bootstrap import DialerRuntime
from callcenter.bus import EventBus, HistoryLostError
from callcenter.bus.events import known_streams
from callcenter.db.database import Database
from callcenter.metrics import Metrics
from config.settings import Settings
from crm_core.users.service import UserService
from dialer.blacklist.service import BlacklistService

log = structlog.get_logger(__name__)

_HERE = Path(__file__).parent
_TEMPLATE_DIRS = [
    _HERE / "templates",
    *(p / "templates" for p in (_HERE / "auth", _HERE / "console", _HERE / "admin", _HERE / "pools")),
    _HERE / "blacklist" / "templates",
    _HERE / "campaigns" / "templates",
    _HERE / "wallboard" / "templates",
]


def create_app(
    settings: Settings, db: Database, bus: EventBus, metrics: Metrics, dialer: DialerRuntime | None = None
) -> web.Application:
    """The web app; ``dialer`` (the process's campaign dialer, see ``callcenter.bootstrap.start_dialer``) lets the
    agent console dial; without it the console shows the state bar only."""
    app = web.Application(
        middlewares=[error_middleware, context_middleware, csrf_middleware], client_max_size=20 * 2**20
    )
    sessions = SessionStore(db, timedelta(hours=settings.web.session_hours))
    app[SETTINGS] = settings
    app[DB] = db
    app[BUS] = bus
    app[METRICS] = metrics
    app[CATALOGUE] = Catalogue.load()
    app[ASSETS] = StaticAssets(_HERE / "static")
    app[SESSIONS] = sessions
    app[AUTH] = AuthService(db, bus, sessions, settings.security)
    app[USERS] = UserService(db, bus)
    app[BLACKLIST] = BlacklistService(db, bus)
    if dialer is not None:
        app[DIALER] = dialer
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(d)) for d in _TEMPLATE_DIRS if d.is_dir()]),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    app.router.add_routes(ops.routes())
    app.router.add_routes(auth_http.routes())
    app.router.add_routes(console_http.routes())
    app.router.add_routes(admin_http.routes())
    app.router.add_routes(blacklist_http.routes())
    pools_http.setup(app)
    campaigns_http.setup(app)
    live_http.setup(app)
    wallboard_http.setup(app)
    app.router.add_get("/static/{path:.+}", app[ASSETS].handle)
    app.cleanup_ctx.append(_background)
    return app


async def _background(app: web.Application) -> AsyncIterator[None]:
    async with asyncio.TaskGroup() as tasks:
        lag = tasks.create_task(_watch_event_lag(app[BUS], app[METRICS]))
        purge = tasks.create_task(_purge_sessions(app[SESSIONS]))
        yield
        lag.cancel()
        purge.cancel()


async def _watch_event_lag(bus: EventBus, metrics: Metrics) -> None:
    """Measure how long events take from occurring to reaching this process (``callcenter_event_lag_seconds``)."""
    while True:
        try:
            async with bus.subscribe(sorted(known_streams())) as events:
                async for envelope in events:
                    lag = (datetime.now(UTC) - envelope.event.occurred_at).total_seconds()
                    metrics.event_lag.observe(max(lag, 0.0))
            return  # the bus closed
        except HistoryLostError:
            continue
        except Exception:
            log.exception("event_lag_watch_failed")
            await asyncio.sleep(5)


async def _purge_sessions(sessions: SessionStore) -> None:
    while True:
        try:
            await sessions.purge_expired()
        except Exception:
            log.exception("session_purge_failed")
        await asyncio.sleep(3600)
