"""The login a person makes, in real Chromium: Turkish page, refusal message, the console after signing in."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.async_api import Browser, expect

from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role
from crm_core.users.service import UserService
from tests.browser.conftest import artifact


async def test_agent_signs_in_and_sees_the_console(browser: Browser, live_server: Any) -> None:
    username = f"ajan{uuid.uuid4().hex[:6]}"
    await UserService(live_server.db, live_server.bus).create_user(
        SYSTEM, username=username, full_name="Ayşe Demir", role=Role.AGENT, password="gizli-parola-9"
    )
    base = str(live_server.make_url("/")).rstrip("/")
    context = await browser.new_context(locale="tr-TR")
    page = await context.new_page()
    try:
        await page.goto(base + "/")
        await expect(page).to_have_url(f"{base}/login?next=/")
        await expect(page.get_by_role("heading", name="Çağrı merkezine giriş")).to_be_visible()
        await page.screenshot(path=artifact("login-tr.png"))

        await page.get_by_label("Kullanıcı adı").fill(username)
        await page.get_by_label("Parola").fill("yanlis-parola")
        await page.get_by_role("button", name="Giriş yap").click()
        await expect(page.get_by_role("alert")).to_have_text("Kullanıcı adı veya parola hatalı.")
        await expect(page.get_by_label("Kullanıcı adı")).to_have_value(username)

        await page.get_by_label("Parola").fill("gizli-parola-9")
        await page.get_by_role("button", name="Giriş yap").click()
        await expect(page).to_have_url(f"{base}/console")
        await expect(page.get_by_role("heading", name="Hoş geldiniz, Ayşe Demir")).to_be_visible()
        await expect(page.get_by_text("Şu anda çağrı yok.")).to_be_visible()
        await page.screenshot(path=artifact("console-empty-tr.png"), full_page=True)

        # The session cookie is Secure and HttpOnly, and Chromium keeps it on http://127.0.0.1.
        cookies = {c["name"]: c for c in await context.cookies()}
        assert cookies["cc_session"]["secure"] and cookies["cc_session"]["httpOnly"]

        await page.get_by_role("link", name="English").click()
        await expect(page.get_by_role("heading", name="Welcome, Ayşe Demir")).to_be_visible()
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("status")).to_have_text("You have signed out.")
    finally:
        await context.close()
