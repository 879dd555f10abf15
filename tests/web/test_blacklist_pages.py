"""The blacklist pages as a supervisor, a viewer and an agent see them (seed 001 "Kara liste"): adding and removing
numbers with their reasons and history, uploading a file of numbers, İYS consents and campaign rules, in Turkish
first and in English."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import asyncpg
from aiohttp.test_utils import TestClient

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role, User
from crm_core.users.service import UserService
from tests.conftest import MakeUser, csrf_from, login

Client = TestClient[Any, Any]


async def sign_in(client: Client, make_user: MakeUser, username: str, role: Role, **kwargs: Any) -> User:
    user = await make_user(username, role=role, **kwargs)
    response = await login(client, username)
    assert response.status == 302, await response.text()
    return user


async def post_form(client: Client, path: str, data: dict[str, str], *, page: str = "/blacklist") -> Any:
    token = await csrf_from(client, page)
    return await client.post(path, data={"_csrf": token, **data}, allow_redirects=False)


async def upload(client: Client, path: str, filename: str, content: bytes, page: str, **fields: str) -> Any:
    form = aiohttp.FormData()
    form.add_field("_csrf", await csrf_from(client, page))
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", content, filename=filename, content_type="text/csv")
    return await client.post(path, data=form, allow_redirects=False)


def listed(html: str) -> list[str]:
    """The numbers the page's table lists (each links to its entry)."""
    return re.findall(r'<a href="/blacklist/\d+">([^<]+)</a>', html)


def csv_file(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


async def campaign(db: Database, name: str) -> int:
    """A campaign row; through the database's turn-taking, as the app shares the test's one connection."""
    async with db.acquire() as conn:
        campaign_id: int = await conn.fetchval(
            "INSERT INTO campaigns (name, dial_mode) VALUES ($1, 'preview') RETURNING id", name
        )
    return campaign_id


async def test_an_agent_may_not_open_or_change_the_blacklist(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await sign_in(client, make_user, "ayse", Role.AGENT)

    for path in ("/blacklist", "/blacklist/upload", "/blacklist/consents", "/blacklist/1"):
        response = await client.get(path)
        assert response.status == 403, path
        assert "Bu sayfaya erişim yetkiniz yok." in await response.text()
    refused = await post_form(client, "/blacklist", {"phone": "05321234567", "reason": "x"}, page="/console")
    assert refused.status == 403
    assert await conn.fetchval("SELECT count(*) FROM blacklist_entries") == 0
    assert 'href="/blacklist"' not in await (await client.get("/console")).text()


async def test_a_supervisor_adds_and_removes_a_number_and_sees_its_history(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await sign_in(client, make_user, "super", Role.SUPERVISOR, full_name="Selin Süpervizör")
    assert 'href="/blacklist"' in await (await client.get("/console")).text()  # the menu links the page

    added = await post_form(client, "/blacklist", {"phone": "0532 123 45 67", "scope": "", "reason": "Şikâyet etti"})

    assert (added.status, added.headers["Location"]) == (303, "/blacklist?saved=1")
    listing = await (await client.get("/blacklist?saved=1")).text()
    assert "Kaydedildi." in listing
    assert listed(listing) == ["0532 123 45 67"]
    assert "Şikâyet etti" in listing
    assert "Bütün kampanyalar (genel)" in listing
    assert "Selin Süpervizör" in listing
    entry_id = await conn.fetchval("SELECT id FROM blacklist_entries WHERE phone = '+905321234567'")

    removed = await post_form(
        client, f"/blacklist/{entry_id}/remove", {"removal_reason": "Müşteri izin verdi"}, page=f"/blacklist/{entry_id}"
    )

    assert (removed.status, removed.headers["Location"]) == (303, f"/blacklist/{entry_id}?saved=1")
    page = await (await client.get(f"/blacklist/{entry_id}")).text()
    assert "Kaldırıldı" in page
    assert "Müşteri izin verdi" in page
    history = page.split('id="history-h"', 1)[1]
    assert "Kara listeye eklendi" in history
    assert "Kara listeden çıkarıldı" in history
    assert 'name="removal_reason"' not in page  # nothing left to remove
    actions = await conn.fetch(
        "SELECT action, actor_name FROM audit_log WHERE entity = 'blacklist' AND entity_id = $1 ORDER BY id",
        str(entry_id),
    )
    assert [tuple(r.values()) for r in actions] == [("blacklist.added", "super"), ("blacklist.removed", "super")]
    assert listed(await (await client.get("/blacklist")).text()) == []
    assert listed(await (await client.get("/blacklist?status=removed")).text()) == ["0532 123 45 67"]


async def test_a_wrong_number_or_a_missing_reason_shows_the_form_again_in_turkish(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await sign_in(client, make_user, "super", Role.SUPERVISOR)

    response = await post_form(client, "/blacklist", {"phone": "0111 111 11 11", "scope": "", "reason": "Deneme"})

    assert response.status == 422
    html = await response.text()
    assert "Geçersiz telefon numarası" in html
    assert 'value="0111 111 11 11"' in html and 'value="Deneme"' in html
    both = await post_form(client, "/blacklist", {"phone": "0532 12", "scope": "", "reason": " "})
    assert both.status == 422
    html = await both.text()  # every mistake at once
    assert 'id="phone-error">Telefon numarası çok kısa: 0532 12</span>' in html
    assert 'id="reason-error">Bu alan zorunludur.</span>' in html
    assert await conn.fetchval("SELECT count(*) FROM blacklist_entries") == 0


async def test_a_number_blocked_for_one_campaign_and_the_scope_filter(
    client: Client, make_user: MakeUser, db: Database
) -> None:
    kasim = await campaign(db, "Kasım Satış")
    await sign_in(client, make_user, "super", Role.SUPERVISOR)
    await post_form(client, "/blacklist", {"phone": "05321234567", "scope": str(kasim), "reason": "Bu kampanya"})
    await post_form(client, "/blacklist", {"phone": "05421112233", "scope": "", "reason": "Her yerde"})

    mine = await (await client.get(f"/blacklist?scope={kasim}")).text()
    assert "Yalnızca Kasım Satış kampanyası" in mine
    assert listed(mine) == ["0532 123 45 67"]
    everywhere = await (await client.get("/blacklist?scope=global&q=542")).text()
    assert listed(everywhere) == ["0542 111 22 33"]
    again = await post_form(client, "/blacklist", {"phone": "+905321234567", "scope": str(kasim), "reason": "Tekrar"})
    assert again.status == 422
    assert "Bu numara bu kapsamda zaten kara listede." in await again.text()


async def test_a_user_who_may_only_view_the_blacklist_cannot_change_it(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    leader = await make_user("lider", role=Role.TEAM_LEADER)
    await UserService(db, memory_bus).set_permissions(SYSTEM, leader.id, {"blacklist.view": True})
    await login(client, "lider")

    page = await client.get("/blacklist")
    html = await page.text()
    assert page.status == 200
    assert "Kara listeyi yalnızca görüntüleyebilirsiniz" in html
    assert 'action="/blacklist"' not in html.replace('method="get" action="/blacklist"', "")
    assert (await client.get("/blacklist/upload")).status == 403
    refused = await post_form(client, "/blacklist", {"phone": "05321234567", "scope": "", "reason": "x"})
    assert refused.status == 403
    assert await conn.fetchval("SELECT count(*) FROM blacklist_entries") == 0


async def test_uploading_a_file_of_numbers_shows_what_was_stored_and_why_the_rest_was_not(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await sign_in(client, make_user, "super", Role.SUPERVISOR)
    content = csv_file(
        ["Telefon;Neden", "05321234567;Avukat yazısı", "05321234568;", "0111 111 11 11;", "0532 123 45 67;"]
    )

    response = await upload(
        client, "/blacklist/upload", "kvkk.csv", content, "/blacklist/upload", scope="", reason="KVKK talebi"
    )

    assert response.status == 200
    html = await response.text()
    assert "Yükleme sonucu: kvkk.csv" in html
    assert "4 satır okundu: 2 satır kaydedildi, 2 satır kaydedilmedi." in html
    assert "Geçersiz telefon numarası: 0111 111 11 11" in html
    assert "Numara dosyada tekrar ediyor (ilk geçtiği satır: 2)." in html
    rows = await conn.fetch("SELECT phone, reason FROM blacklist_entries ORDER BY phone")
    assert [tuple(r.values()) for r in rows] == [("+905321234567", "Avukat yazısı"), ("+905321234568", "KVKK talebi")]


async def test_an_unreadable_upload_is_refused_and_stores_nothing(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await sign_in(client, make_user, "super", Role.SUPERVISOR)

    old_excel = b"\xd0\xcf\x11\xe0" + b"\x00" * 64
    response = await upload(client, "/blacklist/upload", "liste.xls", old_excel, "/blacklist/upload", reason="Toplu")

    assert response.status == 422
    assert "Eski Excel (.xls) dosyaları okunamıyor" in await response.text()
    assert await conn.fetchval("SELECT count(*) FROM blacklist_entries") == 0


async def test_iys_consents_are_uploaded_and_a_number_is_looked_up(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await sign_in(client, make_user, "super", Role.SUPERVISOR)
    content = csv_file(
        [
            "Telefon;Durum;Tür;Kaynak;Tarih",
            "05321234567;RET;ARAMA;HS_CAGRI_MERKEZI;2024-01-15 10:30",
            "05321234568;BELKİ;;;",
        ]
    )

    response = await upload(client, "/blacklist/consents", "iys.csv", content, "/blacklist/consents")

    assert response.status == 200
    html = await response.text()
    assert "2 satır okundu: 1 satır kaydedildi, 1 satır kaydedilmedi." in html
    assert "Geçersiz izin durumu: BELKİ (ONAY ya da RET olmalı)." in html
    looked = await (await client.get("/blacklist/consents?phone=0532+123+45+67")).text()
    assert "Bu numara aranamaz: İYS&#39;de arama izni reddedilmiş (RET)." in looked
    assert "RET (reddedildi)" in looked
    assert "HS_CAGRI_MERKEZI" in looked
    assert "15.01.2024 10:30:00" in looked
    clean = await (await client.get("/blacklist/consents?phone=05421112233")).text()
    assert "Bu numara aranabilir" in clean
    assert "Bu numara için İYS kaydı yok." in clean
    wrong = await client.get("/blacklist/consents?phone=12")
    assert wrong.status == 422
    assert 'id="phone-error">Telefon numarası çok kısa: 12</span>' in await wrong.text()


async def test_a_campaign_is_set_to_call_only_numbers_with_consent(
    client: Client, make_user: MakeUser, db: Database, conn: asyncpg.Connection
) -> None:
    kasim = await campaign(db, "Kasım Satış")
    await sign_in(client, make_user, "super", Role.SUPERVISOR)

    response = await post_form(
        client,
        "/blacklist/consents/rule",
        {"campaign_id": str(kasim), "consent_rule": "consent_required"},
        page="/blacklist/consents",
    )

    assert (response.status, response.headers["Location"]) == (303, "/blacklist/consents?saved=1")
    assert await conn.fetchval("SELECT consent_rule FROM campaigns WHERE id = $1", kasim) == "consent_required"
    html = await (await client.get("/blacklist/consents?saved=1")).text()
    assert "Kaydedildi." in html
    assert 'value="consent_required" selected' in html
    bad = await post_form(
        client, "/blacklist/consents/rule", {"campaign_id": str(kasim), "consent_rule": "her_zaman"}, page="/blacklist"
    )
    assert bad.status == 422


async def test_the_blacklist_in_english(client: Client, make_user: MakeUser) -> None:
    await sign_in(client, make_user, "super", Role.SUPERVISOR)
    client.session.cookie_jar.update_cookies({"cc_lang": "en"})

    html = await (await client.get("/blacklist")).text()

    assert "<h1>Blacklist (do not call)</h1>" in html
    assert "Add to the blacklist" in html
    assert "Kara listeye ekle" not in html
