"""Administration pages: users (seed 001 "Kullanıcı giriş protokolleri", "Esnek yetkilendirme"), teams ("Takım ve
ekip oluşturma") and the audit log."""

from __future__ import annotations

from aiohttp import web

from agent_console.admin import audit, teams, users


def routes() -> list[web.RouteDef]:
    return [*users.routes(), *teams.routes(), *audit.routes()]
