"""Operations endpoints: ``/healthz`` for load balancers and compose, ``/metrics`` for Prometheus."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from agent_console.keys import BUS, DB, METRICS


async def healthz(request: web.Request) -> web.Response:
    database = await request.app[DB].ping()
    bus_ok = True
    try:
        await request.app[BUS].last_seq("users")
    except Exception:  # any bus failure means unhealthy; the reason goes to the log
        bus_ok = False
    request.app[METRICS].database_up.set(1 if database else 0)
    healthy = database and bus_ok
    return web.json_response(
        {"status": "ok" if healthy else "unavailable", "database": database, "bus": bus_ok},
        status=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


def routes() -> list[web.RouteDef]:
    return [web.get("/healthz", healthz), web.get("/metrics", metrics)]
