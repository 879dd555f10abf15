"""Connections to PostgreSQL.

:class:`Database` hands out asyncpg connections. Repositories take a connection and own their transactions
(``async with conn.transaction():``); inside a test's outer transaction those become savepoints, so a test can
roll everything back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from callcenter.db import embedded
from config.settings import DatabaseSettings

log = structlog.get_logger(__name__)

if TYPE_CHECKING:
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:
    Connection = asyncpg.Connection | PoolConnectionProxy
    Pool = asyncpg.Pool


async def init_connection(conn: Connection) -> None:
    """Per-connection set-up: JSON columns come back as Python objects."""
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class Database:
    """A pool of connections, or (in tests) one connection shared by everything."""

    def __init__(self, pool: Pool | None = None, *, connection: Connection | None = None) -> None:
        if (pool is None) == (connection is None):
            raise ValueError("give a pool or a connection")
        self._pool = pool
        self._connection = connection
        self.embedded: embedded.EmbeddedPostgres | None = None
        # One shared connection runs one query at a time: tasks take turns; a task may nest its own acquires.
        self._turn = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        if self._connection is not None:
            task = asyncio.current_task()
            if task is not None and self._holder is task:
                yield self._connection
                return
            async with self._turn:
                self._holder = task
                try:
                    yield self._connection
                finally:
                    self._holder = None
            return
        assert self._pool is not None
        async with self._pool.acquire() as conn:
            yield conn

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(2.0), self.acquire() as conn:
                return bool(await conn.fetchval("SELECT 1"))
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)


async def connect(settings: DatabaseSettings) -> Database:
    """Open a pool to the configured database, starting the embedded PostgreSQL when none is configured."""
    server: embedded.EmbeddedPostgres | None = None
    dsn = settings.url
    if dsn is None:
        server = await asyncio.to_thread(embedded.EmbeddedPostgres.start, settings.embedded_dir)
        dsn = server.dsn
        log.info("embedded_postgres_started", data_dir=str(settings.embedded_dir))
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min(settings.pool_min_size, settings.pool_max_size),
            max_size=settings.pool_max_size,
            command_timeout=settings.command_timeout,
            init=init_connection,
            timeout=10,
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        if server is not None:
            await asyncio.to_thread(server.stop)
        raise DatabaseUnavailableError(f"cannot connect to PostgreSQL ({_safe(dsn)}): {exc}") from exc
    db = Database(pool)
    db.embedded = server
    return db


class DatabaseUnavailableError(RuntimeError):
    pass


def _safe(dsn: str) -> str:
    """The DSN without its password, for messages."""
    if "@" not in dsn or "://" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
