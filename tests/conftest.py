"""Shared fixtures. Tests use the real PostgreSQL and Redis of this machine.

A fresh database is created for the test session and migrated once; each test then runs inside one transaction
that is rolled back, so tests never see each other's rows. ``CALLCENTER_TEST_DATABASE_URL`` names the server
(default: the local PostgreSQL, database ``test``, used only to create and drop the test database).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from agent_console.app import create_app
from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database, init_connection
from callcenter.db.migrate import migrate
from callcenter.metrics import Metrics
from config.settings import Settings, load_settings
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import LoginRule, Role, User
from crm_core.users.service import UserService

ADMIN_URL = os.environ.get("CALLCENTER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def create_database(prefix: str, *, migrated: bool) -> str:
    """A new, empty (or migrated) database on the test server; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(ADMIN_URL, name)
    if migrated:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
    return url


async def drop_database(url: str) -> None:
    name = url.rpartition("/")[2]
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """The migrated database of this test session; tests see it through a rolled-back transaction (``conn``)."""
    url = await create_database("callcenter_test", migrated=True)
    yield url
    await drop_database(url)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection inside a transaction that is rolled back after the test."""
    connection = await asyncpg.connect(database_url)
    await init_connection(connection)
    tx = connection.transaction()
    await tx.start()
    try:
        yield connection
    finally:
        await tx.rollback()
        await connection.close()


@pytest.fixture
def db(conn: asyncpg.Connection) -> Database:
    return Database(connection=conn)


@pytest.fixture
async def memory_bus() -> AsyncIterator[InProcessBus]:
    bus = InProcessBus()
    await bus.start()
    yield bus
    await bus.close()


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Settings:
    for key in list(os.environ):
        if key.startswith("CALLCENTER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return load_settings(web={"cookie_secure": False})


@pytest.fixture
async def client(settings: Settings, db: Database, memory_bus: InProcessBus) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(settings, db, memory_bus, Metrics())
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(db: Database, memory_bus: InProcessBus) -> MakeUser:
    service = UserService(db, memory_bus)

    async def make(
        username: str = "ayse",
        *,
        password: str = "dogru-parola-1",
        role: Role = Role.AGENT,
        full_name: str | None = None,
        team_id: int | None = None,
        login_rule: LoginRule = LoginRule.ANY,
        allowed_networks: tuple[Any, ...] = (),
    ) -> User:
        return await service.create_user(
            SYSTEM,
            username=username,
            full_name=full_name or username.title(),
            role=role,
            password=password,
            team_id=team_id,
            login_rule=login_rule,
            allowed_networks=allowed_networks,
        )

    return make


async def csrf_from(client: TestClient[Any, Any], path: str) -> str:
    """GET a page and read the CSRF token from its form, as a browser would submit it."""
    response = await client.get(path)
    html = await response.text()
    marker = 'name="_csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


async def login(client: TestClient[Any, Any], username: str, password: str = "dogru-parola-1") -> Any:
    token = await csrf_from(client, "/login")
    return await client.post(
        "/login",
        data={"_csrf": token, "username": username, "password": password},
        allow_redirects=False,
    )
