"""The live channel (``GET /live``): who receives what, resume after a reconnect, snapshots, slow browsers, sign-out.

Each "browser" is its own HTTP session with its own cookie jar, signed in through the real login form; events come
from the real services (agent states, users) or are published on the real bus (in-process; Redis for the test of two
servers).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from agent_console.app import create_app
from agent_console.keys import LIVE
from callcenter.bus.memory import InProcessBus
from callcenter.bus.redis import RedisBus
from callcenter.db.database import Database
from callcenter.metrics import Metrics
from config.settings import Settings
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role
from crm_core.users.service import UserChanges, UserService
from dialer.agents.service import AgentStateService
from dialer.campaigns.events import CampaignStatusChanged
from dialer.events import AgentPaused, AgentRinging, CallConnectedToAgent, CallDialing, CallHeld
from dialer.state.agent_commands import GoReady, LogIn, Pause
from tests.conftest import MakeUser

PASSWORD = "dogru-parola-1"
REDIS_URL = os.environ.get("CALLCENTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")  # as tests/bus


class Browser:
    """One browser: its own cookies, signed in as one user, with at most one live socket at a time."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def csrf(self, path: str) -> str:
        async with self.http.get(self.url(path)) as response:
            html = await response.text()
        marker = 'name="_csrf" value="'
        start = html.index(marker) + len(marker)
        return html[start : html.index('"', start)]

    async def login(self, username: str) -> None:
        token = await self.csrf("/login")
        async with self.http.post(
            self.url("/login"),
            data={"_csrf": token, "username": username, "password": PASSWORD},
            allow_redirects=False,
        ) as response:
            assert response.status == 302, await response.text()

    async def logout(self) -> None:
        token = await self.csrf("/console")
        async with self.http.post(self.url("/logout"), data={"_csrf": token}, allow_redirects=False) as response:
            assert response.status == 302

    async def connect(self, hello: dict[str, Any] | None = None, *, origin: str | None = None) -> dict[str, Any]:
        """Open the socket, say hello; returns the welcome message."""
        headers = {"Origin": origin or self.url("/").rstrip("/")}
        self.ws = await self.http.ws_connect(self.url("/live"), headers=headers)
        await self.ws.send_str(json.dumps({"hello": hello or {}}))
        welcome = await self.next()
        assert welcome["type"] == "welcome", welcome
        return welcome

    async def next(self) -> dict[str, Any]:
        assert self.ws is not None
        msg = await asyncio.wait_for(self.ws.receive(), 10)
        assert msg.type is WSMsgType.TEXT, (msg.type, msg.data, self.ws.close_code)
        message: dict[str, Any] = json.loads(msg.data)
        return message

    async def next_event(self) -> dict[str, Any]:
        """The next event message (position markers skipped)."""
        while True:
            message = await self.next()
            if message["type"] == "event":
                return message
            assert message["type"] == "position", message

    async def closed_with(self) -> int | None:
        """Read until the server closes the socket; its close code."""
        assert self.ws is not None
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 20)
            if msg.type is WSMsgType.CLOSE:
                return int(msg.data)
            if msg.type in (WSMsgType.CLOSED, WSMsgType.CLOSING):
                return self.ws.close_code

    async def disconnect(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def close(self) -> None:
        await self.disconnect()
        await self.http.close()


@pytest.fixture
async def browsers(client: TestClient[Any, Any]) -> AsyncIterator[Any]:
    opened: list[Browser] = []

    def new() -> Browser:
        browser = Browser(client)
        opened.append(browser)
        return browser

    yield new
    for browser in opened:
        await browser.close()


@pytest.fixture
async def people(db: Database, memory_bus: InProcessBus, make_user: MakeUser) -> dict[str, Any]:
    """Team A (leader ``lider``, agents ``ajan1``, ``ajan2``), team B (agent ``ajan3``), supervisor ``sef``."""
    users = UserService(db, memory_bus)
    lider = await make_user("lider", role=Role.TEAM_LEADER)
    team_a = await users.create_team(SYSTEM, "A Takımı", lider.id)
    team_b = await users.create_team(SYSTEM, "B Takımı")
    ajan1 = await make_user("ajan1", team_id=team_a.id, full_name="Ayşe Ajan")
    ajan2 = await make_user("ajan2", team_id=team_a.id, full_name="Burak Ajan")
    ajan3 = await make_user("ajan3", team_id=team_b.id, full_name="Cem Ajan")
    sef = await make_user("sef", role=Role.SUPERVISOR)
    return {"lider": lider, "ajan1": ajan1, "ajan2": ajan2, "ajan3": ajan3, "sef": sef, "a": team_a, "b": team_b}


def who(message: dict[str, Any]) -> tuple[str, Any]:
    """(event type, the agent it concerns) of an event message."""
    data = message["event"]["data"]
    return message["event"]["type"], data.get("user_id", data.get("agent_id"))


async def test_refused_without_a_session(browsers: Any) -> None:
    browser = browsers()
    browser.ws = await browser.http.ws_connect(browser.url("/live"))
    assert await browser.closed_with() == 4401


async def test_refused_from_a_foreign_site(browsers: Any, people: dict[str, Any]) -> None:
    browser = browsers()
    await browser.login("ajan1")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await browser.connect(origin="https://kotu.example")
    assert refused.value.status == 403


async def test_team_leader_without_a_team_is_refused(browsers: Any, make_user: MakeUser) -> None:
    await make_user("yalniz", role=Role.TEAM_LEADER)
    browser = browsers()
    await browser.login("yalniz")
    browser.ws = await browser.http.ws_connect(browser.url("/live"))
    assert await browser.closed_with() == 4403


async def test_agent_gets_his_own_and_his_teams_states_not_another_teams(
    browsers: Any, people: dict[str, Any], db: Database, memory_bus: InProcessBus
) -> None:
    ajan1, ajan2, ajan3 = people["ajan1"], people["ajan2"], people["ajan3"]
    browser = browsers()
    await browser.login("ajan1")
    await browser.connect()
    snapshot = await browser.next()
    assert snapshot["type"] == "snapshot"
    assert {a["username"]: a["state"] for a in snapshot["agents"]} == {"ajan1": "logged_out", "ajan2": "logged_out"}

    agents = AgentStateService(db, memory_bus)
    await agents.execute(ajan3.id, LogIn())  # another team
    await agents.execute(ajan2.id, LogIn(ready=True))  # a team mate: the leaderboard
    await memory_bus.publish(CallConnectedToAgent(linkedid="call-ajan2", agent_id=ajan2.id))  # not his call
    await memory_bus.publish(CallConnectedToAgent(linkedid="call-ajan1", agent_id=ajan1.id))
    await agents.execute(ajan1.id, LogIn())

    assert who(await browser.next_event()) == ("AgentLoggedIn", ajan2.id)
    ready = await browser.next_event()
    assert who(ready) == ("AgentBecameReady", ajan2.id)
    call = await browser.next_event()
    assert who(call) == ("CallConnectedToAgent", ajan1.id)
    assert call["stream"] == "calls" and call["event"]["data"]["linkedid"] == "call-ajan1"
    own = await browser.next_event()
    assert who(own) == ("AgentLoggedIn", ajan1.id)
    assert own["prev"] == ready["seq"]  # ajan3's events were never sent: the chain of seqs has no gap


async def test_an_agent_gets_every_event_of_his_calls_and_sees_them_in_the_snapshot(
    browsers: Any, people: dict[str, Any], memory_bus: InProcessBus
) -> None:
    ajan1, ajan2 = people["ajan1"], people["ajan2"]
    # Calls already up when the page opens: one of his, one of a team mate's.
    await memory_bus.publish(CallDialing(linkedid="up-1", destination="05321234567"))
    await memory_bus.publish(CallConnectedToAgent(linkedid="up-1", agent_id=ajan1.id))
    await memory_bus.publish(CallConnectedToAgent(linkedid="up-2", agent_id=ajan2.id))
    browser = browsers()
    await browser.login("ajan1")
    await browser.connect()
    snapshot = await browser.next()
    assert [(c["linkedid"], c["status"], c["agent_id"]) for c in snapshot["calls"]] == [("up-1", "connected", ajan1.id)]

    # A call's later events name no agent: the hub knows whose call it is from the ring.
    await memory_bus.publish(AgentRinging(user_id=ajan2.id, call_id="c-2"))
    await memory_bus.publish(AgentRinging(user_id=ajan1.id, call_id="c-1"))
    await memory_bus.publish(CallHeld(linkedid="c-2"))
    await memory_bus.publish(CallHeld(linkedid="c-1"))
    assert who(await browser.next_event()) == ("AgentRinging", ajan2.id)  # the leaderboard: his state only
    assert who(await browser.next_event()) == ("AgentRinging", ajan1.id)
    held = await browser.next_event()
    assert (held["event"]["type"], held["event"]["data"]["linkedid"]) == ("CallHeld", "c-1")


async def test_team_leader_gets_his_team_and_its_calls(
    browsers: Any, people: dict[str, Any], db: Database, memory_bus: InProcessBus
) -> None:
    ajan2, ajan3 = people["ajan2"], people["ajan3"]
    browser = browsers()
    await browser.login("lider")
    await browser.connect()
    snapshot = await browser.next()
    assert sorted(a["username"] for a in snapshot["agents"]) == ["ajan1", "ajan2"]

    agents = AgentStateService(db, memory_bus)
    await agents.execute(ajan3.id, LogIn())
    await memory_bus.publish(CallConnectedToAgent(linkedid="call-3", agent_id=ajan3.id))
    await agents.execute(ajan2.id, LogIn())
    await memory_bus.publish(CallConnectedToAgent(linkedid="call-2", agent_id=ajan2.id))
    await agents.execute(ajan2.id, Pause("lunch"))

    assert who(await browser.next_event()) == ("AgentLoggedIn", ajan2.id)
    assert who(await browser.next_event()) == ("CallConnectedToAgent", ajan2.id)
    paused = await browser.next_event()
    assert who(paused) == ("AgentPaused", ajan2.id) and paused["event"]["data"]["reason"] == "lunch"


async def test_supervisor_gets_everything(
    browsers: Any, people: dict[str, Any], db: Database, memory_bus: InProcessBus
) -> None:
    browser = browsers()
    await browser.login("sef")
    await browser.connect()
    snapshot = await browser.next()
    assert sorted(a["username"] for a in snapshot["agents"]) == ["ajan1", "ajan2", "ajan3"]

    await AgentStateService(db, memory_bus).execute(people["ajan3"].id, LogIn())
    await memory_bus.publish(CampaignStatusChanged(campaign_id=7, status="running", actor_id=None))
    assert who(await browser.next_event()) == ("AgentLoggedIn", people["ajan3"].id)
    campaign = await browser.next_event()
    assert campaign["stream"] == "campaigns" and campaign["event"]["type"] == "CampaignStatusChanged"


async def test_resume_after_reconnect_delivers_exactly_the_missed_events_in_order(
    browsers: Any, people: dict[str, Any], db: Database, memory_bus: InProcessBus
) -> None:
    ajan1, ajan3 = people["ajan1"], people["ajan3"]
    agents = AgentStateService(db, memory_bus)
    browser = browsers()
    await browser.login("ajan1")
    welcome = await browser.connect()
    snapshot = await browser.next()
    await agents.execute(ajan1.id, LogIn())
    seen = await browser.next_event()
    last = {**snapshot["seqs"], "agents": seen["seq"]}
    await browser.disconnect()

    # While the browser is away: three changes of his own, one of another team.
    await agents.execute(ajan1.id, GoReady())
    await agents.execute(ajan3.id, LogIn())
    await agents.execute(ajan1.id, Pause("break"))
    await memory_bus.publish(CallConnectedToAgent(linkedid="missed-call", agent_id=ajan1.id))

    again = await browser.connect({"epoch": welcome["epoch"], "resume": last})
    assert again["resumed"] is True
    missed = [await browser.next() for _ in range(3)]
    assert [who(m) for m in missed] == [
        ("AgentBecameReady", ajan1.id),
        ("AgentPaused", ajan1.id),
        ("CallConnectedToAgent", ajan1.id),
    ]
    assert [m["prev"] for m in missed] == [last["agents"], missed[0]["seq"], last["calls"]]
    position = await browser.next()
    assert position == {
        "type": "position",
        "seqs": {"agents": missed[1]["seq"], "calls": missed[2]["seq"], "campaigns": 0, "callbacks": 0},
    }

    # Then live again, nothing twice.
    await agents.execute(ajan1.id, GoReady())
    live = await browser.next_event()
    assert who(live) == ("AgentBecameReady", ajan1.id) and live["prev"] == missed[1]["seq"]


async def test_on_the_redis_bus_a_browser_resumes_on_another_server(
    settings: Settings, db: Database, people: dict[str, Any]
) -> None:
    """Two web processes on one Redis bus: a browser whose server went away resumes on the other one."""
    ajan1 = people["ajan1"]
    prefix = f"test-live-{uuid.uuid4().hex[:12]}"
    buses = [RedisBus(REDIS_URL, key_prefix=prefix, block_ms=3000, timeout=2.0) for _ in range(3)]
    for bus in buses:
        await bus.start()
    first_bus, second_bus, service_bus = buses
    agents = AgentStateService(db, service_bus)
    try:
        async with TestClient(TestServer(create_app(settings, db, first_bus, Metrics()))) as first:
            browser = Browser(first)
            await browser.login("ajan1")
            welcome = await browser.connect()
            snapshot = await browser.next()
            await agents.execute(ajan1.id, LogIn())
            seen = await browser.next_event()
            assert who(seen) == ("AgentLoggedIn", ajan1.id)
            await browser.disconnect()
            resume = {**snapshot["seqs"], "agents": seen["seq"]}
        await agents.execute(ajan1.id, GoReady())
        await agents.execute(ajan1.id, Pause("meeting"))
        async with TestClient(TestServer(create_app(settings, db, second_bus, Metrics()))) as second:
            browser.client = second  # the same browser (cookies): the same session, on the other server
            again = await browser.connect({"epoch": welcome["epoch"], "resume": resume})
            assert again["resumed"] is True
            missed = [await browser.next() for _ in range(2)]
            assert [who(m) for m in missed] == [("AgentBecameReady", ajan1.id), ("AgentPaused", ajan1.id)]
            assert missed[0]["prev"] == seen["seq"]
            await agents.execute(ajan1.id, GoReady())
            live = await browser.next_event()
            assert who(live) == ("AgentBecameReady", ajan1.id) and live["prev"] == missed[1]["seq"]
            await browser.close()
    finally:
        for bus in buses:
            await bus.close()
        admin = aioredis.Redis.from_url(REDIS_URL)
        keys = [key async for key in admin.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await admin.delete(*keys)
        await admin.aclose()


async def test_a_gap_in_the_history_gives_a_snapshot(
    settings: Settings, db: Database, memory_bus: InProcessBus, people: dict[str, Any]
) -> None:
    ajan1 = people["ajan1"]
    short = InProcessBus(history=3)
    async with TestClient(TestServer(create_app(settings, db, short, Metrics()))) as client:
        browser = Browser(client)
        try:
            await browser.login("ajan1")
            welcome = await browser.connect()
            snapshot = await browser.next()
            await browser.disconnect()
            agents = AgentStateService(db, short)
            await agents.execute(ajan1.id, LogIn())
            await agents.execute(ajan1.id, GoReady())
            await agents.execute(ajan1.id, Pause("lunch"))
            await agents.execute(ajan1.id, GoReady())
            await agents.execute(ajan1.id, Pause("training"))  # seq 1 and 2 are gone from the history

            again = await browser.connect({"epoch": welcome["epoch"], "resume": snapshot["seqs"]})
            assert again["resumed"] is False
            fresh = await browser.next()
            assert fresh["type"] == "snapshot" and fresh["seqs"]["agents"] == 5
            mine = next(a for a in fresh["agents"] if a["user_id"] == ajan1.id)
            assert (mine["state"], mine["reason"]) == ("paused", "training")
        finally:
            await browser.close()
            await short.close()


async def test_a_stalled_browser_is_cut_off_while_another_keeps_receiving(
    client: TestClient[Any, Any], browsers: Any, people: dict[str, Any], memory_bus: InProcessBus
) -> None:
    client.app[LIVE].queue_size = 4
    stalled, steady = browsers(), browsers()
    await stalled.login("sef")
    await steady.login("sef")
    await stalled.connect()
    await stalled.next()  # the snapshot; from now on this browser never reads
    await steady.connect()
    await steady.next()
    hub = client.app[LIVE]
    sent = 0
    # Events of 64 KB (random: no compression) fill the stalled socket's buffers, then its queue of 4.
    while len(hub.connections) == 2 and sent < 1000:
        await memory_bus.publish(AgentPaused(user_id=people["ajan1"].id, reason=secrets.token_hex(32 * 1024)))
        sent += 1
        received = await steady.next_event()
        assert received["seq"] == sent
    assert len(hub.connections) == 1, "the stalled browser was never cut off"

    await memory_bus.publish(AgentPaused(user_id=people["ajan1"].id, reason="lunch"))
    assert (await steady.next_event())["event"]["data"]["reason"] == "lunch"
    assert await stalled.closed_with() == 4408


async def test_signing_out_closes_the_socket(
    browsers: Any, people: dict[str, Any], db: Database, memory_bus: InProcessBus
) -> None:
    tab, other_device = browsers(), browsers()
    await tab.login("ajan1")
    await other_device.login("ajan1")
    await tab.connect()
    await tab.next()
    await other_device.connect()
    await other_device.next()

    await tab.logout()
    assert await tab.closed_with() == 4401
    # The session of his other device is still valid: that socket stays open and keeps receiving.
    await AgentStateService(db, memory_bus).execute(people["ajan1"].id, LogIn())
    assert who(await other_device.next_event()) == ("AgentLoggedIn", people["ajan1"].id)


async def test_moving_an_agent_to_another_team_makes_his_page_start_over(
    browsers: Any, people: dict[str, Any], db: Database, memory_bus: InProcessBus
) -> None:
    browser = browsers()
    await browser.login("ajan1")
    await browser.connect()
    await browser.next()
    await UserService(db, memory_bus).update_user(SYSTEM, people["ajan1"].id, UserChanges(team_id=people["b"].id))
    assert await browser.closed_with() == 4409

    # Reconnecting, he gets a snapshot of his new team, and its agents' changes from now on.
    again = await browser.connect()
    assert again["user"]["team_id"] == people["b"].id
    fresh = await browser.next()
    assert sorted(a["username"] for a in fresh["agents"]) == ["ajan1", "ajan3"]
    await AgentStateService(db, memory_bus).execute(people["ajan2"].id, LogIn())  # his old team
    await AgentStateService(db, memory_bus).execute(people["ajan3"].id, LogIn())  # his new team
    assert who(await browser.next_event()) == ("AgentLoggedIn", people["ajan3"].id)


async def test_an_expired_session_closes_the_socket(
    client: TestClient[Any, Any], browsers: Any, people: dict[str, Any], db: Database
) -> None:
    hub = client.app[LIVE]
    hub.heartbeat, hub.session_check = 0.05, 0  # check the session at every heartbeat
    browser = browsers()
    await browser.login("ajan1")
    await browser.connect()
    assert (await browser.next())["type"] == "snapshot"
    async with db.acquire() as conn:
        await conn.execute(
            "UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1", people["ajan1"].id
        )
    assert await browser.closed_with() == 4401


async def test_a_bad_hello_is_refused(browsers: Any, people: dict[str, Any]) -> None:
    browser = browsers()
    await browser.login("ajan1")
    browser.ws = await browser.http.ws_connect(browser.url("/live"))
    await browser.ws.send_str('{"merhaba": 1}')
    assert await browser.closed_with() == 4400
