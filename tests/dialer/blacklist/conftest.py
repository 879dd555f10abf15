"""Fixtures of the blacklist tests: the service on the rolled-back test connection, an administrator acting,
campaigns with a chosen İYS rule, and files as users upload them."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import openpyxl
import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from crm_core.audit.repository import Actor
from crm_core.users.model import Role
from dialer.blacklist.service import BlacklistService
from tests.conftest import MakeUser

MakeCampaign = Callable[..., Awaitable[int]]


@pytest.fixture
async def admin(make_user: MakeUser) -> Actor:
    user = await make_user("yonetici", role=Role.ADMIN)
    return Actor(user.id, user.username)


@pytest.fixture
def service(db: Database, memory_bus: InProcessBus) -> BlacklistService:
    return BlacklistService(db, memory_bus)


@pytest.fixture
def make_campaign(conn: asyncpg.Connection) -> MakeCampaign:
    """A campaign row (the campaign pages are not needed to test the blacklist); its id."""

    async def make(name: str = "Kasım Kampanyası", *, consent_rule: str = "refused_blocked") -> int:
        campaign_id: int = await conn.fetchval(
            "INSERT INTO campaigns (name, dial_mode, consent_rule) VALUES ($1, 'preview', $2) RETURNING id",
            name,
            consent_rule,
        )
        return campaign_id

    return make


def csv_file(lines: Sequence[str], *, encoding: str = "utf-8") -> bytes:
    """A CSV file as Excel writes it: CRLF line ends."""
    return "\r\n".join(lines).encode(encoding) + b"\r\n"


def xlsx_file(rows: Sequence[Sequence[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
