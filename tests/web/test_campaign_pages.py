"""The campaign pages as a supervisor, a team leader and an agent use them (seed 001 "Arama modülü", "Aksiyonel
data", "Agent data arşivlerine erişim"): campaigns set up, edited, started; their dispositions edited; the agents'
data archive filtered and downloaded; and the agent's phone extension in the user form."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import openpyxl
from aiohttp.test_utils import TestClient

from agent_console.campaigns.http_common import CAMPAIGNS
from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role, Team, User
from crm_core.users.service import UserService
from dialer.campaigns.model import DialMode
from dialer.campaigns.service import CampaignService
from dialer.pools.service import PoolService
from tests.conftest import MakeUser, csrf_from, login

Client = TestClient[Any, Any]
Form = list[tuple[str, str]]

NEEDS_POOL_AND_TEAM = "Kampanyayı başlatmak için en az bir data havuzu ve bir takım seçin."


async def sign_in(client: Client, make_user: MakeUser, username: str, role: Role, **kwargs: Any) -> User:
    user = await make_user(username, role=role, **kwargs)
    response = await login(client, username)
    assert response.status == 302, await response.text()
    return user


async def post_form(client: Client, path: str, data: Form | dict[str, str], *, page: str | None = None) -> Any:
    token = await csrf_from(client, page or path)
    fields = list(data.items()) if isinstance(data, dict) else list(data)
    return await client.post(path, data=[("_csrf", token), *fields], allow_redirects=False)


def campaign_form(
    *, pools: tuple[int, ...] = (), teams: tuple[int, ...] = (), days: tuple[int, ...] = (1, 2, 3, 4, 5), **fields: str
) -> Form:
    """Every field of the campaign form as a browser sends it."""
    values = {
        "name": "Kasım Satış",
        "description": "Elektrik tarifesi kampanyası",
        "dial_mode": "preview",
        "caller_id": "+902121234567",
        "record_calls": "1",
        "wrap_up_seconds": "15",
        "time_zone": "Europe/Istanbul",
        "call_from": "09:30",
        "call_until": "19:00",
        "max_attempts_per_day": "2",
        "calls_per_second": "2,5",
        "max_lines": "10",
        "ring_timeout": "25",
    }
    values.update(fields)
    form = [(k, v) for k, v in values.items() if v is not None]
    form += [("pool_ids", str(p)) for p in pools]
    form += [("team_ids", str(t)) for t in teams]
    form += [("call_days", str(d)) for d in days]
    return form


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<span class="field-error" id="{name}-error">([^<]*)</span>', html)
    assert match, f"no error next to {name}"
    return match.group(1)


async def team(db: Database, bus: InProcessBus, name: str, leader: User | None = None) -> Team:
    return await UserService(db, bus).create_team(SYSTEM, name, leader.id if leader else None)


async def audit_actions(conn: asyncpg.Connection, campaign_id: int) -> list[str]:
    rows = await conn.fetch(
        "SELECT action FROM audit_log WHERE entity = 'campaign' AND entity_id = $1 ORDER BY id", str(campaign_id)
    )
    return [r["action"] for r in rows]


# --- permissions --------------------------------------------------------------------------------------------------


async def test_an_agent_may_not_open_the_campaign_pages(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus
) -> None:
    campaign = await CampaignService(db, memory_bus).create_campaign(SYSTEM, "Kasım", DialMode.PREVIEW)
    await sign_in(client, make_user, "ayse", Role.AGENT)

    console = await (await client.get("/console")).text()
    assert 'href="/campaigns"' not in console
    for path in (
        "/campaigns",
        "/campaigns/new",
        f"/campaigns/{campaign.id}",
        f"/campaigns/{campaign.id}/dispositions",
        "/campaigns/archive",
        "/campaigns/archive.csv",
        "/campaigns/archive.xlsx",
    ):
        response = await client.get(path)
        assert response.status == 403, path
        assert "Bu sayfaya erişim yetkiniz yok." in await response.text()
    refused = await post_form(client, f"/campaigns/{campaign.id}/status", {"status": "running"}, page="/console")
    assert refused.status == 403


async def test_a_team_leader_sees_campaigns_but_cannot_change_them(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    pool = await PoolService(db, memory_bus).create_pool(SYSTEM, "Kasım Listesi")
    sales = await team(db, memory_bus, "Satış")
    campaign = await CampaignService(db, memory_bus).create_campaign(
        SYSTEM, "Kasım", DialMode.PROGRESSIVE, pool_ids=[pool.id], team_ids=[sales.id]
    )
    await sign_in(client, make_user, "lider", Role.TEAM_LEADER)

    listing = await client.get("/campaigns")
    assert listing.status == 200
    html = await listing.text()
    assert 'href="/campaigns"' in html  # the navigation link
    assert "Yeni kampanya" not in html
    row = text_of(html.split(f'href="/campaigns/{campaign.id}"', 1)[1].split("</tr>", 1)[0])
    assert "Otomatik (progresif) Hazırlanıyor Kasım Listesi Satış" in row

    page = await (await client.get(f"/campaigns/{campaign.id}")).text()
    assert "Kampanyaları yalnızca görüntüleyebilirsiniz." in page
    assert "/status" not in page and ">Başlat<" not in page
    dispositions = await client.get(f"/campaigns/{campaign.id}/dispositions")
    assert dispositions.status == 200 and "Cevap yok" in await dispositions.text()
    assert (await client.get("/campaigns/archive")).status == 200

    path = f"/campaigns/{campaign.id}"
    assert (await post_form(client, path, campaign_form(name="Başka"))).status == 403
    assert (await post_form(client, path + "/status", {"status": "running"}, page=path)).status == 403
    assert (await client.get("/campaigns/new")).status == 403
    edit = await post_form(client, path + "/dispositions/sale", {"label": "Olmaz", "action": "final"}, page=path)
    assert edit.status == 403
    assert await conn.fetchval("SELECT name || status FROM campaigns WHERE id = $1", campaign.id) == "Kasımdraft"
    assert await conn.fetchval(
        "SELECT label FROM dispositions WHERE campaign_id = $1 AND code = 'sale'", campaign.id
    ) == ("Satış")


# --- campaigns ----------------------------------------------------------------------------------------------------


async def test_a_supervisor_creates_edits_and_starts_a_campaign(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    pool = await PoolService(db, memory_bus).create_pool(SYSTEM, "Ekim Datası")
    sales = await team(db, memory_bus, "Satış Ekibi")
    await conn.execute(
        """INSERT INTO pool_records (pool_id, phone, name, status) VALUES
           ($1, '+905321000001', 'Ali', 'new'), ($1, '+905321000002', 'Veli', 'new'),
           ($1, '+905321000003', 'Can', 'done')""",
        pool.id,
    )
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)

    created = await post_form(client, "/campaigns/new", campaign_form())
    assert created.status == 303, await created.text()
    campaign_id = await conn.fetchval("SELECT id FROM campaigns WHERE name = 'Kasım Satış'")
    assert created.headers["Location"] == f"/campaigns/{campaign_id}?saved=1"
    row = await conn.fetchrow("SELECT * FROM campaigns WHERE id = $1", campaign_id)
    assert row["status"] == "draft" and row["dial_mode"] == "preview"
    assert row["call_days"] == [1, 2, 3, 4, 5]
    assert str(row["call_from"]) == "09:30:00" and str(row["call_until"]) == "19:00:00"
    assert float(row["calls_per_second"]) == 2.5 and row["ring_timeout"] == 25 and row["wrap_up_seconds"] == 15
    assert await conn.fetchval("SELECT count(*) FROM dispositions WHERE campaign_id = $1", campaign_id) == 12
    page = await (await client.get(created.headers["Location"])).text()
    assert "Kaydedildi." in page and 'value="Kasım Satış"' in page

    # Starting a campaign without pool and team is refused, in Turkish, and changes nothing.
    path = f"/campaigns/{campaign_id}"
    refused = await post_form(client, path + "/status", {"status": "running"}, page=path)
    assert refused.status == 422
    assert NEEDS_POOL_AND_TEAM in await refused.text()
    assert await conn.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign_id) == "draft"

    # The İYS rule is set on the blacklist pages: saving the campaign form keeps it.
    await conn.execute("UPDATE campaigns SET consent_rule = 'consent_required' WHERE id = $1", campaign_id)
    edited = await post_form(
        client,
        path,
        campaign_form(pools=(pool.id,), teams=(sales.id,), days=(1, 2, 3, 4, 5, 6), dial_mode="progressive"),
    )
    assert edited.status == 303, await edited.text()
    row = await conn.fetchrow("SELECT * FROM campaigns WHERE id = $1", campaign_id)
    assert row["dial_mode"] == "progressive" and row["call_days"] == [1, 2, 3, 4, 5, 6]
    assert row["consent_rule"] == "consent_required"
    assert await conn.fetchval("SELECT array_agg(pool_id) FROM campaign_pools WHERE campaign_id = $1", campaign_id) == [
        pool.id
    ]

    started = await post_form(client, path + "/status", {"status": "running"}, page=path)
    assert started.status == 303
    assert await conn.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign_id) == "running"
    page = await (await client.get(path)).text()
    assert ">Duraklat<" in page and ">Bitir<" in page and ">Başlat<" not in page
    paused = await post_form(client, path + "/status", {"status": "paused"}, page=path)
    assert paused.status == 303
    assert await conn.fetchval("SELECT status FROM campaigns WHERE id = $1", campaign_id) == "paused"

    assert await audit_actions(conn, campaign_id) == [
        "campaign.created",
        "campaign.updated",
        "campaign.status",
        "campaign.status",
    ]
    changes = await conn.fetchval(
        "SELECT changes FROM audit_log WHERE entity = 'campaign' AND entity_id = $1 AND action = 'campaign.updated'",
        str(campaign_id),
    )
    assert changes["dial_mode"] == ["preview", "progressive"]
    assert changes["pool_ids"] == [[], [pool.id]]

    listing = text_of(await (await client.get("/campaigns")).text())
    # mode, status, pools, teams, then records: new, assigned, in progress, done, archived, and live calls
    assert (
        "Kasım Satış Elektrik tarifesi kampanyası Otomatik (progresif) Duraklatıldı Ekim Datası Satış Ekibi 2 0 0 1 0 0"
        in listing
    )


async def test_wrong_campaign_settings_are_shown_next_to_their_fields(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    await CampaignService(db, memory_bus).create_campaign(SYSTEM, "Kasım Satış", DialMode.PREVIEW)
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)

    response = await post_form(
        client,
        "/campaigns/new",
        campaign_form(
            name="Aralık",
            days=(),
            time_zone="Mars/Olympus",
            call_from="21:00",
            call_until="09:00",
            ring_timeout="200",
            calls_per_second="0",
            caller_id="abc",
            pools=(999999,),
        ),
    )
    assert response.status == 422
    html = await response.text()
    assert field_error(html, "call_days") == "En az bir arama günü seçin."
    assert field_error(html, "time_zone") == "Bilinmeyen saat dilimi; örneğin Europe/Istanbul yazın."
    assert field_error(html, "call_until") == "Bitiş saati başlangıç saatinden sonra olmalı."
    assert field_error(html, "ring_timeout") == "5 ile 120 arasında bir sayı girin."
    assert field_error(html, "calls_per_second") == "0.01 ile 1000 arasında bir sayı girin."
    assert field_error(html, "caller_id") == "Arayan numara yalnızca rakamlardan oluşmalı (başta + olabilir)."
    assert field_error(html, "pool_ids") == "Geçersiz seçim."
    assert 'value="Mars/Olympus"' in html and 'value="Aralık"' in html  # what was typed is kept
    assert await conn.fetchval("SELECT count(*) FROM campaigns") == 1

    taken = await post_form(client, "/campaigns/new", campaign_form(name="kasım satış"))
    assert taken.status == 422
    assert field_error(await taken.text(), "name") == "Bu kampanya adı kullanılıyor."


# --- dispositions -------------------------------------------------------------------------------------------------


async def test_dispositions_are_added_and_edited_and_the_dialers_own_keep_their_outcome(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    campaign = await CampaignService(db, memory_bus).create_campaign(SYSTEM, "Kasım", DialMode.PREVIEW)
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)
    base = f"/campaigns/{campaign.id}/dispositions"

    listing = text_of(await (await client.get(base)).text())
    assert "Cevap yok no_answer Tekrar ara 60 dk sonra, en fazla 5 deneme Hayır Santral (cevap yok)" in listing
    assert "Satış sale Kapat Evet Temsilci" in listing

    def form(**fields: str) -> dict[str, str]:
        return {"label": "Fiyat sordu", "action": "retry", "retry_minutes": "120", "max_attempts": "3",
                "position": "25", "active": "1", **fields}  # fmt: skip

    added = await post_form(client, base + "/new", {"code": "price_asked", **form()})
    assert added.status == 303
    row = await conn.fetchrow("SELECT * FROM dispositions WHERE campaign_id = $1 AND code = 'price_asked'", campaign.id)
    assert (row["label"], row["action"], row["retry_minutes"], row["max_attempts"], row["outcome"]) == (
        "Fiyat sordu", "retry", 120, 3, None,
    )  # fmt: skip

    again = await post_form(client, base + "/new", {"code": "price_asked", **form()})
    assert again.status == 422
    assert field_error(await again.text(), "code") == "Bu kampanyada bu kod zaten var."
    bad = await post_form(client, base + "/new", {"code": "Fiyat!", **form(retry_minutes="")}, page=base + "/new")
    html = await bad.text()
    assert field_error(html, "code").startswith("Kod yalnızca küçük harf")
    assert field_error(html, "retry_minutes") == "1 ile 525600 arasında bir sayı girin."

    # The dialer's own "no answer": its label and retry rule change; its outcome stays.
    edited = await post_form(
        client, base + "/no_answer", form(label="Açmadı", retry_minutes="90", max_attempts="4", position="70")
    )
    assert edited.status == 303
    row = await conn.fetchrow("SELECT * FROM dispositions WHERE campaign_id = $1 AND code = 'no_answer'", campaign.id)
    assert (row["label"], row["retry_minutes"], row["max_attempts"], row["outcome"], row["active"]) == (
        "Açmadı", 90, 4, "no_answer", True,
    )  # fmt: skip

    unchecked = {k: v for k, v in form(label="Açmadı").items() if k != "active"}
    off = await post_form(client, base + "/no_answer", unchecked)
    assert off.status == 422
    assert field_error(await off.text(), "active") == "Santralin koyduğu bir sonuç kullanım dışı bırakılamaz."
    callback = await post_form(client, base + "/busy", form(label="Meşgul", action="callback"))
    assert callback.status == 422
    assert field_error(await callback.text(), "action") == "Santralin koyduğu bir sonuç randevuya çevrilemez."
    assert await conn.fetchval(
        "SELECT action || active::text FROM dispositions WHERE campaign_id = $1 AND code = 'busy'", campaign.id
    ) == ("retrytrue")

    # An agent's disposition may be taken out of use.
    retired = await post_form(
        client, base + "/interested", {"label": "İlgileniyor", "action": "callback", "position": "20"}
    )
    assert retired.status == 303
    assert (
        await conn.fetchval(
            "SELECT active FROM dispositions WHERE campaign_id = $1 AND code = 'interested'", campaign.id
        )
        is False
    )
    assert (
        await conn.fetchval(
            """SELECT count(*) FROM audit_log WHERE entity = 'campaign' AND entity_id = $1
              AND action = 'campaign.disposition_saved'""",
            str(campaign.id),
        )
        == 3
    )


# --- the agents' data archive -------------------------------------------------------------------------------------


async def _call(
    conn: asyncpg.Connection,
    *,
    campaign_id: int,
    agent: User | None,
    phone: str,
    at: datetime,
    talk: int | None,
    disposition: str | None,
    note: str | None = None,
    name: str = "",
    pool_id: int | None = None,
    attempt: int = 1,
) -> None:
    record_id = None
    if pool_id is not None:
        record_id = await conn.fetchval(
            "INSERT INTO pool_records (pool_id, phone, name, status) VALUES ($1, $2, $3, 'done') RETURNING id",
            pool_id,
            phone,
            name,
        )
    answered = at + timedelta(seconds=10) if talk is not None else None
    ended = (
        (answered + timedelta(seconds=talk))
        if answered is not None and talk is not None
        else at + timedelta(seconds=30)
    )
    await conn.execute(
        """INSERT INTO call_records (call_id, direction, campaign_id, pool_record_id, agent_id, phone, attempt,
                                     status, dialed_at, answered_at, connected_at, ended_at, failure, disposition,
                                     note)
           VALUES ($1, 'outbound', $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13)""",
        f"call-{phone}-{at.timestamp()}",
        campaign_id,
        record_id,
        agent.id if agent else None,
        phone,
        attempt,
        "ended" if talk is not None else "failed",
        at,
        answered,
        ended,
        None if talk is not None else "no_answer",
        disposition,
        note,
    )


async def test_the_agents_data_archive_is_filtered_and_downloaded_as_csv_and_xlsx(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    pool = await PoolService(db, memory_bus).create_pool(SYSTEM, "Kasım Listesi")
    campaign = await CampaignService(db, memory_bus).create_campaign(SYSTEM, "Kasım Satış", DialMode.PREVIEW)
    other = await CampaignService(db, memory_bus).create_campaign(SYSTEM, "Tahsilat", DialMode.PREVIEW)
    lider = await make_user("lider", role=Role.TEAM_LEADER, full_name="Leyla Lider")
    red, blue = await team(db, memory_bus, "Kırmızı", lider), await team(db, memory_bus, "Mavi")
    ayse = await make_user("ayse", full_name="Ayşe Yılmaz", team_id=red.id)
    mehmet = await make_user("mehmet", full_name="Mehmet Kaya", team_id=blue.id)
    # 1 March 22:30 UTC is 2 March 01:30 in Istanbul: it belongs to 2 March.
    await _call(conn, campaign_id=campaign.id, agent=ayse, phone="+905321000001", name="Ali Veli", pool_id=pool.id,
                at=datetime(2026, 3, 1, 22, 30, tzinfo=UTC), talk=125, disposition="sale",
                note="=HYPERLINK(\"x\"); müşteri memnun", attempt=2)  # fmt: skip
    await _call(conn, campaign_id=campaign.id, agent=ayse, phone="+905321000002", name="Can Demir", pool_id=pool.id,
                at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC), talk=None, disposition="no_answer")  # fmt: skip
    await _call(conn, campaign_id=campaign.id, agent=mehmet, phone="+905321000003", pool_id=pool.id, name="Zeynep",
                at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), talk=40, disposition="not_interested")  # fmt: skip
    await _call(conn, campaign_id=other.id, agent=ayse, phone="+905321000004",
                at=datetime(2026, 3, 3, 9, 0, tzinfo=UTC), talk=60, disposition=None)  # fmt: skip

    await sign_in(client, make_user, "selin", Role.SUPERVISOR)
    everything = await (await client.get("/campaigns/archive")).text()
    assert "4 kayıt" in everything
    query = f"?agent={ayse.id}&from=2026-03-02&until=2026-03-02&disposition=sale&campaign={campaign.id}"
    html = await (await client.get("/campaigns/archive" + query)).text()
    assert "1 kayıt" in html
    row = text_of(html.split("<tbody>", 1)[1].split("</tr>", 1)[0])
    assert row.startswith("02.03.2026 01:30:00 Ayşe Yılmaz +905321000001 Ali Veli Kasım Satış 2 Görüşüldü 2:05 Satış")
    by_day = await (await client.get("/campaigns/archive?from=2026-03-01&until=2026-03-01")).text()
    assert "1 kayıt" in by_day and "Can Demir" in by_day and "Ulaşılamadı (cevap yok)" in by_day
    no_outcome = await (await client.get("/campaigns/archive?disposition=-")).text()
    assert "1 kayıt" in no_outcome and "Tahsilat" in no_outcome

    # The CSV Turkish Excel opens: UTF-8 with BOM, ";" between cells, the same filter.
    response = await client.get("/campaigns/archive.csv?from=2026-03-02&campaign=" + str(campaign.id))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    raw = await response.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == [
        "Tarih-saat", "Temsilci", "Telefon", "Müşteri / kayıt", "Kampanya", "Deneme", "Durum",
        "Süre (sn)", "Görüşme sonucu", "Sonuç kodu", "Not",
    ]  # fmt: skip
    assert lines[1:] == [
        ["02.03.2026 12:00:00", "Mehmet Kaya", "+905321000003", "Zeynep", "Kasım Satış", "1", "Görüşüldü", "40",
         "İlgilenmiyor", "not_interested", ""],
        ["02.03.2026 01:30:00", "Ayşe Yılmaz", "+905321000001", "Ali Veli", "Kasım Satış", "2", "Görüşüldü", "125",
         "Satış", "sale", "'=HYPERLINK(\"x\"); müşteri memnun"],
    ]  # fmt: skip

    response = await client.get(f"/campaigns/archive.xlsx?agent={ayse.id}")
    assert response.status == 200
    workbook = openpyxl.load_workbook(io.BytesIO(await response.read()))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][0] == "Tarih-saat" and len(rows) == 4
    assert rows[1][:5] == (datetime(2026, 3, 3, 12, 0), "Ayşe Yılmaz", "+905321000004", None, "Tahsilat")
    assert rows[2][1:9] == ("Ayşe Yılmaz", "+905321000001", "Ali Veli", "Kasım Satış", 2, "Görüşüldü", 125, "Satış")
    assert rows[3][6:9] == ("Ulaşılamadı (cevap yok)", None, "Cevap yok")

    wrong = await client.get("/campaigns/archive?from=2026-03-05&until=2026-03-01")
    assert wrong.status == 422
    assert field_error(await wrong.text(), "until") == "Bitiş tarihi başlangıç tarihinden önce olamaz."

    # A team leader sees only the agents of his team.
    client.session.cookie_jar.clear()
    assert (await login(client, "lider")).status == 302
    html = await (await client.get("/campaigns/archive")).text()
    assert "3 kayıt" in html and "Ayşe Yılmaz" in html and "Mehmet Kaya" not in html
    refused = await client.get(f"/campaigns/archive?agent={mehmet.id}")
    assert refused.status == 422 and "Mehmet Kaya" not in await refused.text()
    lines = (await (await client.get("/campaigns/archive.csv")).read()).decode("utf-8-sig").splitlines()
    assert len(lines) == 4 and not any("Mehmet" in line for line in lines)


async def test_the_archive_is_shown_page_by_page(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    campaign = await CampaignService(db, memory_bus).create_campaign(SYSTEM, "Kasım", DialMode.PREVIEW)
    await conn.execute(
        """INSERT INTO call_records (call_id, direction, campaign_id, phone, status, dialed_at, ended_at, failure)
           SELECT 'c' || n, 'outbound', $1, '+90532100' || lpad(n::text, 4, '0'), 'failed',
                  timestamptz '2026-03-01 09:00Z' + n * interval '1 minute',
                  timestamptz '2026-03-01 09:00Z' + n * interval '1 minute', 'busy'
             FROM generate_series(1, 60) AS n""",
        campaign.id,
    )
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)

    first = await (await client.get(f"/campaigns/archive?campaign={campaign.id}")).text()
    assert "60 kayıt" in first and "Sayfa 1 / 2" in first
    assert first.count("<tr>") == 51  # the header and 50 rows, newest first
    assert "+905321000060" in first and "+905321000010" not in first
    second_link = re.search(r'href="(/campaigns/archive\?[^"]*page=2)"', first)
    assert second_link
    second = await (await client.get(second_link.group(1).replace("&amp;", "&"))).text()
    assert "Sayfa 2 / 2" in second and second.count("<tr>") == 11
    assert "+905321000010" in second and "+905321000011" not in second and "Ulaşılamadı (meşgul)" in second


# --- the agent's phone extension ----------------------------------------------------------------------------------


def user_form(user: User, **fields: str) -> dict[str, str]:
    data = {
        "full_name": user.full_name,
        "role": user.role.value,
        "team_id": "",
        "password": "",
        "language": "tr",
        "login_rule": "any",
        "allowed_networks": "",
        "active": "1",
        "extension": "",
    }
    data.update(fields)
    return data


async def test_an_agents_extension_is_set_in_the_user_form_and_is_unique(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    ayse = await make_user("ayse", full_name="Ayşe Yılmaz")
    mehmet = await make_user("mehmet", full_name="Mehmet Kaya")
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    saved = await post_form(client, f"/admin/users/{ayse.id}", user_form(ayse, extension=" agent7 "))
    assert saved.status == 303
    assert await conn.fetchval("SELECT extension FROM users WHERE id = $1", ayse.id) == "agent7"
    page = await (await client.get(f"/admin/users/{ayse.id}")).text()
    assert 'name="extension" value="agent7"' in page
    assert "Dahili (telefon): — → agent7" in text_of(page)  # the user's history
    listing = text_of(await (await client.get("/admin/users")).text())
    assert "Ayşe Yılmaz ayse Agent Takımsız agent7" in listing

    taken = await post_form(client, f"/admin/users/{mehmet.id}", user_form(mehmet, extension="AGENT7"))
    assert taken.status == 422
    html = await taken.text()
    assert field_error(html, "extension") == "Bu dahili başka bir kullanıcıda."
    assert 'value="AGENT7"' in html
    bad = await post_form(client, f"/admin/users/{mehmet.id}", user_form(mehmet, extension="agent 8"))
    assert field_error(await bad.text(), "extension").startswith("Dahili yalnızca harf, rakam, - ve _")
    assert await conn.fetchval("SELECT extension FROM users WHERE id = $1", mehmet.id) is None

    created = await post_form(
        client,
        "/admin/users/new",
        {
            **user_form(mehmet, extension="agent7"),
            "username": "zeynep",
            "full_name": "Zeynep",
            "password": "uzun-parola-1",
        },
    )
    assert created.status == 422
    assert field_error(await created.text(), "extension") == "Bu dahili başka bir kullanıcıda."
    assert await conn.fetchval("SELECT count(*) FROM users WHERE username = 'zeynep'") == 0

    cleared = await post_form(client, f"/admin/users/{ayse.id}", user_form(ayse, extension=""))
    assert cleared.status == 303
    assert await conn.fetchval("SELECT extension FROM users WHERE id = $1", ayse.id) is None


# --- English ------------------------------------------------------------------------------------------------------


async def test_the_campaign_pages_in_english(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus
) -> None:
    campaign = await client.app[CAMPAIGNS].create_campaign(SYSTEM, "November", DialMode.PROGRESSIVE)
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)
    await client.get("/lang/en?next=/campaigns")
    for path in (
        "/campaigns",
        "/campaigns/new",
        f"/campaigns/{campaign.id}",
        f"/campaigns/{campaign.id}/dispositions",
        f"/campaigns/{campaign.id}/dispositions/new",
        f"/campaigns/{campaign.id}/dispositions/no_answer",
        "/campaigns/archive",
    ):
        html = await (await client.get(path)).text()
        assert not re.findall(r"\bcampaigns\.[a-z_]", html), path  # no key without its text
    html = await (await client.get(f"/campaigns/{campaign.id}")).text()
    assert "Automatic (progressive)" in html and ">Start<" in html and "Calling rules" in html
    refused = await post_form(client, f"/campaigns/{campaign.id}/status", {"status": "running"}, page="/campaigns")
    assert "Choose at least one data pool and one team before starting the campaign." in await refused.text()
