"""User administration rules that an administrator would notice."""

from __future__ import annotations

import asyncpg
import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from crm_core.audit.repository import Actor
from crm_core.users.model import Role, effective_permissions
from crm_core.users.service import InvalidInputError, UserChanges, UserService
from tests.conftest import MakeUser


def test_managing_a_module_implies_seeing_it() -> None:
    assert "users.view" in effective_permissions(set(), {"users.manage": True})
    assert effective_permissions({"users.view"}, {"users.view": False}) == frozenset()


async def test_an_admin_cannot_disable_himself(db: Database, memory_bus: InProcessBus, make_user: MakeUser) -> None:
    admin = await make_user("yonetici", role=Role.ADMIN)
    with pytest.raises(InvalidInputError) as error:
        await UserService(db, memory_bus).update_user(
            Actor(admin.id, admin.username), admin.id, UserChanges(active=False)
        )
    assert error.value.code == "error.self_disable"


async def test_a_refused_save_changes_nothing_at_all(
    db: Database, memory_bus: InProcessBus, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    admin = await make_user("yonetici", role=Role.ADMIN, full_name="Eski Ad")
    service = UserService(db, memory_bus)
    with pytest.raises(InvalidInputError) as error:
        await service.update_user(
            Actor(admin.id, admin.username), admin.id, UserChanges(full_name="Yeni Ad"), {"users.manage": False}
        )
    assert error.value.code == "error.self_lockout"
    assert await conn.fetchval("SELECT full_name FROM users WHERE id = $1", admin.id) == "Eski Ad"
    assert await conn.fetchval("SELECT count(*) FROM user_permissions WHERE user_id = $1", admin.id) == 0
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'user.updated'") == 0


async def test_fields_and_permissions_are_saved_and_audited_together(
    db: Database, memory_bus: InProcessBus, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    admin = await make_user("yonetici", role=Role.ADMIN)
    agent = await make_user("ajan1")
    await UserService(db, memory_bus).update_user(
        Actor(admin.id, admin.username), agent.id, UserChanges(role=Role.TEAM_LEADER), {"audit.view": True}
    )
    rows = await conn.fetch(
        "SELECT action, actor_name, changes FROM audit_log WHERE entity_id = $1 ORDER BY id", str(agent.id)
    )
    assert [(r["action"], r["actor_name"]) for r in rows][-2:] == [
        ("user.updated", "yonetici"),
        ("user.permissions_changed", "yonetici"),
    ]
    assert rows[-2]["changes"]["role"] == ["agent", "team_leader"]
    assert rows[-1]["changes"] == {"audit.view": [None, "granted"]}


async def test_a_disabled_user_is_signed_out_everywhere(
    db: Database, memory_bus: InProcessBus, make_user: MakeUser, conn: asyncpg.Connection
) -> None:
    admin = await make_user("yonetici", role=Role.ADMIN)
    agent = await make_user("ajan1")
    await conn.execute(
        """INSERT INTO web_sessions (token_hash, user_id, csrf_token, expires_at)
           VALUES ('\\x01', $1, 'x', now() + interval '1 hour')""",
        agent.id,
    )
    await UserService(db, memory_bus).update_user(Actor(admin.id, admin.username), agent.id, UserChanges(active=False))
    assert await conn.fetchval("SELECT count(*) FROM web_sessions WHERE user_id = $1", agent.id) == 0
