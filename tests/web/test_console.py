"""The agent console's state bar and preview endpoints as an agent's browser uses them: JSON for the page's script,
plain form posts without it, refusals in Turkish, and preview dialing when this server runs no dialer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer

from agent_console.app import create_app
from callcenter.bootstrap import DialerRuntime
from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database, connect
from callcenter.metrics import Metrics
from config.settings import DatabaseSettings, Settings
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role, User
from crm_core.users.service import UserService
from dialer.agents.service import AgentStateService
from dialer.campaigns.model import CampaignStatus, DialMode
from dialer.state.agent import AgentStatus
from dialer.state.agent_commands import Answer, LogIn, Reserve
from tests.conftest import MakeUser, create_database, csrf_from, drop_database, login
from tests.dialer.campaigns.conftest import eventually, rig_running

Client = TestClient[Any, Any]
JSON = {"Accept": "application/json"}


async def sign_in(client: Client, make_user: MakeUser, username: str = "ajan", role: Role = Role.AGENT) -> User:
    user = await make_user(username, role=role)
    response = await login(client, username)
    assert response.status == 302, await response.text()
    return user


async def act(client: Client, action: str, **fields: str) -> Any:
    """What console.js sends: the page's CSRF token in the header, JSON asked for."""
    token = await csrf_from(client, "/console")
    return await client.post(
        f"/console/state/{action}", data=fields, headers={**JSON, "X-CSRF-Token": token}, allow_redirects=False
    )


async def stored_state(db: Database, user_id: int) -> tuple[str, str | None]:
    async with db.acquire() as conn:
        row = await conn.fetchrow("SELECT state, reason FROM agent_states WHERE user_id = $1", user_id)
    assert row is not None
    return row["state"], row["reason"]


async def test_the_agent_moves_through_his_states_from_the_state_bar(
    client: Client, make_user: MakeUser, db: Database
) -> None:
    agent = await sign_in(client, make_user)

    response = await act(client, "login")
    assert response.status == 200, await response.text()
    assert (await response.json())["state"] == "online_not_taking"  # as the machine says: not ready at once
    assert await stored_state(db, agent.id) == ("online_not_taking", None)

    response = await act(client, "ready")
    assert (await response.json())["state"] == "ready"
    assert await stored_state(db, agent.id) == ("ready", None)

    response = await act(client, "pause", reason="lunch")
    assert (await response.json()) == {"state": "paused", "reason": "lunch", "scheduled": None}
    assert await stored_state(db, agent.id) == ("paused", "lunch")

    response = await act(client, "online")
    assert (await response.json())["state"] == "online_not_taking"

    response = await act(client, "logout")
    assert (await response.json())["state"] == "logged_out"
    assert await stored_state(db, agent.id) == ("logged_out", None)
    async with db.acquire() as conn:
        periods = await conn.fetch("SELECT state FROM agent_state_log WHERE user_id = $1 ORDER BY id", agent.id)
    assert [p["state"] for p in periods] == ["online_not_taking", "ready", "paused", "online_not_taking", "logged_out"]


async def test_the_state_bar_works_as_plain_form_posts(client: Client, make_user: MakeUser, db: Database) -> None:
    agent = await sign_in(client, make_user)
    page = await client.get("/console")
    html = await page.text()
    # The configured pause reasons are offered; the dialer's own "auto" pause is not.
    assert '<option value="lunch">Yemek</option>' in html and '<option value="training">Eğitim</option>' in html
    assert 'value="auto"' not in html

    token = await csrf_from(client, "/console")
    response = await client.post("/console/state/login", data={"_csrf": token}, allow_redirects=False)
    assert response.status == 303
    followed = await client.get(response.headers["Location"])
    assert "Durumunuz değiştirildi." in await followed.text()
    assert await stored_state(db, agent.id) == ("online_not_taking", None)

    response = await client.post("/console/state/pause", data={"_csrf": token, "reason": "training"})
    assert response.status == 200  # followed back to the console
    assert await stored_state(db, agent.id) == ("paused", "training")

    # A refusal comes back on the page, in Turkish.
    response = await client.post("/console/state/login", data={"_csrf": token})
    assert "Oturumunuz zaten açık." in await response.text()


async def test_refusals_are_explained_in_turkish(client: Client, make_user: MakeUser, db: Database) -> None:
    agent = await sign_in(client, make_user)

    response = await act(client, "ready")
    assert response.status == 409
    assert (await response.json()) == {"error": "console.error.log_in_first", "message": "Önce oturum açın."}

    await act(client, "login")
    response = await act(client, "login")
    assert (await response.json())["message"] == "Oturumunuz zaten açık."

    response = await act(client, "pause", reason="auto")  # known, but not the agent's to choose
    assert response.status == 400
    assert await stored_state(db, agent.id) == ("online_not_taking", None)
    response = await act(client, "pause", reason="kahve")
    assert response.status == 400
    assert (await response.json())["message"] == "Bu mola nedeni tanımlı değil."
    response = await act(client, "pause")
    assert (await response.json())["message"] == "Bir mola nedeni seçin."
    assert await stored_state(db, agent.id) == ("online_not_taking", None)

    client.session.cookie_jar.update_cookies({"cc_lang": "en"})  # English second
    response = await act(client, "login")
    assert (await response.json())["message"] == "You are already logged in."


async def test_a_pause_asked_for_during_a_call_waits_for_its_end(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus
) -> None:
    agent = await sign_in(client, make_user)
    states = AgentStateService(db, memory_bus)
    await states.execute(agent.id, LogIn(ready=True))
    await states.execute(agent.id, Reserve("dialer-1"))
    await states.execute(agent.id, Answer("dialer-1"))

    response = await act(client, "pause", reason="break")
    assert (await response.json()) == {"state": "on_call", "reason": None, "scheduled": "paused"}
    assert await stored_state(db, agent.id) == ("on_call", None)  # the call is never cut by a pause


async def test_the_state_bar_needs_the_console_permission_and_the_csrf_token(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus
) -> None:
    supervisor = await make_user("denetci", role=Role.SUPERVISOR)
    await UserService(db, memory_bus).set_permissions(SYSTEM, supervisor.id, {"console.use": False})
    assert (await login(client, "denetci")).status == 302
    token = await csrf_from(client, "/login")  # any page with a form: the session's token
    for path in ("/console/state/login", "/console/preview/next"):
        response = await client.post(path, data={"_csrf": token}, headers=JSON, allow_redirects=False)
        assert response.status == 403, path
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM agent_states WHERE user_id = $1", supervisor.id) == 0

    client.session.cookie_jar.clear()
    agent = await sign_in(client, make_user)
    response = await client.post("/console/state/login", headers=JSON, allow_redirects=False)
    assert response.status == 403  # no CSRF token
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM agent_states WHERE user_id = $1", agent.id) == 0


async def test_preview_without_a_dialer_says_dialing_is_not_available(client: Client, make_user: MakeUser) -> None:
    await sign_in(client, make_user)
    page = await (await client.get("/console")).text()
    assert "Arama şu an kullanılamıyor" in page
    assert 'id="btn-next"' not in page
    token = await csrf_from(client, "/console")
    for action, fields in (("next", {"campaign_id": "1"}), ("skip", {"record_id": "1", "reason": "x"})):
        response = await client.post(f"/console/preview/{action}", data=fields, headers={**JSON, "X-CSRF-Token": token})
        assert response.status == 503
        body = await response.json()
        assert body["error"] == "console.error.no_dialer"
        assert body["message"].startswith("Arama şu an kullanılamıyor")


async def test_the_page_lists_its_keyboard_shortcuts(client: Client, make_user: MakeUser) -> None:
    await sign_in(client, make_user)
    page = await (await client.get("/console")).text()
    for key, label in (("R", "Hazır"), ("N", "Sıradaki kayıt"), ("D", "Ara")):
        assert f"<kbd>Alt</kbd>+<kbd>{key}</kbd></dt><dd>{label}</dd>" in page


async def _next(client: Client, token: str, campaign_id: int) -> Any:
    return await client.post(
        "/console/preview/next", data={"campaign_id": str(campaign_id)}, headers={**JSON, "X-CSRF-Token": token}
    )


async def _preview(client: Client, token: str, action: str, **fields: str) -> Any:
    return await client.post(f"/console/preview/{action}", data=fields, headers={**JSON, "X-CSRF-Token": token})


async def test_preview_through_the_endpoints_with_the_dialer_on_the_pbx_simulator(settings: Settings) -> None:
    """Take, skip, dial, dispose with a call-back time in the call center's time zone; the record comes back when
    the call-back is due, with its attempt in the history and the warning about the call-back and the note."""
    url = await create_database("callcenter_console", migrated=True)
    db = await connect(DatabaseSettings(url=url, pool_min_size=2, pool_max_size=12, migrate_on_start=False))
    istanbul = ZoneInfo("Europe/Istanbul")
    try:
        async with rig_running(db, speed=25.0) as rig:
            [agent] = await rig.team_of_agents(1)
            pool = await rig.pool(["0532 111 00 01", "0532 111 00 02"])
            campaign = await rig.campaign(DialMode.PREVIEW, pool)
            await rig.dialer.campaigns.set_status(rig.admin, campaign.id, CampaignStatus.RUNNING)
            runtime = DialerRuntime(rig.engine, rig.agents, rig.directory, rig.dialer, [])
            async with TestClient(TestServer(create_app(settings, db, rig.bus, Metrics(), runtime))) as client:
                assert (await login(client, "ajan1")).status == 302
                page = await (await client.get("/console")).text()
                assert campaign.name in page and 'id="btn-next"' in page
                token = await csrf_from(client, "/console")
                await act(client, "login")
                await act(client, "ready")

                first = await (await _next(client, token, campaign.id)).json()
                assert first["record"]["phone"] == "+905321110001"
                assert first["history"] == [] and first["warnings"] == []
                assert [d["code"] for d in first["dispositions"]] == [
                    "sale", "interested", "call_back", "not_interested", "wrong_number", "do_not_call",
                ]  # fmt: skip
                # Asked again before dialing or skipping: the same record, not a second one.
                again = await (await _next(client, token, campaign.id)).json()
                assert again["record"]["id"] == first["record"]["id"]

                response = await _preview(client, token, "skip", record_id=str(first["record"]["id"]), reason=" ")
                assert response.status == 409
                assert (await response.json())["message"] == "Kaydı geçmek için bir neden yazın."
                response = await _preview(
                    client, token, "skip", record_id=str(first["record"]["id"]), reason="Müşteri toplantıda"
                )
                assert response.status == 200

                second = await (await _next(client, token, campaign.id)).json()
                record_id = second["record"]["id"]
                assert second["record"]["phone"] == "+905321110002"
                response = await _preview(client, token, "dial", record_id=str(record_id))
                assert response.status == 200, await response.text()
                call_id = (await response.json())["call_id"]
                response = await _next(client, token, campaign.id)
                assert (await response.json())["message"] == "Önce bu görüşmenin sonucunu girin."

                async def talked() -> bool:
                    return (await rig.agents.state(agent)).status is AgentStatus.WRAP_UP

                await eventually(talked, timeout=15, what="the end of the call")
                response = await _preview(client, token, "dispose", call_id=call_id, code="call_back")
                assert (await response.json())["message"] == "Tekrar arama için ileri bir tarih ve saat seçin."
                due = (rig.now() + timedelta(minutes=2)).astimezone(istanbul).replace(second=0, microsecond=0)
                response = await _preview(
                    client,
                    token,
                    "dispose",
                    call_id=call_id,
                    code="call_back",
                    note="Akşam aranmak istiyor",
                    callback_at=due.strftime("%Y-%m-%dT%H:%M"),
                )
                assert response.status == 200, await response.text()
                assert (await response.json())["state"] == "ready"  # the dialer ended his wrap-up
                async with db.acquire() as conn:
                    callback_due = await conn.fetchval(
                        "SELECT due_at FROM callbacks WHERE pool_record_id = $1 AND status = 'open'", record_id
                    )
                    dialed_at = await conn.fetchval("SELECT dialed_at FROM call_records WHERE call_id = $1", call_id)
                assert callback_due == due  # the time he chose, in the call center's time zone

                back: dict[str, Any] = {}

                async def called_back() -> bool:
                    body = await (await _next(client, token, campaign.id)).json()
                    back.update(body)
                    return body.get("record") is not None

                await eventually(called_back, timeout=20, what="the call-back to come due")
                assert back["record"]["id"] == record_id
                local = dialed_at.astimezone(istanbul).strftime("%d.%m.%Y %H:%M")
                assert back["history"] == [{"at": local, "outcome": "Tekrar aranacak", "note": "Akşam aranmak istiyor"}]
                when = due.strftime("%d.%m.%Y %H:%M")
                assert back["warnings"][0].startswith(f"Bu kayıt için açık bir geri arama var ({when}).")
                assert any(w.startswith("Bu kaydın 1 geçmiş notu var") for w in back["warnings"])
    finally:
        await db.close()
        await drop_database(url)


async def test_a_progressive_call_brings_its_record_to_the_agents_screen(settings: Settings) -> None:
    """Nobody clicks "dial" in progressive mode: the console asks what he is on as soon as he is reserved for a call
    and gets the record's card and the disposition choices; he disposes as for a preview call and is ready again."""
    url = await create_database("callcenter_console", migrated=True)
    db = await connect(DatabaseSettings(url=url, pool_min_size=2, pool_max_size=12, migrate_on_start=False))
    try:
        async with rig_running(db, speed=25.0) as rig:
            [agent] = await rig.team_of_agents(1)
            pool = await rig.pool(["0532 111 00 05"])
            campaign = await rig.campaign(DialMode.PROGRESSIVE, pool)
            runtime = DialerRuntime(rig.engine, rig.agents, rig.directory, rig.dialer, [])
            async with TestClient(TestServer(create_app(settings, db, rig.bus, Metrics(), runtime))) as client:
                assert (await login(client, "ajan1")).status == 302
                token = await csrf_from(client, "/console")
                assert (await (await client.get("/console/current")).json()) == {"current": None}
                await act(client, "login")
                await act(client, "ready")
                await rig.dialer.campaigns.set_status(rig.admin, campaign.id, CampaignStatus.RUNNING)
                rig.dialer.start()

                current: dict[str, Any] = {}

                async def on_a_call() -> bool:
                    body = (await (await client.get("/console/current")).json())["current"]
                    current.update(body or {})
                    return bool(body and body["call_id"])

                await eventually(on_a_call, timeout=15, what="the progressive call to reach the agent")
                assert current["record"]["phone"] == "+905321110005"
                assert current["campaign_id"] == campaign.id
                assert "sale" in [d["code"] for d in current["dispositions"]]

                async def wrapping_up() -> bool:
                    return (await rig.agents.state(agent)).status is AgentStatus.WRAP_UP

                await eventually(wrapping_up, timeout=15, what="the end of the call")
                response = await _preview(client, token, "dispose", call_id=current["call_id"], code="sale")
                assert response.status == 200, await response.text()
                assert (await response.json())["state"] == "ready"
                async with db.acquire() as conn:
                    status = await conn.fetchval("SELECT status FROM pool_records WHERE phone = '+905321110005'")
                assert status == "done"
    finally:
        await db.close()
        await drop_database(url)
