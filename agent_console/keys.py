"""Typed application keys: everything the composition root hands to the web app."""

from __future__ import annotations

from aiohttp import web

from agent_console.assets import StaticAssets
from agent_console.auth.service import AuthService
from agent_console.auth.sessions import SessionStore
from agent_console.i18n import Catalogue
from agent_console.live.hub import LiveHub
from callcenter.bootstrap import DialerRuntime
from callcenter.bus import EventBus
from callcenter.db.database import Database
from callcenter.metrics import Metrics
from config.settings import Settings
from crm_core.users.service import UserService
from dialer.blacklist.service import BlacklistService

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
BUS = web.AppKey("bus", EventBus)
METRICS = web.AppKey("metrics", Metrics)
CATALOGUE = web.AppKey("catalogue", Catalogue)
ASSETS = web.AppKey("assets", StaticAssets)
SESSIONS = web.AppKey("sessions", SessionStore)
AUTH = web.AppKey("auth", AuthService)
USERS = web.AppKey("users", UserService)
BLACKLIST = web.AppKey("blacklist", BlacklistService)
LIVE = web.AppKey("live", LiveHub)
#: The campaign dialer and agent states of this process; absent when the web app runs without a dialer.
DIALER = web.AppKey("dialer", DialerRuntime)
