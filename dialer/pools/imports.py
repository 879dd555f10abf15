"""Imports into data pools, in PostgreSQL: the uploaded file (kept as it was, downloadable), the rows it produced
and its report.

An import is one transaction (the caller's): the file, every accepted row and every report line are committed
together, or (on any failure) nothing is. The rows come in batches (:meth:`ImportRepository.stage_batch`, then
``store_batch``), so that the next batch can be read while this one is inserted: the duplicate rule is decided
from one look-up of the batch's
numbers among the live records, the survivors are COPYed into a temporary staging table and go into
``pool_records`` with one INSERT ... SELECT. Imports take one transaction-scoped advisory lock, so two imports
never judge duplicates against each other's half-written rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from asyncpg import Record

from callcenter.db.database import Connection
from dialer.pools.mapping import Batch, Issue
from dialer.pools.model import Conflict, DuplicateRule, RecordStatus, apply_duplicate_rule

_IMPORT_LOCK = 0x706F6F6C  # "pool"
_SUMMARY_COLUMNS = (
    "id, pool_id, filename, file_format, file_size, encoding, delimiter, mapping, duplicate_rule, uploaded_at, "
    "uploaded_by, total_rows, stored_rows, rejected_rows, blank_lines, moved_rows, allowed_duplicates"
)
_STAGING_COLUMNS = ("line_no", "phone", "name", "city", "region", "priority", "custom", "customer_id")


@dataclasses.dataclass(frozen=True)
class Upload:
    pool_id: int
    filename: str
    content: bytes
    mapping: Mapping[str, str]
    uploaded_by: int | None


class FileFacts(Protocol):
    """What reading the file found out about it (a RowReader)."""

    file_format: str
    encoding: str | None
    delimiter: str | None


@dataclasses.dataclass
class Totals:
    """Counts of an import in progress."""

    rows: int = 0
    stored: int = 0
    moved: int = 0
    allowed: int = 0


@dataclasses.dataclass(frozen=True)
class ImportSummary:
    id: int
    pool_id: int
    filename: str
    file_format: str
    file_size: int
    encoding: str | None
    delimiter: str | None
    mapping: Mapping[str, str]
    duplicate_rule: DuplicateRule
    uploaded_at: datetime
    uploaded_by: int | None
    total_rows: int
    stored_rows: int
    rejected_rows: int
    blank_lines: int
    moved_rows: int
    allowed_duplicates: int


@dataclasses.dataclass(frozen=True)
class StoredFile:
    """An uploaded file exactly as it was uploaded, with its name and date (seed 001 "Data kayıtlarına erişim")."""

    import_id: int
    filename: str
    content: bytes
    uploaded_at: datetime
    uploaded_by: int | None
    sha256: bytes


def _summary(row: Record) -> ImportSummary:
    values = dict(row.items())
    values["duplicate_rule"] = DuplicateRule(values["duplicate_rule"])
    return ImportSummary(**values)


class ImportRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def begin(self, upload: Upload, file: FileFacts, rule: DuplicateRule) -> int:
        """Start an import: take the import lock, keep the file, prepare the staging table; the import's id."""
        conn = self._conn
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _IMPORT_LOCK)
            import_id: int = await conn.fetchval(
                """INSERT INTO pool_imports (pool_id, filename, file_format, file_size, file_sha256, encoding,
                                             delimiter, mapping, duplicate_rule, uploaded_by)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                   RETURNING id""",
                upload.pool_id,
                upload.filename,
                file.file_format,
                len(upload.content),
                hashlib.sha256(upload.content).digest(),
                file.encoding,
                file.delimiter,
                dict(upload.mapping),
                rule.value,
                upload.uploaded_by,
            )
            await conn.execute(
                "INSERT INTO pool_import_files (import_id, content) VALUES ($1, $2)", import_id, upload.content
            )
            await conn.execute("DROP TABLE IF EXISTS pool_import_staging")
            await conn.execute(
                """CREATE TEMP TABLE pool_import_staging (
                       line_no integer NOT NULL, phone text NOT NULL, name text NOT NULL, city text, region text,
                       priority integer NOT NULL, custom text[] NOT NULL, customer_id bigint
                   ) ON COMMIT DROP"""
            )
        return import_id

    async def stage_batch(self, pool_id: int, rule: DuplicateRule, batch: Batch, totals: Totals) -> None:
        """First half of storing a batch: apply the duplicate rule (``batch`` is completed with the lines it refused
        or acted on) and put the survivors, linked to known customers, into the staging table."""
        conn = self._conn
        async with conn.transaction():
            verdict = apply_duplicate_rule(pool_id, rule, await self._conflicts(batch))
            batch.refuse(verdict.rejected)
            batch.note(verdict.noted)
            totals.moved += await self._archive_moved(verdict.archive)
            known = await self._customers([c[1] for c in batch.candidates])
            await conn.execute("TRUNCATE pool_import_staging")
            await conn.copy_records_to_table(
                "pool_import_staging",
                records=[(*c, known.get(c[1])) for c in batch.candidates],
                columns=_STAGING_COLUMNS,
            )

    async def store_batch(
        self, import_id: int, pool_id: int, batch: Batch, custom_keys: list[str], totals: Totals
    ) -> None:
        """Second half: insert the staged rows, write the batch's report lines and add to ``totals``. The long
        part is the database's; the caller may read the next batch meanwhile."""
        conn = self._conn
        async with conn.transaction():
            stored = await self._insert_records(pool_id, import_id, custom_keys)
            if stored != len(batch.candidates):
                raise RuntimeError(f"import {import_id}: {stored} rows stored of {len(batch.candidates)}")
            batch.issues.sort(key=lambda i: i.line_no)
            await conn.copy_records_to_table(
                "pool_import_issues",
                records=[(import_id, i.line_no, i.outcome, i.reason, i.detail, list(i.raw)) for i in batch.issues],
                columns=("import_id", "line_no", "outcome", "reason", "detail", "raw"),
            )
        totals.rows += batch.rows
        totals.stored += stored
        totals.allowed += sum(1 for i in batch.issues if i.reason == "duplicate.allowed")

    async def finish(self, import_id: int, totals: Totals, blank_lines: int) -> ImportSummary:
        row = await self._conn.fetchrow(
            f"""UPDATE pool_imports
                   SET total_rows = $2, stored_rows = $3, rejected_rows = $4, blank_lines = $5,
                       moved_rows = $6, allowed_duplicates = $7
                 WHERE id = $1
             RETURNING {_SUMMARY_COLUMNS}""",  # noqa: S608
            import_id,
            totals.rows,
            totals.stored,
            totals.rows - totals.stored,
            blank_lines,
            totals.moved,
            totals.allowed,
        )
        assert row is not None
        return _summary(row)

    async def _conflicts(self, batch: Batch) -> list[Conflict]:
        """The batch's numbers already live in a pool (one probe of ``pool_records_phone_key`` each)."""
        line_of = {c[1]: c[0] for c in batch.candidates}
        rows = await self._conn.fetch(
            """SELECT phone, pool_id, id, status FROM pool_records
                WHERE phone = ANY($1::text[]) AND status <> 'archived'""",
            list(line_of),
        )
        return [Conflict(line_of[r["phone"]], r["pool_id"], r["id"], RecordStatus(r["status"])) for r in rows]

    async def _customers(self, phones: list[str]) -> dict[str, int]:
        """The customers already known by these numbers (the lowest id when several share one)."""
        rows = await self._conn.fetch(
            """SELECT number, min(customer_id) AS customer_id FROM customer_phones
                WHERE number = ANY($1::text[]) GROUP BY number""",
            phones,
        )
        return {r["number"]: r["customer_id"] for r in rows}

    async def _archive_moved(self, record_ids: tuple[int, ...]) -> int:
        if not record_ids:
            return 0
        result = await self._conn.execute(
            """UPDATE pool_records SET status = 'archived', disposition = 'moved', updated_at = now()
                WHERE id = ANY($1::bigint[]) AND status IN ('new', 'assigned')""",
            list(record_ids),
        )
        return int(result.rsplit(" ", 1)[1])

    async def _insert_records(self, pool_id: int, import_id: int, custom_keys: list[str]) -> int:
        result = await self._conn.execute(
            """INSERT INTO pool_records (pool_id, import_id, line_no, customer_id, phone, name, city, region,
                                         custom_fields, priority)
               SELECT $1, $2, line_no, customer_id, phone, name, city, region,
                      jsonb_strip_nulls(jsonb_object($3::text[], custom)), priority
                 FROM pool_import_staging
                ORDER BY line_no""",
            pool_id,
            import_id,
            custom_keys,
        )
        return int(result.rsplit(" ", 1)[1])

    # --- reading back ---------------------------------------------------------------------------------------------

    async def get(self, import_id: int) -> ImportSummary | None:
        row = await self._conn.fetchrow(
            f"SELECT {_SUMMARY_COLUMNS} FROM pool_imports WHERE id = $1",  # noqa: S608
            import_id,
        )
        return _summary(row) if row else None

    async def for_pool(self, pool_id: int) -> list[ImportSummary]:
        rows = await self._conn.fetch(
            f"SELECT {_SUMMARY_COLUMNS} FROM pool_imports WHERE pool_id = $1 ORDER BY uploaded_at DESC, id DESC",  # noqa: S608
            pool_id,
        )
        return [_summary(r) for r in rows]

    async def file(self, import_id: int) -> StoredFile | None:
        row = await self._conn.fetchrow(
            """SELECT i.id AS import_id, i.filename, f.content, i.uploaded_at, i.uploaded_by, i.file_sha256 AS sha256
                 FROM pool_imports i JOIN pool_import_files f ON f.import_id = i.id
                WHERE i.id = $1""",
            import_id,
        )
        return StoredFile(**dict(row.items())) if row else None

    async def issues(self, import_id: int, *, outcome: str | None = None) -> list[Issue]:
        rows = await self._conn.fetch(
            """SELECT line_no, outcome, reason, detail, raw FROM pool_import_issues
                WHERE import_id = $1 AND ($2::text IS NULL OR outcome = $2)
                ORDER BY line_no""",
            import_id,
            outcome,
        )
        return [Issue(r["line_no"], r["outcome"], r["reason"], r["detail"], tuple(r["raw"])) for r in rows]
