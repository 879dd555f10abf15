"""Demo data: a team, its leader, five agents (with phones in the PBX simulator), a supervisor and an administrator,
a data pool of about two hundred leads imported from a CSV file and shared among the team's agents, and campaigns
dialing it (:mod:`callcenter.demo_campaigns`). Idempotent."""

from __future__ import annotations

import dataclasses
import random

from callcenter.bus import EventBus
from callcenter.db.database import Database
from callcenter.demo_campaigns import seed_demo_campaigns
from crm_core.audit.repository import SYSTEM
from crm_core.users.model import Role, Team
from crm_core.users.repository import TeamRepository, UserRepository
from crm_core.users.service import UserService
from dialer.pools.service import PoolService

DEMO_PASSWORD = "demo1234"  # noqa: S105 (the demo prints it)
TEAM_NAME = "Satış Ekibi 1"
POOL_NAME = "Demo Kampanya Listesi"
POOL_FILE = "demo-kampanya-listesi.csv"
POOL_RECORDS = 200
POOL_MAPPING = {
    "Telefon": "phone",
    "Ad Soyad": "name",
    "İl": "city",
    "İlçe": "custom:ilce",
    "Abone Tipi": "custom:abone_tipi",
    "Öncelik": "priority",
}


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
    pool_id = await _seed_pool(db, bus, team)
    async with db.acquire() as conn:
        agents = {u.username: u.id for u in await UserRepository(conn).list(team_id=team.id)}
    await seed_demo_campaigns(db, bus, team_id=team.id, pool_id=pool_id, agents=agents)
    return DEMO_USERS


async def _seed_pool(db: Database, bus: EventBus, team: Team) -> int:
    """The demo pool, filled through an import of :func:`demo_pool_csv` (so that its history shows the file and its
    report) and given to the team's agents in fair shares. Once: a pool that has an import is left alone."""
    pools = PoolService(db, bus)
    pool = next((p for p in await pools.list_pools() if p.name == POOL_NAME), None)
    if pool is None:
        pool = await pools.create_pool(
            SYSTEM, POOL_NAME, description="Mesken ve ticarethane aboneleri (demo)", dial_priority=1
        )
    if await pools.imports(pool.id):
        return pool.id
    await pools.import_file(SYSTEM, pool.id, filename=POOL_FILE, content=demo_pool_csv(), mapping=POOL_MAPPING)
    await pools.distribute(SYSTEM, pool.id, members_of=team.id)
    return pool.id


_FIRST_NAMES = (
    "Ahmet",
    "Mehmet",
    "Mustafa",
    "Ali",
    "Hüseyin",
    "Hasan",
    "İbrahim",
    "Murat",
    "Ömer",
    "Emre",
    "Burak",
    "Oğuz",
    "Ayşe",
    "Fatma",
    "Emine",
    "Hatice",
    "Zeynep",
    "Elif",
    "Şule",
    "Gül",
    "Özlem",
    "Merve",
    "Büşra",
    "Çiğdem",
)
_LAST_NAMES = (
    "Yılmaz",
    "Kaya",
    "Demir",
    "Şahin",
    "Çelik",
    "Yıldız",
    "Yıldırım",
    "Öztürk",
    "Aydın",
    "Özdemir",
    "Arslan",
    "Doğan",
    "Kılıç",
    "Aslan",
    "Çetin",
    "Kara",
    "Koç",
    "Kurt",
    "Özkan",
    "Şimşek",
    "Polat",
    "Erdoğan",
    "Güneş",
)
_PLACES = {
    "İstanbul": ("Kadıköy", "Üsküdar", "Beşiktaş", "Bakırköy", "Ümraniye"),
    "Ankara": ("Çankaya", "Keçiören", "Yenimahalle", "Etimesgut"),
    "İzmir": ("Karşıyaka", "Bornova", "Buca", "Konak"),
    "Bursa": ("Nilüfer", "Osmangazi", "Yıldırım"),
    "Antalya": ("Muratpaşa", "Konyaaltı", "Kepez"),
    "Konya": ("Selçuklu", "Meram", "Karatay"),
    "Adana": ("Seyhan", "Çukurova", "Yüreğir"),
    "Trabzon": ("Ortahisar", "Akçaabat"),
    "Gaziantep": ("Şahinbey", "Şehitkamil"),
    "Eskişehir": ("Tepebaşı", "Odunpazarı"),
}  # fmt: skip
_MOBILE_PREFIXES = ("532", "533", "535", "536", "542", "543", "544", "505", "506", "552", "555")
_SUBSCRIBER_TYPES = ("Mesken", "Mesken", "Mesken", "Ticarethane", "Ticarethane", "Sanayi")


def demo_pool_csv(records: int = POOL_RECORDS) -> bytes:
    """The demo pool's lead file as Turkish Excel saves a CSV (Windows-1254, ``;``): ``records`` leads with Turkish
    names and cities and mobile numbers in E.164 whose last digits run 0-9 in turn, so that the PBX simulator's
    demo world gives every outcome (7 busy, 8 no answer, 9 congestion, the rest mostly answered); then three
    lines the import refuses (two numbers that are no phone numbers, one repeated), for its report. The same file
    every time."""
    rng = random.Random(2024)  # noqa: S311 (demo data, not secrets)
    lines = [";".join(("Ad Soyad", "Telefon", "İl", "İlçe", "Abone Tipi", "Öncelik"))]
    seen: set[str] = set()
    phones: list[str] = []
    for i in range(records):
        phone = ""
        while not phone or phone in seen:
            middle = f"{rng.randrange(10**6):06d}"
            phone = f"+90{rng.choice(_MOBILE_PREFIXES)}{middle}{i % 10}"
        seen.add(phone)
        phones.append(phone)
        city = rng.choice(list(_PLACES))
        name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
        subscriber = rng.choice(_SUBSCRIBER_TYPES)
        priority = rng.choice((0, 0, 1, 1, 2, 3))
        lines.append(";".join((name, phone, city, rng.choice(_PLACES[city]), subscriber, str(priority))))
    lines.append(";".join(("Hatalı Numara", "0111 111 11 11", "Ankara", "Çankaya", "Mesken", "0")))
    lines.append(";".join(("Eksik Numara", "532 12", "İzmir", "Buca", "Mesken", "0")))
    lines.append(";".join(("Tekrar Eden", phones[0], "İstanbul", "Kadıköy", "Mesken", "1")))
    return ("\r\n".join(lines) + "\r\n").encode("cp1254")
