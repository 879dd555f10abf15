"""Demo data: a team, its leader, five agents, a supervisor and an administrator. Idempotent."""

from __future__ import annotations

import dataclasses

from callcenter.bus import EventBus
from callcenter.db.database import Database
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role
from crm_core.users.repository import TeamRepository, UserRepository
from crm_core.users.service import UserChanges, UserService

DEMO_PASSWORD = "demo1234"  # noqa: S105 (the demo prints it)
TEAM_NAME = "Satış Ekibi 1"


@dataclasses.dataclass(frozen=True)
class DemoLogin:
    username: str
    full_name: str
    role: Role


DEMO_USERS = (
    DemoLogin("admin", "Sistem Yöneticisi", Role.ADMIN),
    DemoLogin("supervizor", "Selin Yıldız", Role.SUPERVISOR),
    DemoLogin("lider", "Mehmet Kaya", Role.TEAM_LEADER),
    DemoLogin("ajan1", "Ayşe Demir", Role.AGENT),
    DemoLogin("ajan2", "Can Öztürk", Role.AGENT),
    DemoLogin("ajan3", "Elif Şahin", Role.AGENT),
    DemoLogin("ajan4", "Burak Çelik", Role.AGENT),
    DemoLogin("ajan5", "Zeynep Arslan", Role.AGENT),
)


async def seed_demo(db: Database, bus: EventBus) -> tuple[DemoLogin, ...]:
    service = UserService(db, bus)
    async with db.acquire() as conn:
        team = await TeamRepository(conn).by_name(TEAM_NAME)
        existing = {u.username for u in await UserRepository(conn).list()}
    created: dict[str, int] = {}
    for demo in DEMO_USERS:
        if demo.username in existing:
            continue
        in_team = demo.role in (Role.AGENT, Role.TEAM_LEADER)
        user = await service.create_user(
            SYSTEM,
            username=demo.username,
            full_name=demo.full_name,
            role=demo.role,
            password=DEMO_PASSWORD,
            team_id=team.id if (team and in_team) else None,
        )
        created[demo.username] = user.id
    if team is None:
        async with db.acquire() as conn:
            users = {u.username: u for u in await UserRepository(conn).list()}
        team = await service.create_team(SYSTEM, TEAM_NAME, users["lider"].id)
        for demo in DEMO_USERS:
            if demo.role in (Role.AGENT, Role.TEAM_LEADER):
                await service.update_user(SYSTEM, users[demo.username].id, UserChanges(team_id=team.id))
    return DEMO_USERS
