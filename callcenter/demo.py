"""Demo data: a team, its leader, five agents, a supervisor and an administrator. Idempotent."""

from __future__ import annotations

import dataclasses

from callcenter.bus import EventBus
from callcenter.db.database import Database
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role
from crm_core.users.repository import TeamRepository, UserRepository
from crm_core.users.service import UserService

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
    """Create whatever of the demo data is missing: the team (led by ``lider``) and the users."""
    service = UserService(db, bus)
    async with db.acquire() as conn:
        existing = {u.username: u for u in await UserRepository(conn).list()}
        team = await TeamRepository(conn).by_name(TEAM_NAME)
    if team is None:
        team = await service.create_team(SYSTEM, TEAM_NAME)
    for demo in DEMO_USERS:
        user = existing.get(demo.username)
        if user is None:
            user = await service.create_user(
                SYSTEM,
                username=demo.username,
                full_name=demo.full_name,
                role=demo.role,
                password=DEMO_PASSWORD,
                team_id=team.id if demo.role in (Role.AGENT, Role.TEAM_LEADER) else None,
            )
        if demo.role is Role.TEAM_LEADER and team.leader_id is None:
            team = await service.update_team(SYSTEM, team.id, team.name, user.id)
    return DEMO_USERS
