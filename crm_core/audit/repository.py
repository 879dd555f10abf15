"""The audit log: who changed what, when, from where. Written in the same transaction as the change itself."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from callcenter.db.database import Connection
from crm_core.users.model import IPAddress


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in user, the command line, or the system itself."""

    id: int | None
    name: str
    ip: IPAddress | None = None


SYSTEM = Actor(None, "system")


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str | None
    ip: IPAddress | None
    action: str
    entity: str
    entity_id: str | None
    changes: dict[str, Any]


class AuditRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def record(
        self,
        actor: Actor,
        action: str,
        entity: str,
        entity_id: object | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        await self._conn.execute(
            """INSERT INTO audit_log (actor_id, actor_name, ip, action, entity, entity_id, changes)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            actor.id,
            actor.name,
            actor.ip,
            action,
            entity,
            None if entity_id is None else str(entity_id),
            changes or {},
        )

    async def search(
        self,
        *,
        entity: str | None = None,
        entity_id: object | None = None,
        action_prefix: str | None = None,
        actor_id: int | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        rows = await self._conn.fetch(
            """SELECT id, at, actor_id, actor_name, ip, action, entity, entity_id, changes
                 FROM audit_log
                WHERE ($1::text IS NULL OR entity = $1)
                  AND ($2::text IS NULL OR entity_id = $2)
                  AND ($3::text IS NULL OR action LIKE $3 || '%')
                  AND ($4::bigint IS NULL OR actor_id = $4)
                  AND ($5::bigint IS NULL OR id < $5)
                ORDER BY id DESC
                LIMIT $6""",
            entity,
            None if entity_id is None else str(entity_id),
            action_prefix,
            actor_id,
            before_id,
            limit,
        )
        return [AuditEntry(**dict(r.items())) for r in rows]
