"""The team leader's wallboard (``GET /wallboard``): who may open it, what it shows in Turkish, and the figures' SQL
against rows inserted here (the day is the call center's local day: Europe/Istanbul by default)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from agent_console.wallboard.repository import CallFigures, WallboardRepository, top_five
from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role
from crm_core.users.service import UserService
from dialer.agents.service import AgentStateService
from dialer.campaigns.events import CallDisposed
from dialer.state.agent_commands import GoReady, LogIn, Pause
from tests.conftest import MakeUser, login

ISTANBUL = "Europe/Istanbul"


@pytest.fixture
async def people(db: Database, memory_bus: InProcessBus, make_user: MakeUser) -> dict[str, Any]:
    """Team A (leader ``lider``, agents ``ajan1``, ``ajan2``), team B (agent ``ajan3``), supervisor ``sef``."""
    users = UserService(db, memory_bus)
    lider = await make_user("lider", role=Role.TEAM_LEADER, full_name="Leyla Lider")
    team_a = await users.create_team(SYSTEM, "A Takımı", lider.id)
    team_b = await users.create_team(SYSTEM, "B Takımı")
    ajan1 = await make_user("ajan1", team_id=team_a.id, full_name="Ayşe Ajan")
    ajan2 = await make_user("ajan2", team_id=team_a.id, full_name="Burak Ajan")
    ajan3 = await make_user("ajan3", team_id=team_b.id, full_name="Cem Ajan")
    sef = await make_user("sef", role=Role.SUPERVISOR)
    return {"lider": lider, "ajan1": ajan1, "ajan2": ajan2, "ajan3": ajan3, "sef": sef, "a": team_a, "b": team_b}


async def _campaign(conn: asyncpg.Connection, team_id: int, name: str = "Kış kampanyası") -> int:
    campaign: int = await conn.fetchval(
        "INSERT INTO campaigns (name, dial_mode, status) VALUES ($1, 'preview', 'running') RETURNING id", name
    )
    await conn.execute("INSERT INTO campaign_teams (campaign_id, team_id) VALUES ($1, $2)", campaign, team_id)
    await conn.execute(
        """INSERT INTO dispositions (campaign_id, code, label, action, success) VALUES
               ($1, 'sale', 'Satış', 'final', true), ($1, 'not_interested', 'İlgilenmiyor', 'final', false)""",
        campaign,
    )
    return campaign


async def _call(
    conn: asyncpg.Connection,
    campaign: int,
    agent: int,
    dialed: datetime,
    *,
    talk: int | None = None,
    disposition: str | None = None,
    failed: bool = False,
) -> None:
    connected = dialed + timedelta(seconds=10) if talk is not None else None
    ended = (connected + timedelta(seconds=talk)) if connected and talk is not None else dialed + timedelta(seconds=30)
    await conn.execute(
        """INSERT INTO call_records (call_id, direction, campaign_id, agent_id, phone, status, dialed_at, connected_at,
                                     ended_at, failure, disposition)
           VALUES ($1, 'outbound', $2, $3, '+905321112233', $4, $5, $6, $7, $8, $9)""",
        f"call-{agent}-{dialed.timestamp()}",
        campaign,
        agent,
        "failed" if failed else "ended",
        dialed,
        connected,
        ended,
        "busy" if failed else None,
        disposition,
    )


async def test_an_agent_may_not_open_the_wallboard_nor_sees_its_link(
    client: TestClient[Any, Any], people: dict[str, Any]
) -> None:
    await login(client, "ajan1")
    response = await client.get("/wallboard")
    assert response.status == 403
    console = await (await client.get("/console")).text()
    assert 'href="/wallboard"' not in console


async def test_a_team_leader_sees_his_teams_agents_states_in_turkish(
    client: TestClient[Any, Any], people: dict[str, Any], db: Database, memory_bus: InProcessBus
) -> None:
    states = AgentStateService(db, memory_bus)
    now = datetime.now(UTC)
    await states.execute(people["ajan1"].id, LogIn(ready=True), now - timedelta(seconds=90))
    await states.execute(people["ajan2"].id, LogIn(), now - timedelta(seconds=70))
    await states.execute(people["ajan2"].id, Pause("lunch"), now - timedelta(seconds=65))
    await states.execute(people["ajan3"].id, LogIn(ready=True), now - timedelta(seconds=60))

    await login(client, "lider")
    response = await client.get("/wallboard")
    assert response.status == 200
    html = await response.text()
    assert 'href="/wallboard" aria-current="page">Canlı pano</a>' in html
    for text in ("Takım canlı panosu", "Temsilciler", "Günün ilk beşi", "Bugünün rakamları", "Takım toplamı"):
        assert text in html
    assert "Ayşe Ajan" in html and "Burak Ajan" in html
    assert "Cem Ajan" not in html  # another team
    assert f'data-agent="{people["ajan1"].id}" data-state="ready"' in html
    assert f'data-agent="{people["ajan2"].id}" data-state="paused"' in html
    assert "Molada (Yemek)" in html
    assert "Hazır" in html
    assert "Bugün henüz çağrı yok." in html


async def _past_local_midnight(seconds: int) -> None:
    """Within ``seconds`` after midnight in Istanbul, wait until they are over (at most that long, once a day)."""
    local = datetime.now(ZoneInfo("Europe/Istanbul"))
    since_midnight = local.hour * 3600 + local.minute * 60 + local.second
    if since_midnight < seconds:
        await asyncio.sleep(seconds - since_midnight + 1)


async def test_the_page_shows_todays_figures_break_time_by_reason_and_records_left(
    client: TestClient[Any, Any], people: dict[str, Any], db: Database, memory_bus: InProcessBus, conn: Any
) -> None:
    ajan1, ajan2 = people["ajan1"], people["ajan2"]
    await _past_local_midnight(seconds=120)  # the states below start 100 s ago: all of them today
    now = datetime.now(UTC).replace(microsecond=0)
    states = AgentStateService(db, memory_bus)
    await states.execute(ajan2.id, LogIn(), now - timedelta(seconds=100))
    await states.execute(ajan2.id, Pause("lunch"), now - timedelta(seconds=80))
    await states.execute(ajan2.id, GoReady(), now - timedelta(seconds=20))  # one minute of lunch
    campaign = await _campaign(conn, people["a"].id)
    await _call(conn, campaign, ajan1.id, now - timedelta(seconds=50), talk=30, disposition="sale")
    await _call(conn, campaign, ajan2.id, now - timedelta(seconds=40), failed=True)
    pool = await conn.fetchval("INSERT INTO pools (name) VALUES ('Ankara listesi') RETURNING id")
    await conn.execute("INSERT INTO campaign_pools (campaign_id, pool_id) VALUES ($1, $2)", campaign, pool)
    await conn.execute(
        """INSERT INTO pool_records (pool_id, phone, status, agent_id, next_attempt_at) VALUES
               ($1, '+905320000001', 'new', NULL, NULL), ($1, '+905320000002', 'new', NULL, NULL),
               ($1, '+905320000003', 'assigned', $2, NULL),
               ($1, '+905320000004', 'assigned', $2, now() + interval '1 day'),
               ($1, '+905320000005', 'done', NULL, NULL)""",
        pool,
        ajan1.id,
    )

    await login(client, "lider")
    html = await (await client.get("/wallboard")).text()
    row = html[html.index(f'<tr data-agent="{ajan1.id}">') :]
    row = row[: row.index("</tr>")]
    assert '"calls">1<' in row and '"successful">1<' in row and '"avg_talk">0:30<' in row
    other = html[html.index(f'<tr data-agent="{ajan2.id}">') :]
    other = other[: other.index("</tr>")]
    assert '"failed">1<' in other and "Yemek 1:00" in other
    assert "Ankara listesi" in html
    pools = html[html.index('<tr data-pool="') :]
    assert '<td class="num">2</td><td class="num">1</td><td class="num"><strong>3</strong>' in pools
    top = html[html.index('<ol id="wb-top">') : html.index("</ol>")]
    assert top.index("Ayşe Ajan") < top.index("Burak Ajan")  # one success before none
    assert "1 başarılı / 1 çağrı" in top


async def test_a_supervisor_chooses_a_team_or_all(client: TestClient[Any, Any], people: dict[str, Any]) -> None:
    await login(client, "sef")
    everyone = await (await client.get("/wallboard")).text()
    assert all(name in everyone for name in ("Ayşe Ajan", "Burak Ajan", "Cem Ajan"))
    assert "Tüm takımlar" in everyone and "B Takımı" in everyone
    team_b = await (await client.get(f"/wallboard?team={people['b'].id}")).text()
    assert "Cem Ajan" in team_b and "Ayşe Ajan" not in team_b
    assert (await client.get("/wallboard?team=999999999")).status == 404
    assert (await client.get("/wallboard?team=x")).status == 404
    data = await (await client.get(f"/wallboard/data?team={people['a'].id}")).json()
    assert sorted(a["full_name"] for a in data["agents"]) == ["Ayşe Ajan", "Burak Ajan"]


async def test_a_team_leader_without_a_team_is_told_so(client: TestClient[Any, Any], make_user: MakeUser) -> None:
    await make_user("yalniz", role=Role.TEAM_LEADER)
    await login(client, "yalniz")
    response = await client.get("/wallboard")
    assert response.status == 200
    assert "Liderliğini yaptığınız ya da üyesi olduğunuz bir takım yok" in await response.text()


async def test_call_figures_count_the_local_day_of_istanbul(conn: Any, people: dict[str, Any]) -> None:
    ajan1, ajan3 = people["ajan1"], people["ajan3"]
    campaign = await _campaign(conn, people["a"].id)
    # 10 March 2026 in Istanbul (UTC+3) runs from 9 March 21:00 UTC to 10 March 21:00 UTC.
    await _call(
        conn, campaign, ajan1.id, datetime(2026, 3, 9, 22, 30, tzinfo=UTC), talk=60, disposition="not_interested"
    )
    await _call(conn, campaign, ajan1.id, datetime(2026, 3, 10, 8, 0, tzinfo=UTC), talk=120, disposition="sale")
    await _call(conn, campaign, ajan1.id, datetime(2026, 3, 10, 9, 0, tzinfo=UTC), failed=True)
    await _call(conn, campaign, ajan1.id, datetime(2026, 3, 10, 22, 30, tzinfo=UTC), talk=300, disposition="sale")
    await _call(conn, campaign, ajan1.id, datetime(2026, 3, 9, 20, 59, tzinfo=UTC), talk=10)  # the day before
    await _call(conn, campaign, ajan3.id, datetime(2026, 3, 10, 8, 0, tzinfo=UTC), talk=50, disposition="sale")

    repo = WallboardRepository(conn)
    figures = await repo.call_figures(date(2026, 3, 10), ISTANBUL, [people["a"].id])
    assert figures == {
        ajan1.id: CallFigures(ajan1.id, calls=3, connected=2, successful=1, failed=1, talk_seconds=180.0, talked=2)
    }
    assert figures[ajan1.id].average_talk == 90.0
    next_day = await repo.call_figures(date(2026, 3, 11), ISTANBUL, None)  # 22:30 UTC is 01:30 the next day
    assert next_day[ajan1.id].calls == 1 and next_day[ajan1.id].successful == 1
    assert next_day.keys() == {ajan1.id}
    utc_day = await repo.call_figures(date(2026, 3, 10), "UTC", [people["a"].id])
    assert utc_day[ajan1.id].calls == 3  # in UTC the 22:30 call stays on the 10th, the 9th's calls do not


def test_top_five_ranks_by_successful_calls_then_calls() -> None:
    figures = {
        1: CallFigures(1, calls=10, successful=2),
        2: CallFigures(2, calls=4, successful=3),
        3: CallFigures(3, calls=12, successful=2),
        4: CallFigures(4, calls=1, successful=0),
        5: CallFigures(5, calls=8, successful=1),
        6: CallFigures(6, calls=9, successful=1),
        7: CallFigures(7, calls=0, successful=0),
    }
    names = {n: f"Ajan {n}" for n in range(1, 8)}
    assert [t["user_id"] for t in top_five(figures, names)] == [2, 3, 1, 6, 5]


async def test_a_team_leader_receives_his_agents_dispositions_for_the_live_top_five(
    client: TestClient[Any, Any], people: dict[str, Any], memory_bus: InProcessBus
) -> None:
    """The board counts successful calls live from CallDisposed (stream ``campaigns``): a team leader gets his
    agents' dispositions, not another team's."""
    from tests.web.test_live import Browser

    leader = Browser(client)
    try:
        await leader.login("lider")
        await leader.connect()
        assert (await leader.next())["type"] == "snapshot"
        for agent, call in ((people["ajan3"], "c-b"), (people["ajan1"], "c-a")):
            await memory_bus.publish(
                CallDisposed(
                    campaign_id=1, call_id=call, record_id=None, disposition="sale", agent_id=agent.id,
                    status="done", next_attempt_at="",
                )
            )  # fmt: skip
        disposed = await leader.next_event()
        assert disposed["stream"] == "campaigns" and disposed["event"]["type"] == "CallDisposed"
        assert disposed["event"]["data"]["agent_id"] == people["ajan1"].id  # ajan3's (team B) was not sent
    finally:
        await leader.close()


async def test_the_board_speaks_english_second(
    client: TestClient[Any, Any], people: dict[str, Any], db: Database, memory_bus: InProcessBus
) -> None:
    states = AgentStateService(db, memory_bus)
    await states.execute(people["ajan2"].id, LogIn())
    await states.execute(people["ajan2"].id, Pause("lunch"))
    await login(client, "lider")
    await client.get("/lang/en?next=/wallboard")
    html = await (await client.get("/wallboard")).text()
    assert "Team wallboard" in html and "Records left per pool" in html and "Team total" in html
    assert "On break (Lunch)" in html
    assert "Molada" not in html
