"""Signing in and out as a user would: the Turkish login page, refusals with clear messages, audit records."""

from __future__ import annotations

import ipaddress
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from crm_core.users.model import LoginRule, Role
from tests.conftest import MakeUser, csrf_from, login

Client = TestClient[Any, Any]


async def audit_rows(conn: asyncpg.Connection, action: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT actor_id, actor_name, ip, entity_id, changes FROM audit_log WHERE action = $1 ORDER BY id", action
    )


async def test_login_page_is_turkish_by_default(client: Client) -> None:
    response = await client.get("/login")
    html = await response.text()
    assert response.status == 200
    assert '<html lang="tr">' in html
    assert "Çağrı merkezine giriş" in html
    assert "Kullanıcı adı" in html and "Parola" in html


async def test_agent_logs_in_and_sees_the_console(client: Client, make_user: MakeUser) -> None:
    await make_user("ajan1", full_name="Ayşe Demir")
    response = await login(client, "ajan1")
    assert response.status == 302
    page = await client.get("/")
    html = await page.text()
    assert page.url.path == "/console"
    assert "Hoş geldiniz, Ayşe Demir" in html
    assert "Şu anda çağrı yok." in html


async def test_console_requires_login(client: Client) -> None:
    response = await client.get("/console", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] in ("/login?next=/console", "/login?next=%2Fconsole")


async def test_login_returns_to_the_page_asked_for_but_never_to_another_site(
    client: Client, make_user: MakeUser
) -> None:
    await make_user("ajan1")
    token = await csrf_from(client, "/login")
    form = {"_csrf": token, "username": "ajan1", "password": "dogru-parola-1", "next": "//evil.example/x"}
    response = await client.post("/login", data=form, allow_redirects=False)
    assert response.headers["Location"] == "/"


async def test_wrong_password_is_refused_clearly_and_audited(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    user = await make_user("ajan1")
    response = await login(client, "ajan1", "yanlis-parola")
    html = await response.text()
    assert response.status == 401
    assert "Kullanıcı adı veya parola hatalı." in html
    assert (await client.get("/console", allow_redirects=False)).status == 302  # still signed out
    rows = await audit_rows(conn, "login.refused")
    assert len(rows) == 1
    assert rows[0]["entity_id"] == str(user.id)
    assert rows[0]["changes"] == {"username": "ajan1", "reason": "bad_credentials"}
    assert rows[0]["ip"] == ipaddress.ip_address("127.0.0.1")


async def test_unknown_user_gets_the_same_message(client: Client, conn: asyncpg.Connection) -> None:
    response = await login(client, "kimse", "bir-parola")
    assert "Kullanıcı adı veya parola hatalı." in await response.text()
    rows = await audit_rows(conn, "login.refused")
    assert rows[0]["entity_id"] is None and rows[0]["changes"]["username"] == "kimse"


async def test_address_outside_allowed_networks_is_refused_and_audited(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await make_user("ajan2", login_rule=LoginRule.NETWORKS, allowed_networks=(ipaddress.ip_network("10.20.0.0/16"),))
    response = await login(client, "ajan2")
    html = await response.text()
    assert response.status == 403
    assert "Bu hesapla 127.0.0.1 adresinden giriş yapılamaz" in html
    rows = await audit_rows(conn, "login.refused")
    assert rows[-1]["changes"]["reason"] == "address_not_allowed"


async def test_address_inside_allowed_networks_may_log_in(client: Client, make_user: MakeUser) -> None:
    await make_user("ajan3", login_rule=LoginRule.NETWORKS, allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    response = await login(client, "ajan3")
    assert response.status == 302


async def test_form_without_csrf_token_is_refused_and_audited(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await make_user("ajan1")
    await client.get("/login")  # the browser has its cookie, but the form lacks the token
    response = await client.post("/login", data={"username": "ajan1", "password": "dogru-parola-1"})
    html = await response.text()
    assert response.status == 403
    assert "Güvenlik doğrulaması başarısız oldu" in html
    assert (await client.get("/console", allow_redirects=False)).status == 302
    rows = await audit_rows(conn, "csrf.refused")
    assert rows[0]["entity_id"] == "/login" and rows[0]["changes"]["reason"] == "missing"


async def test_signed_in_form_with_a_foreign_csrf_token_is_refused(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    user = await make_user("ajan1")
    anonymous_token = await csrf_from(client, "/login")
    await login(client, "ajan1")
    response = await client.post("/logout", data={"_csrf": anonymous_token})
    assert response.status == 403
    assert (await client.get("/console")).status == 200  # still signed in
    rows = await audit_rows(conn, "csrf.refused")
    assert rows[0]["actor_id"] == user.id and rows[0]["changes"]["reason"] == "mismatch"


async def test_json_write_needs_the_csrf_header(client: Client, make_user: MakeUser) -> None:
    await make_user("ajan1")
    await login(client, "ajan1")
    refused = await client.post("/logout", json={}, headers={"Accept": "application/json"})
    assert refused.status == 403
    assert (await refused.json())["error"] == "error.csrf"
    token = await csrf_from(client, "/console")
    accepted = await client.post("/logout", json={}, headers={"X-CSRF-Token": token}, allow_redirects=False)
    assert accepted.status == 302


async def test_repeated_failures_lock_the_login_for_a_while(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await make_user("ajan1")
    for _ in range(5):
        assert (await login(client, "ajan1", "yanlis")).status == 401
    # Even the right password is refused now, with a message that says why and for how long.
    response = await login(client, "ajan1")
    assert response.status == 429
    assert "Çok fazla başarısız giriş denemesi. Lütfen 15 dakika sonra tekrar deneyin." in await response.text()
    reasons = [r["changes"]["reason"] for r in await audit_rows(conn, "login.refused")]
    assert reasons == ["bad_credentials"] * 5 + ["throttled"]
    # Another user from the same address is not locked out by ajan1's failures.
    await make_user("ajan2")
    assert (await login(client, "ajan2")).status == 302


async def test_disabled_user_cannot_log_in(client: Client, make_user: MakeUser, conn: asyncpg.Connection) -> None:
    user = await make_user("ajan1")
    await conn.execute("UPDATE users SET active = false WHERE id = $1", user.id)
    response = await login(client, "ajan1")
    assert "Bu hesap devre dışı bırakılmış" in await response.text()


async def test_logout_ends_the_session(client: Client, make_user: MakeUser, conn: asyncpg.Connection) -> None:
    user = await make_user("ajan1")
    await login(client, "ajan1")
    token = await csrf_from(client, "/console")
    response = await client.post("/logout", data={"_csrf": token})
    assert "Oturumunuz kapatıldı." in await response.text()
    assert (await client.get("/console", allow_redirects=False)).status == 302
    assert await conn.fetchval("SELECT count(*) FROM web_sessions WHERE user_id = $1", user.id) == 0
    assert len(await audit_rows(conn, "logout")) == 1


async def test_session_cookie_is_http_only_and_never_holds_the_stored_token(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await make_user("ajan1")
    response = await login(client, "ajan1")
    cookie = response.cookies["cc_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    stored = await conn.fetchval("SELECT token_hash FROM web_sessions")
    assert cookie.value.encode() != stored and len(stored) == 32


async def test_english_is_selectable(client: Client, make_user: MakeUser) -> None:
    await client.get("/lang/en?next=/login")
    html = await (await client.get("/login")).text()
    assert '<html lang="en">' in html and "Sign in to the call center" in html


async def test_agent_may_not_open_pages_outside_his_permissions(client: Client, make_user: MakeUser) -> None:
    await make_user("ajan1", role=Role.AGENT)
    await login(client, "ajan1")
    response = await client.get("/admin/audit")
    assert response.status in (403, 404)
