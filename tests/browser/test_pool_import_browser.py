"""A supervisor loads a lead file into a data pool in real Chromium: chooses the file, checks the guessed column
mapping, imports, and reads the report with the refused lines in Turkish."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from agent_console.pools.common import UPLOADS
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role
from crm_core.users.service import UserService
from dialer.pools.service import PoolService
from tests.browser.conftest import artifact

CSV = (
    "Ad Soyad;Telefon;İl;İlçe\r\n"
    "Ayşe Demir;0532 111 22 33;İstanbul;Kadıköy\r\n"
    "Mehmet Kaya;0111 111 11 11;Ankara;Çankaya\r\n"
    "Zeynep Arslan;+90 533 444 55 66;izmir;Buca\r\n"
    "Tekrar Eden;05321112233;Bursa;Nilüfer\r\n"
).encode("cp1254")


async def test_supervisor_uploads_a_csv_and_reads_the_import_report(
    browser: Browser, live_server: Any, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    username = f"sup{suffix}"
    await UserService(live_server.db, live_server.bus).create_user(
        SYSTEM, username=username, full_name="Selin Yıldız", role=Role.SUPERVISOR, password="gizli-parola-9"
    )
    pool = await PoolService(live_server.db, live_server.bus).create_pool(SYSTEM, f"Kasım Listesi {suffix}")
    live_server.app[UPLOADS].directory = tmp_path / "uploads"
    base = str(live_server.make_url("/")).rstrip("/")
    context = await browser.new_context(locale="tr-TR")
    page = await context.new_page()
    try:
        await page.goto(base + "/login")
        await page.get_by_label("Kullanıcı adı").fill(username)
        await page.get_by_label("Parola").fill("gizli-parola-9")
        await page.get_by_role("button", name="Giriş yap").click()
        await expect(page).to_have_url(f"{base}/console")

        await page.get_by_role("link", name="Data havuzları").click()
        await expect(page.get_by_role("heading", name="Data havuzları")).to_be_visible()
        await page.get_by_role("link", name=pool.name).click()
        await expect(page.get_by_role("heading", name=f"Havuz: {pool.name}")).to_be_visible()

        await page.get_by_label("Dosya", exact=True).set_input_files(
            {"name": "kasım.csv", "mimeType": "text/csv", "buffer": CSV}
        )
        await page.get_by_role("button", name="Yükle ve sütunları eşleştir").click()

        await expect(page.get_by_role("heading", name="Sütunları eşleştir")).to_be_visible()
        await expect(page.get_by_text("Windows-1254 (Türkçe)")).to_be_visible()
        await expect(page.get_by_label("Telefon sütununun aktarılacağı yer")).to_have_value("phone")
        await expect(page.get_by_label("Ad Soyad sütununun aktarılacağı yer")).to_have_value("name")
        await expect(page.get_by_label("İl sütununun aktarılacağı yer")).to_have_value("city")
        await expect(page.get_by_label("İlçe sütununun aktarılacağı yer")).to_have_value("custom")
        await expect(page.get_by_label("İlçe sütununun özel alan adı")).to_have_value("ilce")
        await page.screenshot(path=artifact("pool-mapping-tr.png"), full_page=True)

        await page.get_by_role("button", name="İçe aktar").click()

        await expect(page.get_by_role("heading", name="İçe aktarma raporu: kasım.csv")).to_be_visible()
        await expect(page.get_by_role("status")).to_have_text("4 satırdan 2 tanesi kaydedildi, 2 tanesi reddedildi.")
        rejected = page.locator("#rejected-lines tbody tr")
        await expect(rejected).to_have_count(2)
        await expect(rejected.nth(0)).to_contain_text("Geçersiz telefon numarası: 0111 111 11 11")
        await expect(rejected.nth(1)).to_contain_text("Numara dosyada tekrar ediyor (ilk geçtiği satır: 2).")
        await page.screenshot(path=artifact("pool-import-report-tr.png"), full_page=True)

        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Yüklenen dosyayı indir").click()
        download = await download_info.value
        assert download.suggested_filename == "kasım.csv"
        path = await download.path()
        assert path.read_bytes() == CSV

        await page.get_by_role("link", name=f"{pool.name} havuzuna dön").click()
        history = page.locator("section", has=page.get_by_role("heading", name="Yüklenen dosyalar"))
        await expect(history.get_by_role("row")).to_have_count(2)
        await expect(history.get_by_role("row").nth(1)).to_contain_text("Selin Yıldız")
        await page.screenshot(path=artifact("pool-page-tr.png"), full_page=True)
        await page.get_by_role("link", name="Kayıtları dağıt").click()
        await expect(page.get_by_text("Atanmamış kayıt: 2")).to_be_visible()
        await page.screenshot(path=artifact("pool-distribute-tr.png"), full_page=True)
    finally:
        await context.close()
