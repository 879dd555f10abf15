"""Fixtures of the data-pool tests: a service on the rolled-back test connection, an administrator acting, and
builders of CSV and XLSX files as users upload them."""

from __future__ import annotations

import io
from collections.abc import Sequence

import openpyxl
import pytest

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import Database
from crm_core.audit.repository import Actor
from crm_core.users.model import Role
from dialer.pools.service import PoolService
from tests.conftest import MakeUser

MAPPING = {
    "Telefon": "phone",
    "Ad Soyad": "name",
    "Şehir": "city",
    "Öncelik": "priority",
    "Abone No": "custom:abone_no",
}


@pytest.fixture
async def admin(make_user: MakeUser) -> Actor:
    user = await make_user("yonetici", role=Role.ADMIN)
    return Actor(user.id, user.username)


@pytest.fixture
def service(db: Database, memory_bus: InProcessBus) -> PoolService:
    return PoolService(db, memory_bus)


def csv_file(lines: Sequence[str], *, encoding: str = "utf-8", newline: str = "\r\n") -> bytes:
    """A CSV file as Excel writes it: CRLF line ends, the given encoding."""
    return newline.join(lines).encode(encoding) + newline.encode(encoding)


def xlsx_file(rows: Sequence[Sequence[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
