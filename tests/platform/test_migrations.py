"""Migrations apply to an empty database and are a no-op the second time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from callcenter.db import migrate as migrate_module
from callcenter.db.migrate import MigrationError, available, migrate
from tests.conftest import create_database, drop_database


@pytest.fixture
async def empty_db() -> AsyncIterator[asyncpg.Connection]:
    url = await create_database("callcenter_mig", migrated=False)
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()
        await drop_database(url)


async def test_migrations_apply_to_an_empty_database_then_are_a_no_op(empty_db: asyncpg.Connection) -> None:
    applied = await migrate(empty_db)
    assert [m.version for m in applied] == [m.version for m in available()]
    rows = await empty_db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    tables = {r["tablename"] for r in rows}
    assert {"users", "teams", "audit_log", "web_sessions", "login_attempts", "schema_migrations"} <= tables
    before = await empty_db.fetch("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version")

    assert await migrate(empty_db) == []
    after = await empty_db.fetch("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version")
    assert before == after


async def test_a_changed_migration_file_stops_the_run(
    empty_db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate(empty_db)
    original = available()
    edited = [migrate_module.Migration(m.version, m.name, m.sql + "\n-- edited") for m in original]
    monkeypatch.setattr(migrate_module, "available", lambda: edited)
    with pytest.raises(MigrationError, match=r"0001_users_teams_audit\.sql was changed"):
        await migrate(empty_db)


async def test_a_failing_migration_leaves_nothing_half_applied(
    empty_db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [*available(), migrate_module.Migration(9999, "broken", "CREATE TABLE half (id int); SELECT 1/0;")]
    monkeypatch.setattr(migrate_module, "available", lambda: broken)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(empty_db)
    assert await empty_db.fetchval("SELECT to_regclass('half')") is None
    assert await empty_db.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9999") == 0
