"""The live channel in real Chromium: the agent console shows the agent's state as soon as it changes."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.async_api import Browser, expect

from agent_console.keys import LIVE
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role
from crm_core.users.service import UserService
from dialer.agents.service import AgentStateService
from dialer.state.agent_commands import GoReady, LogIn, Pause
from tests.browser.conftest import artifact


async def test_the_console_shows_the_agents_state_pushed_live(browser: Browser, live_server: Any) -> None:
    username = f"ajan{uuid.uuid4().hex[:6]}"
    agent = await UserService(live_server.db, live_server.bus).create_user(
        SYSTEM, username=username, full_name="Deniz Yıldız", role=Role.AGENT, password="gizli-parola-9"
    )
    states = AgentStateService(live_server.db, live_server.bus)
    base = str(live_server.make_url("/")).rstrip("/")
    context = await browser.new_context(locale="tr-TR")
    page = await context.new_page()
    try:
        await page.goto(base + "/login")
        await page.get_by_label("Kullanıcı adı").fill(username)
        await page.get_by_label("Parola").fill("gizli-parola-9")
        await page.get_by_role("button", name="Giriş yap").click()
        await expect(page).to_have_url(f"{base}/console")
        state = page.locator("#agent-state")
        await expect(page.get_by_role("status")).to_have_text("Canlı")
        await expect(state).to_have_text("Çevrim dışı")  # from the snapshot: he never logged in to the dialer

        await states.execute(agent.id, LogIn(ready=True))
        await expect(state).to_have_text("Hazır")
        await states.execute(agent.id, Pause("lunch"))
        await expect(state).to_have_text("Molada")
        await page.screenshot(path=artifact("console-live-state-tr.png"), full_page=True)

        # The server cuts the socket (as it does a slow browser): the page reconnects, resumes, misses nothing.
        await live_server.app[LIVE].close_all(4408, "too slow: resync")
        await states.execute(agent.id, GoReady())
        await expect(state).to_have_text("Hazır")
        await expect(page.get_by_role("status")).to_have_text("Canlı")
        last = await live_server.bus.last_seq("agents")
        assert await page.evaluate("window.callCenterLive.seqs.agents") == last

        # An event whose predecessor never arrived (a gap): the page asks for a resync and gets a snapshot.
        gap = {
            "type": "event",
            "stream": "agents",
            "seq": last + 7,
            "prev": last + 6,
            "event": {"type": "AgentLoggedOut", "version": 1, "data": {"user_id": agent.id}},
        }
        await page.evaluate("(m) => window.callCenterLive.receive(m)", gap)
        await page.wait_for_function(f"window.callCenterLive.seqs && window.callCenterLive.seqs.agents === {last}")
        await expect(state).to_have_text("Hazır")  # the gap's event was not applied; the snapshot holds the truth
    finally:
        await context.close()
