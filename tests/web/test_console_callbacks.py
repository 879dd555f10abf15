"""The console's call-back list ("Geri aranacaklar") as an agent's browser uses it: the list of missed calls and his
call-backs, taking, releasing and dismissing an entry through the JSON endpoints (refusals in Turkish), a taken
entry's record on the preview card and dialed from it, and the list's events pushed on the live channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from agent_console.app import create_app
from callcenter.bootstrap import DialerRuntime
from callcenter.bus.events import utc_now
from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database, connect
from callcenter.metrics import Metrics
from config.settings import DatabaseSettings, Settings
from crm_core.audit.repository import SYSTEM
from crm_core.users.service import UserService
from dialer.callbacks.events import CallbackDue, CallbackScheduled, MissedCallCaptured
from dialer.callbacks.model import MissSource, Visibility
from dialer.callbacks.repository import MissedCallRepository
from dialer.campaigns.model import CampaignStatus, DialMode
from tests.conftest import MakeUser, create_database, csrf_from, drop_database, login
from tests.dialer.callbacks.conftest import T0, Desk, make_desk
from tests.dialer.campaigns.conftest import rig_running
from tests.web.test_live import Browser

Client = TestClient[Any, Any]
JSON = {"Accept": "application/json"}
UNKNOWN = "+905321112299"  # a caller with no record
ISTANBUL = ZoneInfo("Europe/Istanbul")


@pytest.fixture
async def desk(db: Database, memory_bus: InProcessBus) -> Desk:
    """Team Satış (ayse, burak), team Destek (cem); three records in a running preview campaign."""
    return await make_desk(db, memory_bus, ["0532 111 00 01", "0532 111 00 02", "0532 111 00 03"])


async def as_agent(client: Client, username: str) -> str:
    """Sign ``username`` in (signing out whoever was); the page's CSRF token."""
    client.session.cookie_jar.clear()
    assert (await login(client, username)).status == 302
    return await csrf_from(client, "/console")


async def entries(client: Client) -> list[dict[str, Any]]:
    response = await client.get("/console/callbacks", headers=JSON)
    assert response.status == 200, await response.text()
    listed: list[dict[str, Any]] = (await response.json())["entries"]
    return listed


async def act(client: Client, token: str, action: str, entry_id: object) -> Any:
    return await client.post(
        f"/console/callbacks/{action}", data={"entry_id": str(entry_id)}, headers={**JSON, "X-CSRF-Token": token}
    )


async def test_the_list_shows_missed_calls_and_the_agents_call_backs_oldest_first(client: Client, desk: Desk) -> None:
    r0, r1, r2 = desk.records
    desk.clock.at = T0 + timedelta(minutes=1)
    await desk.missed.capture_queue_abandon(UNKNOWN, "destek", "in-1", 12)
    desk.clock.at = T0 + timedelta(minutes=3)
    await desk.missed.capture_queue_abandon(UNKNOWN, "destek", "in-2", 40)  # the same number again: one line
    await desk.callbacks.schedule(
        desk.actor("ayse"), r0.id, T0 + timedelta(minutes=30), note="Fatura sorusu", visibility=Visibility.OWN
    )
    upcoming = utc_now() + timedelta(days=1)
    await desk.callbacks.schedule(desk.actor("ayse"), r1.id, upcoming, visibility=Visibility.TEAM)
    # A team mate's own call-back, due too: only his, never in her list.
    await desk.callbacks.schedule(desk.actor("burak"), r2.id, T0 + timedelta(minutes=10), visibility=Visibility.OWN)

    await as_agent(client, "ayse")
    page = await (await client.get("/console")).text()
    assert "Geri aranacaklar" in page and 'id="cb-list"' in page
    listed = await entries(client)
    assert [(e["kind_label"], e["phone"], e["name"], e["since_text"], e["misses"]) for e in listed] == [
        ("kaçan çağrı", UNKNOWN, "", "23.11.2026 10:01", 2),  # its first miss, in Istanbul time
        ("geri arama", r0.phone, "Müşteri 1", "23.11.2026 10:30", 0),
        ("geri arama", r1.phone, "Müşteri 2", upcoming.astimezone(ISTANBUL).strftime("%d.%m.%Y %H:%M"), 0),
    ]
    assert listed[1]["note"] == "Fatura sorusu"
    assert listed[2]["since"] == upcoming.isoformat()  # not due yet: the page shows its time, not a wait
    assert r2.phone not in {e["phone"] for e in listed}
    assert listed[0]["entry_id"] is not None and listed[1]["entry_id"] is None  # only missed calls are taken

    # Burak sees his own call-back and the missed call, not Ayşe's own one.
    await as_agent(client, "burak")
    assert [(e["kind"], e["phone"]) for e in await entries(client)] == [("missed", UNKNOWN), ("callback", r2.phone)]


async def test_take_release_and_dismiss_an_entry_through_the_endpoints(
    client: Client, desk: Desk, db: Database
) -> None:
    await desk.missed.capture_queue_abandon(UNKNOWN, "destek", "in-1", 12)
    token = await as_agent(client, "ayse")
    [entry] = await entries(client)
    entry_id = entry["entry_id"]

    response = await act(client, token, "take", entry_id)
    assert response.status == 200, await response.text()
    taken = await response.json()
    assert taken["taken"] == entry_id and taken["record"] is None and taken["phone"] == UNKNOWN
    assert taken["note"] == "Bu numaranın bir kaydı yok: şimdilik yalnızca kapatılabilir."
    assert [e["mine"] for e in await entries(client)] == [True]
    response = await act(client, token, "take", entry_id)  # asked again: still hers, the same answer
    assert (await response.json()) == taken

    # Another agent can neither take nor close what she took.
    other = await as_agent(client, "burak")
    assert await entries(client) == []
    for action in ("take", "dismiss", "release"):
        response = await act(client, other, action, entry_id)
        assert response.status == 409
        assert (await response.json())["message"] == "Bu kaydı başka bir temsilci aldı."

    token = await as_agent(client, "ayse")
    response = await act(client, token, "release", entry_id)
    assert response.status == 200
    assert [e["mine"] for e in await entries(client)] == [False]

    other = await as_agent(client, "burak")
    assert [e["phone"] for e in await entries(client)] == [UNKNOWN]  # back on everyone's list
    response = await act(client, other, "dismiss", entry_id)
    assert response.status == 200
    assert await entries(client) == []
    async with db.acquire() as conn:
        row = await conn.fetchrow("SELECT status, close_reason, closed_by FROM missed_calls WHERE id = $1", entry_id)
    assert dict(row) == {"status": "closed", "close_reason": "dismissed", "closed_by": desk.users["burak"]}
    response = await act(client, other, "take", entry_id)
    assert (await response.json())["message"] == "Bu kayıt artık listede değil."

    response = await act(client, other, "take", "abc")
    assert response.status == 400 and (await response.json())["message"] == "İstek anlaşılamadı."
    response = await client.post("/console/callbacks/take", data={"entry_id": str(entry_id)}, headers=JSON)
    assert response.status == 403  # no CSRF token


async def test_a_taken_entry_with_a_record_comes_on_the_preview_card_and_is_dialed_from_it(settings: Settings) -> None:
    url = await create_database("callcenter_console_cb", migrated=True)
    db = await connect(DatabaseSettings(url=url, pool_min_size=2, pool_max_size=12, migrate_on_start=False))
    try:
        async with rig_running(db, speed=25.0) as rig:
            await rig.team_of_agents(1)
            pool = await rig.pool(["0532 111 00 01", "0532 111 00 02"])
            campaign = await rig.campaign(DialMode.PREVIEW, pool)
            await rig.dialer.campaigns.set_status(rig.admin, campaign.id, CampaignStatus.RUNNING)
            # The record was dialed once: the customer answered, no agent took the call; it waits in the campaign.
            async with db.acquire() as conn:
                record = await conn.fetchrow(
                    "SELECT id, phone FROM pool_records WHERE pool_id = $1 ORDER BY id DESC LIMIT 1", pool
                )
                assert record is not None
                await conn.execute(
                    "UPDATE pool_records SET campaign_id = $2, status = 'assigned', attempts = 1 WHERE id = $1",
                    record["id"],
                    campaign.id,
                )
                missed = await MissedCallRepository(conn).record_miss(
                    call_id="abandoned-1",
                    phone=record["phone"],
                    source=MissSource.CAMPAIGN_ABANDON,
                    at=rig.now(),
                    pool_record_id=record["id"],
                    campaign_id=campaign.id,
                )
                second = await MissedCallRepository(conn).record_miss(
                    call_id="abandoned-2", phone=UNKNOWN, source=MissSource.QUEUE_ABANDON, at=rig.now()
                )
            assert missed is not None and second is not None
            runtime = DialerRuntime(rig.engine, rig.agents, rig.directory, rig.dialer, [])
            async with TestClient(TestServer(create_app(settings, db, rig.bus, Metrics(), runtime))) as client:
                token = await as_agent(client, "ajan1")
                listed = await entries(client)
                assert [(e["phone"], e["name"], e["record_id"]) for e in listed] == [
                    (record["phone"], "Müşteri 2", record["id"]),  # the record's name where the call left none
                    (UNKNOWN, "", None),
                ]
                response = await act(client, token, "take", missed.id)
                assert response.status == 200, await response.text()
                card = await response.json()
                assert card["record"]["id"] == record["id"] and card["record"]["name"] == "Müşteri 2"
                assert card["campaign_id"] == campaign.id and card["call_id"] is None
                assert "call_back" in [d["code"] for d in card["dispositions"]]

                # Asked again (a second click, a reload), the same card; another entry waits for this record.
                again = await (await act(client, token, "take", missed.id)).json()
                assert again["record"]["id"] == record["id"]
                response = await act(client, token, "take", second.id)
                assert response.status == 409
                assert (await response.json())["message"] == "Önce karttaki kaydı arayın ya da geçin."
                # The preview's dial takes it from the card.
                for state in ("login", "ready"):
                    response = await client.post(f"/console/state/{state}", headers={**JSON, "X-CSRF-Token": token})
                    assert response.status == 200, await response.text()
                response = await client.post(
                    "/console/preview/dial",
                    data={"record_id": str(record["id"])},
                    headers={**JSON, "X-CSRF-Token": token},
                )
                assert response.status == 200, await response.text()
                assert (await response.json())["call_id"]
    finally:
        await db.close()
        await drop_database(url)


# -- pushed ---------------------------------------------------------------------------------------------------------


@pytest.fixture
async def browsers(client: Client) -> AsyncIterator[Any]:
    opened: list[Browser] = []

    def new() -> Browser:
        browser = Browser(client)
        opened.append(browser)
        return browser

    yield new
    for browser in opened:
        await browser.close()


def due(owner: int, team: int | None, visibility: str, *, escalated: bool, callback_id: int = 1) -> CallbackDue:
    return CallbackDue(
        callback_id=callback_id,
        record_id=None,
        owner_id=owner,
        team_id=team,
        visibility=visibility,
        phone="+905321110001",
        due_at=T0.isoformat(),
        note="",
        escalated=escalated,
    )


async def test_the_live_channel_pushes_his_call_backs_and_every_missed_call_not_another_teams_own(
    browsers: Any, make_user: MakeUser, db: Database, memory_bus: InProcessBus
) -> None:
    users = UserService(db, memory_bus)
    team_a = await users.create_team(SYSTEM, "A Takımı")
    team_b = await users.create_team(SYSTEM, "B Takımı")
    ajan1 = await make_user("ajan1", team_id=team_a.id)
    ajan2 = await make_user("ajan2", team_id=team_a.id)
    ajan3 = await make_user("ajan3", team_id=team_b.id)
    first, third = browsers(), browsers()
    for browser, name in ((first, "ajan1"), (third, "ajan3")):
        await browser.login(name)
        await browser.connect()
        assert (await browser.next())["type"] == "snapshot"

    def scheduled(owner: int, team: int) -> CallbackScheduled:
        return CallbackScheduled(
            callback_id=9, record_id=None, owner_id=owner, team_id=team, visibility="own", due_at="", actor_id=owner
        )

    await memory_bus.publish(scheduled(ajan3.id, team_b.id))  # another team's own call-back
    await memory_bus.publish(due(ajan3.id, team_b.id, "team", escalated=True, callback_id=9))  # handed to team B
    await memory_bus.publish(due(ajan2.id, team_a.id, "own", escalated=False, callback_id=2))  # a team mate's own
    await memory_bus.publish(due(ajan1.id, team_a.id, "own", escalated=False, callback_id=3))  # his
    await memory_bus.publish(
        MissedCallCaptured(
            missed_call_id=5, phone=UNKNOWN, source="queue_abandon", misses=1, first_missed_at="", call_id="in-1"
        )
    )
    await memory_bus.publish(due(ajan2.id, team_a.id, "team", escalated=True, callback_id=4))  # handed to team A

    got = [await first.next_event() for _ in range(3)]
    assert [(m["stream"], m["event"]["type"], m["event"]["data"].get("callback_id")) for m in got] == [
        ("callbacks", "CallbackDue", 3),
        ("callbacks", "MissedCallCaptured", None),
        ("callbacks", "CallbackDue", 4),
    ]
    got = [await third.next_event() for _ in range(3)]
    assert [(m["event"]["type"], m["event"]["data"].get("callback_id")) for m in got] == [
        ("CallbackScheduled", 9),
        ("CallbackDue", 9),
        ("MissedCallCaptured", None),
    ]
