"""The ``callcenter`` command as an operator runs it, in a subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.conftest import create_database, drop_database

CLI = [sys.executable, "-m", "callcenter.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env["CALLCENTER_DATABASE__EMBEDDED_DIR"] = str(tmp_path / "pgdata")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env.update(extra)
    return env


async def _run(*args: str, env: dict[str, str], stdin: bytes = b"", cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def scratch_db() -> AsyncIterator[str]:
    url = await create_database("callcenter_cli", migrated=False)
    yield url
    await drop_database(url)


async def test_migrate_then_user_add(scratch_db: str, tmp_path: Path) -> None:
    env = _env(tmp_path, CALLCENTER_DATABASE__URL=scratch_db)
    code, out, _ = await _run("migrate", env=env, cwd=tmp_path)
    assert code == 0 and "applied 0001_users_teams_audit" in out
    code, out, _ = await _run("migrate", env=env, cwd=tmp_path)
    assert code == 0 and "database is up to date" in out

    code, out, err = await _run(
        "user", "add", "lider1", "--name", "Mehmet Kaya", "--role", "team_leader", "--allow-ip", "10.1.0.0/16",
        env=env, stdin=b"uzun-parola-1\n", cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert "user lider1 added" in out
    code, out, err = await _run("team", "add", "Satış 2", "--leader", "lider1", env=env, cwd=tmp_path)
    assert code == 0, err

    conn = await asyncpg.connect(scratch_db)
    try:
        row = await conn.fetchrow("SELECT role, login_rule, allowed_networks::text[] AS nets FROM users")
        assert row is not None and (row["role"], row["login_rule"], row["nets"]) == (
            "team_leader",
            "networks",
            ["10.1.0.0/16"],
        )
        actions = [r["action"] for r in await conn.fetch("SELECT action, actor_name FROM audit_log ORDER BY id")]
        assert actions == ["user.created", "team.created"]
        assert await conn.fetchval("SELECT DISTINCT actor_name FROM audit_log") == "cli"
    finally:
        await conn.close()

    code, _, err = await _run("user", "add", "x1", "--name", "X", env=env, stdin=b"kisa\n", cwd=tmp_path)
    assert code == 2 and "password" in err


async def test_a_wrong_setting_stops_start_up_with_its_name(tmp_path: Path) -> None:
    code, _, err = await _run("migrate", env=_env(tmp_path, CALLCENTER_WEB__PORT="seksen"), cwd=tmp_path)
    assert code == 2
    assert "web.port" in err and "CALLCENTER_WEB__PORT" in err


async def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    env = _env(tmp_path, CALLCENTER_DATABASE__URL="postgresql://nobody@127.0.0.1:1/none")
    code, _, err = await _run("migrate", env=env, cwd=tmp_path)
    assert code == 1
    assert "cannot connect to PostgreSQL (postgresql://nobody@127.0.0.1:1/none)" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_demo_starts_the_whole_product_on_an_embedded_database(tmp_path: Path) -> None:
    port, sim_port = _free_port(), _free_port()
    proc = await asyncio.create_subprocess_exec(
        *CLI, "demo", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        # aiohttp's client, unlike a browser, keeps no Secure cookie for http://127.0.0.1.
        env=_env(tmp_path, CALLCENTER_WEB__COOKIE_SECURE="false", CALLCENTER_PBX_SIM__PORT=str(sim_port)),
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        seen = ""
        async with asyncio.timeout(90):
            while "ajan5" not in seen:
                line = await proc.stdout.readline()
                assert line, f"demo exited early:\n{seen}"
                seen += line.decode()
        assert f"http://127.0.0.1:{port}" in seen and "demo1234" in seen
        assert f"AMI 127.0.0.1:{sim_port}" in seen
        # The simulator answers like Asterisk on its AMI port.
        reader, writer = await asyncio.open_connection("127.0.0.1", sim_port)
        assert await asyncio.wait_for(reader.readline(), 5) == b"Asterisk Call Manager/11.0.0\r\n"
        writer.close()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            for _ in range(50):
                try:
                    page = await http.get(f"http://127.0.0.1:{port}/login")
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.2)
            html = await page.text()
            assert "Çağrı merkezine giriş" in html
            token = html.split('name="_csrf" value="', 1)[1].split('"', 1)[0]
            console = await http.post(
                f"http://127.0.0.1:{port}/login",
                data={"_csrf": token, "username": "ajan1", "password": "demo1234"},
            )
            text = await console.text()
            assert console.url.path == "/console"
            assert "Hoş geldiniz, Ayşe Demir" in text and "Satış Ekibi 1" in text
            # The supervisor finds the demo pool, imported from its file and given out to the agents.
            http.cookie_jar.clear()
            html = await (await http.get(f"http://127.0.0.1:{port}/login")).text()
            token = html.split('name="_csrf" value="', 1)[1].split('"', 1)[0]
            await http.post(
                f"http://127.0.0.1:{port}/login",
                data={"_csrf": token, "username": "supervizor", "password": "demo1234"},
            )
            pools = await (await http.get(f"http://127.0.0.1:{port}/pools")).text()
            assert "Demo Kampanya Listesi" in pools and "<td>200</td>" in pools
        assert (tmp_path / "demo-pgdata").is_dir()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=30)
    assert proc.returncode == 0
