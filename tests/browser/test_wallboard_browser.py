"""The team leader's wallboard in real Chromium: an agent's tile follows his state, pushed live."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.async_api import Browser, expect

from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role
from crm_core.users.service import UserService
from dialer.agents.service import AgentStateService
from dialer.events import CallEnded
from dialer.state.agent_commands import LogIn, Pause
from tests.browser.conftest import artifact

PASSWORD = "gizli-parola-9"


async def test_a_team_leaders_wallboard_shows_an_agent_going_to_lunch_live(browser: Browser, live_server: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    users = UserService(live_server.db, live_server.bus)
    leader = await users.create_user(
        SYSTEM, username=f"lider{tag}", full_name="Leyla Lider", role=Role.TEAM_LEADER, password=PASSWORD
    )
    team = await users.create_team(SYSTEM, f"Satış {tag}", leader.id)
    agent = await users.create_user(
        SYSTEM, username=f"ajan{tag}", full_name="Deniz Yıldız", role=Role.AGENT, password=PASSWORD, team_id=team.id
    )
    other = await users.create_user(
        SYSTEM, username=f"diger{tag}", full_name="Ece Kaya", role=Role.AGENT, password=PASSWORD, team_id=team.id
    )
    states = AgentStateService(live_server.db, live_server.bus)
    await states.execute(agent.id, LogIn(ready=True))
    await states.execute(other.id, LogIn())

    base = str(live_server.make_url("/")).rstrip("/")
    context = await browser.new_context(locale="tr-TR", viewport={"width": 1600, "height": 1000})
    page = await context.new_page()
    try:
        await page.goto(base + "/login")
        await page.get_by_label("Kullanıcı adı").fill(leader.username)
        await page.get_by_label("Parola").fill(PASSWORD)
        await page.get_by_role("button", name="Giriş yap").click()
        await page.get_by_role("link", name="Canlı pano").click()
        await expect(page).to_have_url(f"{base}/wallboard")
        await expect(page.get_by_role("heading", name="Takım canlı panosu")).to_be_visible()
        await expect(page.locator("#wb-live-status")).to_have_text("Canlı")

        tile = page.locator(f'.wb-tile[data-agent="{agent.id}"]')
        await expect(tile.locator(".wb-name")).to_have_text("Deniz Yıldız")
        await expect(tile.locator(".wb-state")).to_have_text("Hazır")
        await expect(page.locator(f'.wb-tile[data-agent="{other.id}"] .wb-state')).to_have_text(
            "Çevrim içi, çağrı almıyor"
        )

        await states.execute(agent.id, Pause("lunch"))
        await expect(tile.locator(".wb-state")).to_have_text("Molada (Yemek)")
        await expect(tile).to_have_attribute("data-state", "paused")

        # A call of his ends: his figures, the team's and the top five follow, without reloading the page.
        await live_server.bus.publish(
            CallEnded(
                linkedid=f"call-{tag}", cause=16, cause_text="Normal Clearing", hung_up_by="customer",
                agent_id=agent.id, talk_seconds=42.0, hold_seconds=0.0,
            )
        )  # fmt: skip
        row = page.locator(f'#wb-figures tbody tr[data-agent="{agent.id}"]')
        await expect(row.locator('[data-figure="calls"]')).to_have_text("1")
        await expect(row.locator('[data-figure="avg_talk"]')).to_have_text("0:42")
        await expect(page.locator('#wb-figures [data-team-total] [data-figure="connected"]')).to_have_text("1")
        await expect(page.locator("#wb-top li")).to_have_text(["Deniz Yıldız 0 başarılı / 1 çağrı"])
        await page.screenshot(path=artifact("wallboard-tr.png"), full_page=True)
    finally:
        await context.close()
