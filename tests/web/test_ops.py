"""Operations endpoints and static assets, as an operator and a browser see them."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]


async def test_healthz_reports_database_and_bus(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": True, "bus": True}


async def test_metrics_expose_the_figures_operators_watch(client: Client) -> None:
    await client.get("/login")
    text = await (await client.get("/metrics")).text()
    for name in (
        "callcenter_connected_consoles",
        "callcenter_ami_connected",
        "callcenter_calls_in_progress",
        'callcenter_agents{state="ready"}',
        "callcenter_event_lag_seconds_bucket",
        'callcenter_http_requests_total{method="GET",route="/login",status="200"} 1.0',
    ):
        assert name in text


async def test_static_assets_are_fingerprinted_and_cached(client: Client) -> None:
    html = await (await client.get("/login")).text()
    match = re.search(r'href="(/static/app\.css\?v=([0-9a-f]+))"', html)
    assert match
    fresh = await client.get(match.group(1))
    assert fresh.status == 200
    assert fresh.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert fresh.headers["Content-Type"].startswith("text/css")
    stale = await client.get("/static/app.css?v=0000")
    assert stale.headers["Cache-Control"] == "no-cache"
    again = await client.get(match.group(1), headers={"If-None-Match": fresh.headers["ETag"]})
    assert again.status == 304
    assert (await client.get("/static/../settings.py")).status == 404


async def test_unknown_page_is_a_turkish_404(client: Client) -> None:
    response = await client.get("/yok-boyle-sayfa")
    assert response.status == 404
    assert "Sayfa bulunamadı." in await response.text()
