"""The administration pages as an administrator, a team leader and an agent see them: users, permissions, sign-in
rules, teams and the audit log (seed 001 "Kullanıcı giriş protokolleri", "Esnek yetkilendirme", "Takım ve ekip
oluşturma")."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from crm_core.audit.repository import SYSTEM, Actor, AuditRepository
from crm_core.users.model import PERMISSIONS, Role, User
from crm_core.users.service import UserService
from tests.conftest import MakeUser, csrf_from, login

Client = TestClient[Any, Any]


def user_form(**fields: str) -> dict[str, str]:
    """Every field of the user form as a browser sends it, with the permission matrix left at the role defaults."""
    data = {
        "username": "",
        "full_name": "",
        "role": "agent",
        "team_id": "",
        "password": "",
        "language": "tr",
        "login_rule": "any",
        "allowed_networks": "",
    }
    data.update({f"perm.{code}": "default" for code in PERMISSIONS})
    data.update(fields)
    return data


def edit_form(user: User, **fields: str) -> dict[str, str]:
    """The edit form of ``user`` as it is shown (unchanged), with ``fields`` changed."""
    base = user_form(
        full_name=user.full_name,
        role=user.role.value,
        team_id="" if user.team_id is None else str(user.team_id),
        language=user.language,
        login_rule=user.login_rule.value,
        allowed_networks="\n".join(str(n) for n in user.allowed_networks),
        active="1",
    )
    base.pop("username")
    base.update(fields)
    return base


async def sign_in(client: Client, make_user: MakeUser, username: str, role: Role, **kwargs: Any) -> User:
    user = await make_user(username, role=role, **kwargs)
    response = await login(client, username)
    assert response.status == 302, await response.text()
    return user


async def post_form(client: Client, path: str, data: dict[str, str]) -> Any:
    token = await csrf_from(client, path)
    return await client.post(path, data={"_csrf": token, **data}, allow_redirects=False)


def sign_out(client: Client) -> None:
    client.session.cookie_jar.clear()


async def test_admin_creates_a_user_who_can_then_sign_in(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    response = await post_form(
        client,
        "/admin/users/new",
        user_form(username="mehmet", full_name="Mehmet Kaya", password="yeni-parola-42", role="agent"),
    )

    assert response.status == 303
    user_id = await conn.fetchval("SELECT id FROM users WHERE username = 'mehmet'")
    assert response.headers["Location"] == f"/admin/users/{user_id}?saved=1"
    page = await client.get(response.headers["Location"])
    html = await page.text()
    assert "Kaydedildi." in html
    assert "Mehmet Kaya" in html

    sign_out(client)
    assert (await login(client, "mehmet", "yeni-parola-42")).status == 302
    console = await client.get("/console")
    assert console.status == 200
    assert "Hoş geldiniz, Mehmet Kaya" in await console.text()


async def test_a_taken_user_name_shows_the_form_again_with_the_turkish_error(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await make_user("ayse")
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    response = await post_form(
        client,
        "/admin/users/new",
        user_form(username="AYSE", full_name="Ayşe Başka", password="yeni-parola-42"),
    )

    assert response.status == 422
    html = await response.text()
    assert "Bu kullanıcı adı kullanılıyor." in html
    assert 'value="Ayşe Başka"' in html  # what was typed is kept
    assert await conn.fetchval("SELECT count(*) FROM users WHERE lower(username) = 'ayse'") == 1


async def test_role_and_network_changes_show_in_the_history_and_the_audit_log(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    ayse = await make_user("ayse", full_name="Ayşe Yılmaz")
    await sign_in(client, make_user, "yonetici", Role.ADMIN, full_name="Zeynep Demir")

    response = await post_form(
        client,
        f"/admin/users/{ayse.id}",
        edit_form(ayse, role="team_leader", login_rule="networks", allowed_networks="10.0.0.0/8\n192.168.1.20"),
    )

    assert response.status == 303
    row = await conn.fetchrow("SELECT role, login_rule, allowed_networks FROM users WHERE id = $1", ayse.id)
    assert row["role"] == "team_leader"
    assert row["login_rule"] == "networks"
    assert [str(n) for n in row["allowed_networks"]] == ["10.0.0.0/8", "192.168.1.20/32"]

    page = await (await client.get(f"/admin/users/{ayse.id}")).text()
    history = page.split('id="history-h"', 1)[1]
    assert "Zeynep Demir" in history
    assert "Kullanıcı değiştirildi" in history
    assert "Rol:</strong> Agent → Takım lideri" in history
    assert "Giriş kuralı:</strong> Serbest giriş → Yalnızca tanımlı IP adreslerinden" in history
    assert "İzinli IP adresleri / ağlar:</strong> — → 10.0.0.0/8, 192.168.1.20/32" in history

    audit = await client.get("/admin/audit")
    assert audit.status == 200
    html = await audit.text()
    assert "Zeynep Demir" in html
    assert "Kullanıcı: Ayşe Yılmaz" in html
    assert "Agent → Takım lideri" in html


async def test_a_denied_permission_closes_a_page_and_a_granted_one_opens_it(
    client: Client, make_user: MakeUser
) -> None:
    ayse = await make_user("ayse")
    ali = await make_user("ali")
    await sign_in(client, make_user, "yonetici", Role.ADMIN)
    denied = await post_form(client, f"/admin/users/{ayse.id}", edit_form(ayse, **{"perm.console.use": "deny"}))
    granted = await post_form(client, f"/admin/users/{ali.id}", edit_form(ali, **{"perm.audit.view": "grant"}))
    assert (denied.status, granted.status) == (303, 303)
    sign_out(client)

    await login(client, "ayse")
    console = await client.get("/console")
    assert console.status == 403
    assert "Bu sayfaya erişim yetkiniz yok." in await console.text()
    sign_out(client)

    await login(client, "ali")
    assert (await client.get("/console")).status == 200
    audit = await client.get("/admin/audit")
    assert audit.status == 200
    assert "Yetkiler değiştirildi" in await audit.text()


async def test_the_permission_matrix_shows_the_saved_choice(client: Client, make_user: MakeUser) -> None:
    ali = await make_user("ali")
    await sign_in(client, make_user, "yonetici", Role.ADMIN)
    await post_form(client, f"/admin/users/{ali.id}", edit_form(ali, **{"perm.audit.view": "grant"}))

    html = await (await client.get(f"/admin/users/{ali.id}")).text()

    assert re.search(r'name="perm\.audit\.view" value="grant"[^>]*checked', html)
    assert not re.search(r'name="perm\.audit\.view" value="default"[^>]*checked', html)
    assert "İzin verildi" in html.split('id="history-h"', 1)[1]


async def test_an_agent_may_not_open_the_administration_pages(client: Client, make_user: MakeUser) -> None:
    await sign_in(client, make_user, "ayse", Role.AGENT)

    for path in ("/admin/users", "/admin/users/new", "/admin/teams", "/admin/audit"):
        response = await client.get(path)
        assert response.status == 403, path
        assert "Bu sayfaya erişim yetkiniz yok." in await response.text()


async def test_a_team_leader_sees_only_the_users_of_his_team(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus
) -> None:
    service = UserService(db, memory_bus)
    leader = await make_user("lider", role=Role.TEAM_LEADER, full_name="Leyla Lider")
    mine = await service.create_team(SYSTEM, "Satış", leader.id)
    other = await service.create_team(SYSTEM, "Tahsilat")
    ayse = await make_user("ayse", full_name="Ayşe Yılmaz", team_id=mine.id)
    veli = await make_user("veli", full_name="Veli Kara", team_id=other.id)
    await make_user("cem", full_name="Cem Boş")
    await login(client, "lider")

    page = await client.get("/admin/users")
    html = await page.text()
    assert page.status == 200
    assert "Ayşe Yılmaz" in html
    assert "Veli Kara" not in html
    assert "Cem Boş" not in html
    assert "Yeni kullanıcı" not in html

    own = await client.get(f"/admin/users/{ayse.id}")
    assert own.status == 200
    assert "Bu kullanıcıyı yalnızca görüntüleyebilirsiniz" in await own.text()
    assert (await client.get(f"/admin/users/{veli.id}")).status == 403
    refused = await post_form(client, f"/admin/users/{ayse.id}", edit_form(ayse, full_name="Başka Ad"))
    assert refused.status == 403


async def test_a_supervisor_sees_every_user(client: Client, make_user: MakeUser) -> None:
    await make_user("veli", full_name="Veli Kara")
    await sign_in(client, make_user, "super", Role.SUPERVISOR)

    html = await (await client.get("/admin/users")).text()

    assert "Veli Kara" in html
    assert "Yeni kullanıcı" not in html  # a supervisor views users but does not manage them


async def test_a_form_without_its_csrf_token_is_refused(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    response = await client.post(
        "/admin/users/new",
        data=user_form(username="sahte", full_name="Sahte Kişi", password="yeni-parola-42"),
        allow_redirects=False,
    )

    assert response.status == 403
    assert "Güvenlik doğrulaması başarısız oldu" in await response.text()
    assert await conn.fetchval("SELECT count(*) FROM users WHERE username = 'sahte'") == 0


async def test_a_bad_network_entry_is_shown_next_to_the_field(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    response = await post_form(
        client,
        "/admin/users/new",
        user_form(
            username="mehmet",
            full_name="Mehmet Kaya",
            password="yeni-parola-42",
            login_rule="networks",
            allowed_networks="10.0.0.0/8\nofis-ağı",
        ),
    )

    assert response.status == 422
    html = await response.text()
    assert "Geçersiz IP adresi ya da ağ: ofis-ağı" in html
    assert "10.0.0.0/8\nofis-ağı</textarea>" in html
    assert await conn.fetchval("SELECT count(*) FROM users WHERE username = 'mehmet'") == 0


async def test_networks_are_required_for_an_ip_bound_user(client: Client, make_user: MakeUser) -> None:
    ayse = await make_user("ayse")
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    response = await post_form(client, f"/admin/users/{ayse.id}", edit_form(ayse, login_rule="networks"))

    assert response.status == 422
    assert "En az bir IP adresi ya da ağ girin." in await response.text()


async def test_the_users_page_in_english(client: Client, make_user: MakeUser) -> None:
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    switched = await client.get("/lang/en?next=/admin/users", allow_redirects=False)
    assert switched.headers["Location"] == "/admin/users"
    html = await (await client.get("/admin/users")).text()

    assert "<h1>Users</h1>" in html
    assert "New user" in html
    assert "Administrator" in html
    assert "Yeni kullanıcı" not in html


async def test_the_english_cookie_alone_switches_the_language(client: Client, make_user: MakeUser) -> None:
    await sign_in(client, make_user, "yonetici", Role.ADMIN)
    client.session.cookie_jar.update_cookies({"cc_lang": "en"})

    html = await (await client.get("/admin/users")).text()

    assert "Sign-in rule" in html
    assert "Any address" in html


async def test_unknown_records_are_not_found(client: Client, make_user: MakeUser) -> None:
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    for path in ("/admin/users/987654", "/admin/teams/987654", "/admin/users/99999999999999999999"):
        response = await client.get(path)
        assert response.status == 404, path
        assert "Sayfa bulunamadı." in await response.text()


async def test_admin_creates_a_team_with_a_leader_and_sees_its_members(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    leader = await make_user("lider", role=Role.TEAM_LEADER, full_name="Leyla Lider")
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    response = await post_form(client, "/admin/teams/new", {"name": "Satış", "leader_id": str(leader.id)})

    assert response.status == 303
    team_id = await conn.fetchval("SELECT id FROM teams WHERE name = 'Satış' AND leader_id = $1", leader.id)
    assert response.headers["Location"] == f"/admin/teams/{team_id}?saved=1"
    await make_user("ayse", full_name="Ayşe Yılmaz", team_id=team_id)
    html = await (await client.get(f"/admin/teams/{team_id}")).text()
    members = html.split('id="members-h"', 1)[1]
    assert "Ayşe Yılmaz" in members
    listing = await (await client.get("/admin/teams")).text()
    assert "Satış" in listing
    assert "Leyla Lider" in listing


async def test_an_agent_cannot_lead_a_team(client: Client, make_user: MakeUser, conn: asyncpg.Connection) -> None:
    ayse = await make_user("ayse")
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    response = await post_form(client, "/admin/teams/new", {"name": "Satış", "leader_id": str(ayse.id)})

    assert response.status == 422
    assert "Takım lideri olarak bir agent dışındaki kullanıcı seçin." in await response.text()
    assert await conn.fetchval("SELECT count(*) FROM teams") == 0


async def test_the_audit_log_pages_back_and_filters(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    # Signing in first also lets the app's start-up session purge finish: it shares this test's one connection.
    await sign_in(client, make_user, "yonetici", Role.ADMIN)
    audit = AuditRepository(conn)
    for i in range(105):
        await audit.record(Actor(None, "system"), "test.ping", "request", f"/deneme/{i:03}")

    first = await (await client.get("/admin/audit?action=test.")).text()
    assert first.count("İstek: /deneme/") == 100
    assert "/deneme/104" in first
    assert "/deneme/004" not in first
    assert "Giriş yapıldı" not in first  # filtered out

    older_href = first.split('href="/admin/audit?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = await (await client.get("/admin/audit?" + older_href)).text()
    assert second.count("İstek: /deneme/") == 5
    assert "/deneme/004" in second
    assert "Daha eski kayıtlar" not in second


async def test_the_audit_log_shows_why_a_sign_in_was_refused(client: Client, make_user: MakeUser) -> None:
    await make_user("ayse")
    await login(client, "ayse", "yanlis-parola")
    await sign_in(client, make_user, "yonetici", Role.ADMIN)

    html = await (await client.get("/admin/audit?action=login.")).text()

    assert "Giriş reddedildi" in html
    assert "Neden:</strong> Kullanıcı adı veya parola hatalı" in html
