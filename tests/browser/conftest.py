"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against the real app on a real port."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, async_playwright

from agent_console.app import create_app
from callcenter.bus.memory import InProcessBus
from callcenter.db.database import connect
from callcenter.metrics import Metrics
from config.settings import DatabaseSettings, Settings, load_settings
from tests.conftest import create_database, drop_database

CHROMIUM = os.environ.get("CALLCENTER_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# As the machine's notes advise: no background networking, which this offline machine would refuse.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (once per session)
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (./dev setup does it as root)")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="session")
async def browser_database_url() -> AsyncIterator[str]:
    """Browser tests commit through a real pool, so they get a database of their own."""
    url = await create_database("callcenter_browser", migrated=True)
    yield url
    await drop_database(url)


@pytest.fixture
async def live_server(browser_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Any]:
    """The app with its real connection pool, and the default (secure) cookie settings."""
    database_url = browser_database_url
    for key in list(os.environ):
        if key.startswith("CALLCENTER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    settings: Settings = load_settings(database={"url": database_url})
    db = await connect(DatabaseSettings(url=database_url))
    bus = InProcessBus()
    await bus.start()
    server = TestServer(create_app(settings, db, bus, Metrics()), host="127.0.0.1")
    await server.start_server()
    server.db = db  # type: ignore[attr-defined]
    server.bus = bus  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        await server.close()
        await bus.close()
        await db.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
