"""Versioned SQL migrations: ``callcenter/db/migrations/NNNN_name.sql``, applied in order, each once.

Each file runs in its own transaction and is recorded in ``schema_migrations`` with a checksum; a file changed
after it was applied stops the run with an error naming it. A PostgreSQL advisory lock keeps two processes that
start at once from migrating together.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from importlib import resources

import structlog

from callcenter.db.database import Connection

log = structlog.get_logger(__name__)

_LOCK_ID = 0x63616C6C  # "call"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("callcenter.db.migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
        elif entry.name.endswith(".sql"):
            raise MigrationError(f"migration file name {entry.name!r} does not match NNNN_name.sql")
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def migrate(conn: Connection) -> list[Migration]:
    """Apply every migration not yet applied; return those applied now (empty when up to date)."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now()
               )"""
        )
        done = {r["version"]: r for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")}
        applied: list[Migration] = []
        for mig in available():
            row = done.get(mig.version)
            if row is not None:
                if row["checksum"] != mig.checksum:
                    raise MigrationError(
                        f"migration {mig.version:04d}_{mig.name}.sql was changed after it was applied; "
                        "add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    mig.version,
                    mig.name,
                    mig.checksum,
                )
            log.info("migration_applied", version=mig.version, name=mig.name)
            applied.append(mig)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
