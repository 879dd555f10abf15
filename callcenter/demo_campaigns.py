"""Demo campaigns: the demo agents get phones in the PBX simulator (``agent1`` … ``agent5``, which the built-in world
answers), and the demo pool is dialed by a running preview campaign and a progressive one a supervisor can start.
Idempotent: an existing campaign of the same name is left alone."""

from __future__ import annotations

from datetime import time

from callcenter.bus import EventBus
from callcenter.db.database import Database
from crm_core.audit.repository import SYSTEM
from dialer.campaigns.model import CallingRules, CampaignStatus, DialMode
from dialer.campaigns.service import CampaignService

PREVIEW_NAME = "Demo Önizlemeli Arama"
PROGRESSIVE_NAME = "Demo Otomatik Arama"
# A demo may be shown at any hour: the demo campaigns may call every day, all day (real ones default to 09-20).
DEMO_RULES = CallingRules(
    call_days=frozenset(range(1, 8)), call_from=time(0, 0), call_until=time(23, 59, 59), max_lines=10
)


async def seed_demo_campaigns(
    db: Database, bus: EventBus, *, team_id: int, pool_id: int, agents: dict[str, int]
) -> None:
    """``agents``: user name -> user id of the demo agents (``ajan1`` gets the phone ``agent1``, ...)."""
    async with db.acquire() as conn:
        for username, user_id in agents.items():
            if username.startswith("ajan"):
                await conn.execute(
                    "UPDATE users SET extension = $2 WHERE id = $1 AND extension IS NULL",
                    user_id,
                    "agent" + username.removeprefix("ajan"),
                )
    campaigns = CampaignService(db, bus)
    names = {c.name for c in await campaigns.list_campaigns()}
    if PREVIEW_NAME not in names:
        preview = await campaigns.create_campaign(
            SYSTEM,
            PREVIEW_NAME,
            DialMode.PREVIEW,
            pool_ids=[pool_id],
            team_ids=[team_id],
            rules=DEMO_RULES,
            description="Agent kaydı görür, arar ya da nedenini yazarak geçer.",
        )
        await campaigns.set_status(SYSTEM, preview.id, CampaignStatus.RUNNING)
    if PROGRESSIVE_NAME not in names:
        await campaigns.create_campaign(
            SYSTEM,
            PROGRESSIVE_NAME,
            DialMode.PROGRESSIVE,
            pool_ids=[pool_id],
            team_ids=[team_id],
            rules=DEMO_RULES,
            description="Hazır her agent için bir arama; başlatmak için Kampanyalar sayfası.",
        )
