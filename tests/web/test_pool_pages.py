"""The data pool pages as a supervisor, a team leader and an agent use them (seed 001 "Data havuzu", "Data
kayıtlarına erişim"): pools and their counts, a file uploaded, its columns mapped, the import's report with every
refused line, the file downloaded back, and records distributed to agents and teams."""

from __future__ import annotations

import asyncio
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import openpyxl
import pytest
from aiohttp.test_utils import TestClient

from agent_console.pools.common import UPLOADS
from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from crm_core.audit.repository import Actor
from crm_core.users.model import Role, User
from crm_core.users.service import UserService
from dialer.blacklist.service import BlacklistService
from dialer.pools.model import DuplicateRule
from dialer.pools.service import PoolService
from tests.conftest import MakeUser, csrf_from, login

Client = TestClient[Any, Any]


@pytest.fixture(autouse=True)
def uploads_in(client: Client, tmp_path: Path) -> None:
    """Files waiting for their mapping go to this test's own directory."""
    client.app[UPLOADS].directory = tmp_path / "uploads"


class _Form(HTMLParser):
    """The fields a browser would submit from the form whose action is ``action``: inputs with their values
    (checked boxes only), selects with their selected option, textareas; disabled fields are left out."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside or "disabled" in a:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._options = a.get("name"), []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.fields.append((a["name"], ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, value = self.fields.pop()
            self.fields.append((name, value + data))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            chosen = [v for v, selected in self._options if selected] or [v for v, _ in self._options[:1]]
            self.fields.extend((self._select, v) for v in chosen)
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_fields(html: str, action: str) -> dict[str, str]:
    parser = _Form(action)
    parser.feed(html)
    return dict(parser.fields)


def csv_file(lines: list[str], encoding: str = "utf-8") -> bytes:
    return "\r\n".join(lines).encode(encoding) + b"\r\n"


def xlsx_file(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def sign_in(client: Client, make_user: MakeUser, username: str, role: Role, **kwargs: Any) -> User:
    user = await make_user(username, role=role, **kwargs)
    response = await login(client, username)
    assert response.status == 302, await response.text()
    return user


async def post_form(client: Client, path: str, data: dict[str, Any], *, page: str | None = None) -> Any:
    token = await csrf_from(client, page or path)
    return await client.post(path, data={"_csrf": token, **data}, allow_redirects=False)


async def upload(client: Client, pool_id: int, filename: str, content: bytes) -> Any:
    token = await csrf_from(client, f"/pools/{pool_id}")
    form = aiohttp.FormData()
    form.add_field("_csrf", token)
    form.add_field("file", content, filename=filename, content_type="application/octet-stream")
    return await client.post(f"/pools/{pool_id}/upload", data=form, allow_redirects=False)


async def import_as_guessed(client: Client, pool_id: int, filename: str, content: bytes, **changes: str) -> Any:
    """Upload a file, take the mapping page as it comes (with ``changes``) and run the import; the response."""
    uploaded = await upload(client, pool_id, filename, content)
    assert uploaded.status == 303, await uploaded.text()
    mapping_url = uploaded.headers["Location"]
    html = await (await client.get(mapping_url)).text()
    fields = form_fields(html, mapping_url)
    fields.update(changes)
    return await client.post(mapping_url, data=fields, allow_redirects=False)


def service(db: Database, bus: InProcessBus) -> PoolService:
    return PoolService(db, bus)


def actor(user: User) -> Actor:
    return Actor(user.id, user.username)


def part(html: str, element_id: str, end: str) -> str:
    """The text of the page from the element with ``element_id`` up to ``end``."""
    return text_of(html.split(f'id="{element_id}"', 1)[1].split(">", 1)[1].split(end, 1)[0])


def text_of(html: str) -> str:
    """The page's text without tags, blanks collapsed: what a person reads."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- permissions --------------------------------------------------------------------------------------------------


async def test_an_agent_may_not_open_the_pool_pages(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus
) -> None:
    boss = await make_user("patron", role=Role.SUPERVISOR)
    pool = await service(db, memory_bus).create_pool(actor(boss), "Kasım Listesi")
    await sign_in(client, make_user, "ayse", Role.AGENT)

    console = await (await client.get("/console")).text()
    assert 'href="/pools"' not in console
    for path in ("/pools", "/pools/new", f"/pools/{pool.id}", f"/pools/{pool.id}/distribute"):
        response = await client.get(path)
        assert response.status == 403, path
        assert "Bu sayfaya erişim yetkiniz yok." in await response.text()
    refused = await post_form(client, f"/pools/{pool.id}/distribute", {"kind": "agents"}, page="/console")
    assert refused.status == 403


async def test_a_team_leader_sees_the_pools_but_cannot_change_them(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.SUPERVISOR)
    pools = service(db, memory_bus)
    pool = await pools.create_pool(actor(boss), "Kasım Listesi", dial_priority=5)
    content = csv_file(["Telefon;Ad Soyad", "05321234567;Ali Veli", "05321234568;Ayşe Kaya"])
    report = await pools.import_file(
        actor(boss), pool.id, filename="kasim.csv", content=content, mapping={"Telefon": "phone", "Ad Soyad": "name"}
    )
    await sign_in(client, make_user, "lider", Role.TEAM_LEADER)

    listing = await client.get("/pools")
    assert listing.status == 200
    html = await listing.text()
    assert 'href="/pools"' in html  # the navigation link
    assert "Kasım Listesi" in html and "Yeni havuz" not in html
    row = text_of(html.split("Kasım Listesi", 1)[1].split("</tr>", 1)[0])
    assert row.startswith("Etkin 5 Atla (başka havuzdaki numarayı alma) 2 0 0 0 0 2")

    page = await client.get(f"/pools/{pool.id}")
    html = await page.text()
    assert "Bu havuzu yalnızca görüntüleyebilirsiniz; değişiklik yetkiniz yok." in html
    assert 'enctype="multipart/form-data"' not in html and "/distribute" not in html
    assert "kasim.csv" in html

    # He may open the report and download the file, but change nothing.
    assert (await client.get(f"/pools/{pool.id}/imports/{report.summary.id}")).status == 200
    assert (await client.get(f"/pools/{pool.id}/imports/{report.summary.id}/file")).status == 200
    renamed = await post_form(
        client, f"/pools/{pool.id}", {"name": "Başka", "dial_priority": "0", "duplicate_rule": "skip"}
    )
    assert renamed.status == 403
    assert (await client.get(f"/pools/{pool.id}/distribute")).status == 403
    assert (await client.get("/pools/new")).status == 403
    assert (await upload(client, pool.id, "x.csv", content)).status == 403
    assert await conn.fetchval("SELECT name FROM pools WHERE id = $1", pool.id) == "Kasım Listesi"
    assert await conn.fetchval("SELECT count(*) FROM pool_imports WHERE pool_id = $1", pool.id) == 1


# --- pools --------------------------------------------------------------------------------------------------------


async def test_a_supervisor_creates_and_edits_a_pool(
    client: Client, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)

    created = await post_form(
        client,
        "/pools/new",
        {"name": "Ekim Kampanyası", "description": "Mesken", "active": "1", "dial_priority": "3",
         "duplicate_rule": "move"},
    )  # fmt: skip

    assert created.status == 303
    row = await conn.fetchrow("SELECT id, active, dial_priority, duplicate_rule FROM pools")
    assert (row["active"], row["dial_priority"], row["duplicate_rule"]) == (True, 3, "move")
    assert created.headers["Location"] == f"/pools/{row['id']}?saved=1"
    page = await (await client.get(created.headers["Location"])).text()
    assert "Kaydedildi." in page and "Bu havuza henüz dosya yüklenmedi." in page

    edited = await post_form(
        client,
        f"/pools/{row['id']}",
        {"name": "Ekim Kampanyası", "description": "Mesken", "dial_priority": "-2", "duplicate_rule": "allow"},
    )
    assert edited.status == 303
    row = await conn.fetchrow("SELECT active, dial_priority, duplicate_rule FROM pools")
    assert (row["active"], row["dial_priority"], row["duplicate_rule"]) == (False, -2, "allow")
    listing = text_of(await (await client.get("/pools")).text())
    assert "Ekim Kampanyası Mesken Kapalı -2 İzin ver (bu havuza da ekle)" in listing

    taken = await post_form(
        client, "/pools/new", {"name": "EKİM KAMPANYASI", "dial_priority": "x", "duplicate_rule": "skip"}
    )
    assert taken.status == 422
    assert "Bir tam sayı girin." in await taken.text()
    taken = await post_form(
        client, "/pools/new", {"name": "ekim kampanyası", "dial_priority": "1", "duplicate_rule": "skip"}
    )
    assert taken.status == 422
    html = await taken.text()
    assert "Bu havuz adı kullanılıyor." in html and 'value="ekim kampanyası"' in html
    assert await conn.fetchval("SELECT count(*) FROM pools") == 1


# --- import -------------------------------------------------------------------------------------------------------


async def test_a_csv_is_uploaded_mapped_and_reported_line_by_line(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pools = service(db, memory_bus)
    older = await pools.create_pool(actor(boss), "Eski Liste")
    await pools.import_file(
        actor(boss), older.id, filename="eski.csv", content=csv_file(["tel", "05359876543"]), mapping={"tel": "phone"}
    )
    pool = await pools.create_pool(actor(boss), "Kasım Listesi")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR, full_name="Selin Yıldız")
    # As Turkish Excel saves it: Windows-1254, semicolons.
    content = csv_file(
        [
            "Telefon;Ad Soyad;İl;İlçe;Öncelik",
            "0532 123 45 67;İsmail Şahin;İSTANBUL;Kadıköy;3",
            "0111 111 11 11;Yanlış Numara;Ankara;Çankaya;0",
            "05331112233;Gül Çiçek;izmir;Buca;1",
            "+90 532 123 45 67;Tekrar Eden;Ankara;Keçiören;1",
            "0535 987 65 43;Başka Havuzda;Bursa;Nilüfer;2",
        ],
        encoding="cp1254",
    )

    uploaded = await upload(client, pool.id, "kasım listesi.csv", content)
    assert uploaded.status == 303
    mapping_url = uploaded.headers["Location"]
    assert re.fullmatch(rf"/pools/{pool.id}/import/[A-Za-z0-9_-]{{32}}", mapping_url)
    page = await client.get(mapping_url)
    html = await page.text()
    shown = text_of(html)
    assert "Windows-1254 (Türkçe)" in shown and "Noktalı virgül (;)" in shown
    assert "0532 123 45 67 · 0111 111 11 11 · 05331112233" in shown  # sample values of the phone column
    assert "2 0532 123 45 67 İsmail Şahin İSTANBUL Kadıköy 3" in shown  # the first rows, with their line numbers
    fields = form_fields(html, mapping_url)
    guessed = {k: v for k, v in fields.items() if k.startswith(("col", "key"))}
    assert guessed == {
        "col0": "phone", "key0": "",
        "col1": "name", "key1": "",
        "col2": "city", "key2": "",
        "col3": "custom", "key3": "ilce",
        "col4": "priority", "key4": "",
    }  # fmt: skip
    assert await conn.fetchval("SELECT count(*) FROM pool_records WHERE pool_id = $1", pool.id) == 0

    done = await client.post(mapping_url, data=fields, allow_redirects=False)

    assert done.status == 303
    import_id = await conn.fetchval("SELECT id FROM pool_imports WHERE pool_id = $1", pool.id)
    assert done.headers["Location"] == f"/pools/{pool.id}/imports/{import_id}"
    report = await client.get(done.headers["Location"])
    html = await report.text()
    assert "5 satırdan 2 tanesi kaydedildi, 3 tanesi reddedildi." in html
    rejected = part(html, "rejected-lines", "</table>")
    assert (
        "3 Geçersiz telefon numarası: 0111 111 11 11 0111 111 11 11 · Yanlış Numara · Ankara · Çankaya · 0" in rejected
    )
    assert "5 Numara dosyada tekrar ediyor (ilk geçtiği satır: 2)." in rejected
    assert "6 Numara başka havuzda var: Eski Liste (kural: atla)." in rejected
    assert "Selin Yıldız" in html and "Atla (başka havuzdaki numarayı alma)" in html
    assert "Özel alan: ilce" in html  # the mapping used

    records = await conn.fetch(
        "SELECT phone, name, city, region, priority, custom_fields FROM pool_records WHERE pool_id = $1 ORDER BY id",
        pool.id,
    )
    assert [tuple(r.values()) for r in records] == [
        ("+905321234567", "İsmail Şahin", "İstanbul", "Marmara", 3, {"ilce": "Kadıköy"}),
        ("+905331112233", "Gül Çiçek", "İzmir", "Ege", 1, {"ilce": "Buca"}),
    ]
    # The kept upload is gone once imported: the mapping page sends the user back to the pool.
    again = await client.get(mapping_url, allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == f"/pools/{pool.id}?expired=1"

    history = text_of(await (await client.get(f"/pools/{pool.id}")).text())
    assert re.search(
        r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d Selin Yıldız kasım listesi\.csv \(CSV\) 5 2 3 Raporu aç", history
    )
    assert "Atanmamış 2" in history

    download = await client.get(f"/pools/{pool.id}/imports/{import_id}/file")
    assert download.status == 200
    assert await download.read() == content
    assert (await client.get(f"/pools/{older.id}/imports/{import_id}/file")).status == 404  # not that pool's
    assert download.headers["Content-Type"].startswith("text/csv")
    disposition = download.headers["Content-Disposition"]
    assert "filename*=UTF-8''kas%C4%B1m%20listesi.csv" in disposition
    assert 'filename="kas_m listesi.csv"' in disposition

    csv_report = await client.get(f"/pools/{pool.id}/imports/{import_id}/report.csv")
    lines = (await csv_report.read()).decode("utf-8-sig").splitlines()
    assert lines[0] == "Satır no;Sonuç;Neden;Satırın içeriği"
    assert (
        lines[1]
        == "3;Reddedildi;Geçersiz telefon numarası: 0111 111 11 11;0111 111 11 11;Yanlış Numara;Ankara;Çankaya;0"
    )
    assert len(lines) == 4


async def test_the_duplicate_rule_shows_the_rows_it_acted_on(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pools = service(db, memory_bus)
    older = await pools.create_pool(actor(boss), "Eylül")
    await pools.import_file(
        actor(boss), older.id, filename="e.csv", content=csv_file(["tel", "05359876543"]), mapping={"tel": "phone"}
    )
    pool = await pools.create_pool(actor(boss), "Ekim", duplicate_rule=DuplicateRule.MOVE)
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)

    done = await import_as_guessed(client, pool.id, "ekim.csv", csv_file(["GSM,Adı Soyadı", "05359876543,Taşınan"]))

    html = await (await client.get(done.headers["Location"])).text()
    assert "1 satırdan 1 tanesi kaydedildi, 0 tanesi reddedildi." in html
    assert "Reddedilen satır yok." in html
    noted = part(html, "noted-lines", "</table>")
    assert "2 Numara bu havuza taşındı; Eylül havuzundaki kaydı arşivlendi." in noted
    assert "Virgül (,)" in html
    rows = await conn.fetch("SELECT pool_id, status FROM pool_records ORDER BY id")
    assert [(r["pool_id"], r["status"]) for r in rows] == [(older.id, "archived"), (pool.id, "new")]


async def test_numbers_on_the_blacklist_are_refused_by_the_import(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool = await service(db, memory_bus).create_pool(actor(boss), "Liste")
    await BlacklistService(db, memory_bus).add(actor(boss), "0532 123 45 67", reason="Aranmak istemiyor")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)

    done = await import_as_guessed(client, pool.id, "a.csv", csv_file(["Telefon", "05321234567", "05321234568"]))

    report = part(await (await client.get(done.headers["Location"])).text(), "rejected-lines", "</table>")
    assert "2 Numara kara listede. 05321234567" in report
    assert [r["phone"] for r in await conn.fetch("SELECT phone FROM pool_records")] == ["+905321234568"]


async def test_an_xlsx_is_imported_with_the_mapping_the_user_changed(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool = await service(db, memory_bus).create_pool(actor(boss), "Excel Listesi")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)
    content = xlsx_file(
        [
            ["Cep Telefonu", "Müşteri Adı", "Şehir", "Bölge", "Abone No", "Not"],
            [5321234567, "Ahmet Yılmaz", "Ankara", "İç Anadolu", "A-1", "sabah ara"],
            ["0532 765 43 21", "Elif Su", "Trabzon", "", "A-2", ""],
            ["123", "Kısa Numara", "Ankara", "", "A-3", ""],
        ]
    )
    uploaded = await upload(client, pool.id, "liste.xlsx", content)
    mapping_url = uploaded.headers["Location"]
    html = await (await client.get(mapping_url)).text()
    assert "XLSX" in html and "Karakter kodlaması" not in html
    fields = form_fields(html, mapping_url)
    assert [fields[f"col{i}"] for i in range(6)] == ["phone", "name", "city", "region", "custom", "custom"]
    assert (fields["key4"], fields["key5"]) == ("abone_no", "not")

    fields.update({"key4": "abone", "col5": ""})  # rename one custom field, leave the notes out
    done = await client.post(mapping_url, data=fields, allow_redirects=False)

    assert done.status == 303
    report = text_of(await (await client.get(done.headers["Location"])).text())
    assert "3 satırdan 2 tanesi kaydedildi, 1 tanesi reddedildi." in report
    assert "4 Telefon numarası çok kısa: 123" in report
    records = await conn.fetch("SELECT phone, name, city, region, custom_fields FROM pool_records ORDER BY id")
    assert [tuple(r.values()) for r in records] == [
        ("+905321234567", "Ahmet Yılmaz", "Ankara", "İç Anadolu", {"abone": "A-1"}),
        ("+905327654321", "Elif Su", "Trabzon", "Karadeniz", {"abone": "A-2"}),
    ]
    import_id = await conn.fetchval("SELECT id FROM pool_imports")
    download = await client.get(f"/pools/{pool.id}/imports/{import_id}/file")
    assert await download.read() == content
    assert download.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename*=UTF-8''liste.xlsx" in download.headers["Content-Disposition"]


async def test_a_mapping_without_a_phone_column_comes_back_with_the_choices_kept(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool = await service(db, memory_bus).create_pool(actor(boss), "Liste")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)

    refused = await import_as_guessed(client, pool.id, "a.csv", csv_file(["Telefon;Ad", "05321234567;Ali"]), col0="")

    assert refused.status == 422
    html = await refused.text()
    assert "Telefon numarasının bulunduğu sütunu seçin." in html
    assert re.search(r'name="col0"[^>]*>\s*<option value="" selected>', html)
    assert await conn.fetchval("SELECT count(*) FROM pool_imports") == 0
    # The file is still kept: corrected, the same form imports it.
    mapping_url = refused.url.path
    fixed = await client.post(
        mapping_url, data={**form_fields(html, mapping_url), "col0": "phone"}, allow_redirects=False
    )
    assert fixed.status == 303 and "/imports/" in fixed.headers["Location"]
    assert await conn.fetchval("SELECT count(*) FROM pool_records") == 1

    twice = await import_as_guessed(client, pool.id, "a.csv", csv_file(["Telefon;Ad", "05321234567;Ali"]), col1="phone")
    assert twice.status == 422
    assert "Aynı yer birden fazla sütuna seçilmiş: Telefon." in await twice.text()


async def test_files_that_cannot_be_read_are_refused_at_upload(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool = await service(db, memory_bus).create_pool(actor(boss), "Liste")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)
    client.app[UPLOADS].max_bytes = 2000

    cases = [
        ("eski.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100, "Eski Excel (.xls) dosyaları okunamıyor"),
        ("bos.csv", b"\r\n\r\n", "Dosya boş."),
        ("sahte.xlsx", b"Telefon\r\n0532\r\n", "Dosya okunamadı: CSV ya da Excel (.xlsx) dosyası değil."),
        ("buyuk.csv", b"Telefon\r\n" + b"05321234567\r\n" * 200, "Dosya çok büyük: en fazla"),
    ]
    for filename, content, message in cases:
        response = await upload(client, pool.id, filename, content)
        assert response.status == 422, filename
        html = await response.text()
        assert message in html, filename
        assert 'role="alert" id="upload-error"' in html


async def test_a_kept_upload_is_only_for_its_uploader(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool = await service(db, memory_bus).create_pool(actor(boss), "Liste")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)
    uploaded = await upload(client, pool.id, "a.csv", csv_file(["Telefon", "05321234567"]))
    mapping_url = uploaded.headers["Location"]
    client.session.cookie_jar.clear()

    await sign_in(client, make_user, "baska", Role.SUPERVISOR)
    response = await client.get(mapping_url, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == f"/pools/{pool.id}?expired=1"
    page = await client.get(response.headers["Location"])
    assert "Yüklenen dosya artık bekletilmiyor" in await page.text()
    stolen = await post_form(client, mapping_url, {"col0": "phone"}, page=f"/pools/{pool.id}")
    assert stolen.status == 303
    assert await conn.fetchval("SELECT count(*) FROM pool_imports") == 0


async def test_a_double_clicked_import_imports_once(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool = await service(db, memory_bus).create_pool(actor(boss), "Liste")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)
    uploaded = await upload(client, pool.id, "a.csv", csv_file(["Telefon", "05321234567", "05321234568"]))
    mapping_url = uploaded.headers["Location"]
    fields = form_fields(await (await client.get(mapping_url)).text(), mapping_url)

    first, second = await asyncio.gather(
        client.post(mapping_url, data=fields, allow_redirects=False),
        client.post(mapping_url, data=fields, allow_redirects=False),
    )

    targets = sorted([first.headers["Location"], second.headers["Location"]])
    import_id = await conn.fetchval("SELECT id FROM pool_imports")
    assert targets == [f"/pools/{pool.id}/imports/{import_id}", f"/pools/{pool.id}?expired=1"]
    assert await conn.fetchval("SELECT count(*) FROM pool_imports") == 1


async def test_a_kept_upload_expires(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool = await service(db, memory_bus).create_pool(actor(boss), "Liste")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)
    uploaded = await upload(client, pool.id, "a.csv", csv_file(["Telefon", "05321234567"]))
    assert (await client.get(uploaded.headers["Location"])).status == 200

    client.app[UPLOADS].max_age_seconds = -1
    response = await client.get(uploaded.headers["Location"], allow_redirects=False)
    assert response.headers["Location"] == f"/pools/{pool.id}?expired=1"
    assert list(client.app[UPLOADS].directory.iterdir()) == []  # removed, not just hidden


# --- distribution -------------------------------------------------------------------------------------------------


async def _pool_with_records(db: Database, bus: InProcessBus, boss: User) -> int:
    lines = ["Telefon;Ad Soyad;İl;Segment;Öncelik"]
    cities = ["İstanbul", "Ankara", "İzmir"]
    for i in range(12):
        lines.append(f"0532{i:07d};Kişi {i};{cities[i % 3]};{'ab'[i % 2]};{i % 4}")
    pools = service(db, bus)
    pool = await pools.create_pool(actor(boss), "Dağıtılacak")
    mapping = {"Telefon": "phone", "Ad Soyad": "name", "İl": "city", "Segment": "custom:segment", "Öncelik": "priority"}
    await pools.import_file(actor(boss), pool.id, filename="d.csv", content=csv_file(lines), mapping=mapping)
    return pool.id


async def test_records_are_distributed_to_chosen_agents_by_criteria_in_fair_shares(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool_id = await _pool_with_records(db, memory_bus, boss)
    ayse = await make_user("ayse", full_name="Ayşe Demir")
    can = await make_user("can", full_name="Can Öztürk")
    await make_user("elif", full_name="Elif Şahin")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR, full_name="Selin Yıldız")

    page = await (await client.get(f"/pools/{pool_id}/distribute")).text()
    assert "Atanmamış kayıt: 12" in page
    assert '<option value="segment">segment</option>' in page  # the pool's custom fields

    # İstanbul and Ankara records (8), segment "a" (4 of them), to two agents: 2 each.
    response = await post_form(
        client,
        f"/pools/{pool_id}/distribute",
        {"kind": "agents", "agent": [str(ayse.id), str(can.id)], "cities": "istanbul, ANKARA", "custom_key": "segment",
         "custom_value": "a"},
    )  # fmt: skip

    assert response.status == 303
    assert re.fullmatch(rf"/pools/{pool_id}/distribute\?done=\d+", response.headers["Location"])
    html = await (await client.get(response.headers["Location"])).text()
    result = part(html, "result-h", "</section>")
    assert result.startswith("4 kayıt dağıtıldı")
    assert "Ayşe Demir 2" in result and "Can Öztürk 2" in result
    assert "Atanmamış kayıt: 8" in html
    history = part(html, "dist-history-h", "</section>")
    assert "Selin Yıldız Agentlar Ayşe Demir: 2, Can Öztürk: 2 4" in history
    rows = await conn.fetch(
        "SELECT agent_id, city, custom_fields->>'segment' AS segment FROM pool_records WHERE status = 'assigned'"
    )
    assert sorted(r["agent_id"] for r in rows) == sorted([ayse.id, ayse.id, can.id, can.id])
    assert {(r["city"], r["segment"]) for r in rows} <= {("İstanbul", "a"), ("Ankara", "a")}

    # Nothing left that matches: the page says so.
    again = await post_form(
        client,
        f"/pools/{pool_id}/distribute",
        {"kind": "agents", "agent": [str(ayse.id)], "cities": "İstanbul", "custom_key": "segment", "custom_value": "a"},
    )
    html = await (await client.get(again.headers["Location"])).text()
    assert "0 kayıt dağıtıldı" in html and "Ölçütlere uyan atanmamış kayıt bulunamadı." in html


async def test_records_are_distributed_to_teams_and_to_a_teams_agents(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool_id = await _pool_with_records(db, memory_bus, boss)
    users = UserService(db, memory_bus)
    north = await users.create_team(actor(boss), "Kuzey")
    south = await users.create_team(actor(boss), "Güney")
    first = await make_user("ajan1", team_id=north.id, full_name="Ajan Bir")
    second = await make_user("ajan2", team_id=north.id, full_name="Ajan İki")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)

    # Priorities 2 and 3 (6 records) to the agents of team Kuzey: 3 each.
    response = await post_form(
        client,
        f"/pools/{pool_id}/distribute",
        {"kind": "members", "members_of": str(north.id), "priority_min": "2", "priority_max": "3"},
    )
    html = await (await client.get(response.headers["Location"])).text()
    assert "6 kayıt dağıtıldı" in html and "Ajan Bir" in html and "Ajan İki" in html
    counts = await conn.fetch(
        "SELECT agent_id, count(*) AS n, min(priority) AS low FROM pool_records WHERE agent_id IS NOT NULL GROUP BY 1"
    )
    assert {(r["agent_id"], r["n"], r["low"]) for r in counts} == {(first.id, 3, 2), (second.id, 3, 2)}

    # At most 5 of the rest (6) to two teams: 3 and 2.
    response = await post_form(
        client, f"/pools/{pool_id}/distribute", {"kind": "teams", "team": [str(north.id), str(south.id)], "limit": "5"}
    )
    html = await (await client.get(response.headers["Location"])).text()
    result = part(html, "result-h", "</section>")
    assert result.startswith("5 kayıt dağıtıldı") and "Takımlar" not in result
    teams = await conn.fetch("SELECT team_id, count(*) AS n FROM pool_records WHERE team_id IS NOT NULL GROUP BY 1")
    assert sorted(r["n"] for r in teams) == [2, 3]


async def test_a_distribution_without_targets_or_with_bad_numbers_is_refused(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus, conn: asyncpg.Connection
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool_id = await _pool_with_records(db, memory_bus, boss)
    users = UserService(db, memory_bus)
    empty = await users.create_team(actor(boss), "Boş Takım")
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)
    path = f"/pools/{pool_id}/distribute"

    cases = [
        ({"kind": "agents"}, "En az bir agent seçin."),
        ({"kind": "members", "members_of": str(empty.id)}, "Bu takımda etkin agent yok."),
        ({"kind": "teams", "team": "x"}, "Geçersiz seçim."),
        ({"kind": "members", "members_of": str(empty.id), "priority_min": "5", "priority_max": "1"},
         "En yüksek öncelik en düşük öncelikten küçük olamaz."),
        ({"kind": "members", "members_of": str(empty.id), "limit": "0"}, "Sıfırdan büyük bir tam sayı girin."),
    ]  # fmt: skip
    for data, message in cases:
        response = await post_form(client, path, data)
        assert response.status == 422, data
        assert message in await response.text(), data
    assert await conn.fetchval("SELECT count(*) FROM pool_records WHERE status <> 'new'") == 0


async def test_the_pool_pages_in_english(
    client: Client, make_user: MakeUser, db: Database, memory_bus: InProcessBus
) -> None:
    boss = await make_user("patron", role=Role.ADMIN)
    pool_id = await _pool_with_records(db, memory_bus, boss)
    await sign_in(client, make_user, "selin", Role.SUPERVISOR)
    client.session.cookie_jar.update_cookies({"cc_lang": "en"})

    html = text_of(await (await client.get("/pools")).text())
    assert "Data pools" in html and "Unassigned" in html and "Skip (refuse a number that is in another pool)" in html
    html = text_of(await (await client.get(f"/pools/{pool_id}")).text())
    assert "Uploaded files" in html and "Open the report" in html
