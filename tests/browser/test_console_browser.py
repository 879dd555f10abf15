"""Preview dialing in real Chromium: an agent signs in, logs in to the dialer, goes ready, takes the record of his
team's preview campaign, dials it through the PBX simulator (real AMI), sees the call connect and end as it is
pushed, sets "Satış" with a note, and is ready again; the record is done and the note is on its call record."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from agent_console.app import create_app
from callcenter.bootstrap import DialerRuntime
from callcenter.bus.memory import InProcessBus
from callcenter.db.database import connect
from callcenter.metrics import Metrics
from config.settings import DatabaseSettings, PbxSimSettings, load_settings
from crm_core.audit.repository import SYSTEM, Actor
from crm_core.users.model import Role
from crm_core.users.service import UserService
from dialer.campaigns.model import DEFAULT_DISPOSITIONS, CampaignStatus, DialMode
from dialer.pools.service import PoolService
from pbx_sim.app import running_pbx_sim
from tests.browser.conftest import artifact
from tests.dialer.campaigns.conftest import ALWAYS, WORLD, start_stack

PASSWORD = "gizli-parola-9"
SPEED = 25.0


@pytest.fixture
async def dialing_server(
    browser_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Any]:
    """The web app with a campaign dialer on the PBX simulator, on the simulator's clock, with a team, an agent whose
    phone is agent1, and a running preview campaign of one record whose number answers."""
    for key in list(os.environ):
        if key.startswith("CALLCENTER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(database={"url": browser_database_url})
    db = await connect(DatabaseSettings(url=browser_database_url, pool_min_size=2, pool_max_size=12))
    bus = InProcessBus(history=100_000)
    await bus.start()
    async with running_pbx_sim(PbxSimSettings(recordings_dir=tmp_path), port=0, speed=SPEED, world=WORLD) as sim:

        def clock() -> datetime:
            return datetime.fromtimestamp(sim.clock.now(), UTC)

        tag = uuid.uuid4().hex[:6]
        users = UserService(db, bus)
        admin = await users.create_user(
            SYSTEM, username=f"yonetici{tag}", full_name="Yönetici", password=PASSWORD, role=Role.ADMIN
        )
        actor = Actor(admin.id, admin.username)
        team = await users.create_team(SYSTEM, f"Satış {tag}")
        agent = await users.create_user(
            SYSTEM,
            username=f"ajan{tag}",
            full_name="Deniz Yıldız",
            password=PASSWORD,
            role=Role.AGENT,
            team_id=team.id,
        )
        async with db.acquire() as conn:
            await conn.execute("UPDATE users SET extension = NULL WHERE extension = 'agent1'")
            await conn.execute("UPDATE users SET extension = 'agent1' WHERE id = $1", agent.id)
        pools = PoolService(db, bus)
        pool = await pools.create_pool(actor, f"Liste {tag}")
        report = await pools.import_file(
            actor,
            pool.id,
            filename="liste.csv",
            content="Telefon;Ad Soyad;Şehir;Tarife\r\n0532 111 00 01;Ayşe Kaya;İstanbul;Mesken\r\n".encode(),
            mapping={"Telefon": "phone", "Ad Soyad": "name", "Şehir": "city", "Tarife": "custom:tarife"},
        )
        assert report.summary.stored_rows == 1, report.rejected

        stack = await start_stack(db, bus, sim.port, clock)
        campaign = await stack.dialer.campaigns.create_campaign(
            actor,
            f"Kasım önizleme {tag}",
            DialMode.PREVIEW,
            pool_ids=[pool.id],
            team_ids=[team.id],
            rules=ALWAYS,
            dispositions=DEFAULT_DISPOSITIONS,
        )
        await stack.dialer.campaigns.set_status(actor, campaign.id, CampaignStatus.RUNNING)
        runtime = DialerRuntime(stack.engine, stack.agents, stack.directory, stack.dialer, [])
        server = TestServer(create_app(settings, db, bus, Metrics(), runtime), host="127.0.0.1")
        await server.start_server()
        server.db = db  # type: ignore[attr-defined]
        server.agent = agent  # type: ignore[attr-defined]
        server.campaign = campaign  # type: ignore[attr-defined]
        try:
            yield server
        finally:
            await server.close()
            await stack.close()
            await bus.close()
            await db.close()


async def test_an_agent_previews_dials_and_disposes_in_the_browser(browser: Browser, dialing_server: Any) -> None:
    server = dialing_server
    base = str(server.make_url("/")).rstrip("/")
    context = await browser.new_context(locale="tr-TR", viewport={"width": 1280, "height": 1000})
    page = await context.new_page()
    try:
        await page.goto(base + "/login")
        await page.get_by_label("Kullanıcı adı").fill(server.agent.username)
        await page.get_by_label("Parola").fill(PASSWORD)
        await page.get_by_role("button", name="Giriş yap").click()
        await expect(page).to_have_url(f"{base}/console")
        state = page.locator("#agent-state")
        await expect(page.get_by_role("status")).to_have_text("Canlı")
        await expect(state).to_have_text("Çevrim dışı")

        # Dialing before logging in is refused, in Turkish.
        await page.keyboard.press("Alt+KeyR")
        await expect(page.locator("#console-message")).to_have_text("Önce oturum açın.")

        await page.get_by_role("button", name="Oturum aç").click()
        await expect(state).to_have_text("Çevrim içi, çağrı almıyor")  # pushed
        await page.keyboard.press("Alt+KeyR")  # ready, from the keyboard
        await expect(state).to_have_text("Hazır")
        await expect(page.get_by_role("button", name="Oturum aç")).to_be_disabled()
        await expect(page.locator("#btn-ready")).to_have_attribute("aria-pressed", "true")

        await page.get_by_label("Kampanya").select_option(label=server.campaign.name)
        await page.get_by_role("button", name="Sıradaki kayıt").click()
        card = page.locator("#record-card")
        await expect(card).to_be_visible()
        await expect(page.locator("#record-name")).to_have_text("Ayşe Kaya")
        await expect(page.locator("#record-phone")).to_have_text("+905321110001")
        await expect(page.locator("#record-city")).to_contain_text("İstanbul")
        await expect(page.locator("#record-custom")).to_contain_text("Mesken")
        await expect(page.locator("#record-history")).to_contain_text("Bu kayıt daha önce aranmadı.")
        await page.screenshot(path=artifact("console-preview-record.png"), full_page=True)
        await page.reload()  # the record he took stays his, on the card
        await expect(page.locator("#record-phone")).to_have_text("+905321110001")
        await expect(state).to_have_text("Hazır")

        # Skipping needs a reason.
        await page.get_by_role("button", name="Geç", exact=True).click()
        await expect(page.locator("#console-message")).to_have_text("Kaydı geçmek için bir neden yazın.")

        await page.keyboard.press("Alt+KeyD")  # dial
        progress = page.locator("#call-progress")
        await expect(progress.locator("li[data-status=connected]")).to_have_text("Bağlandı")
        await expect(progress.locator("li[data-status=ended]")).to_have_text("Bitti")
        await expect(state).to_have_text("Görüşme sonrası işlem")
        await page.screenshot(path=artifact("console-preview-call-ended.png"), full_page=True)

        # Not ready again before the outcome is set; a reload brings the record and its call back.
        await page.keyboard.press("Alt+KeyR")
        await expect(page.locator("#console-message")).to_have_text("Hazır olmadan önce görüşmenin sonucunu girin.")
        await page.reload()
        await expect(page.locator("#record-name")).to_have_text("Ayşe Kaya")
        await expect(page.locator("#disposition-form")).to_be_visible()
        await expect(page.locator("#call-progress li[data-status=ended]")).to_have_text("Bitti")
        await expect(state).to_have_text("Görüşme sonrası işlem")

        await page.get_by_label("Sonuç", exact=True).select_option(label="Satış")
        await page.get_by_label("Not", exact=True).fill("Paket B'yi aldı, fatura adresi aynı.")
        await page.get_by_role("button", name="Sonucu kaydet").click()
        await expect(page.locator("#console-message")).to_have_text("Görüşme sonucu kaydedildi.")
        await expect(state).to_have_text("Hazır")  # the dialer ended his wrap-up
        await expect(card).to_be_hidden()
        await expect(page.locator("#call-card")).to_have_text("Şu anda çağrı yok.")
        await page.screenshot(path=artifact("console-preview-disposed.png"), full_page=True)

        await page.keyboard.press("Alt+KeyN")  # next: the only record is done
        await expect(page.locator("#console-message")).to_have_text("Bu kampanyada şu an aranacak kayıt yok.")
    finally:
        await context.close()

    async with server.db.acquire() as conn:
        record = await conn.fetchrow(
            "SELECT status, disposition FROM pool_records WHERE campaign_id = $1", server.campaign.id
        )
        call = await conn.fetchrow(
            "SELECT status, disposition, note, agent_id, connected_at FROM call_records WHERE campaign_id = $1",
            server.campaign.id,
        )
    assert record is not None and (record["status"], record["disposition"]) == ("done", "sale")
    assert call is not None
    assert (call["status"], call["disposition"], call["agent_id"]) == ("ended", "sale", server.agent.id)
    assert call["note"] == "Paket B'yi aldı, fatura adresi aynı." and call["connected_at"] is not None
