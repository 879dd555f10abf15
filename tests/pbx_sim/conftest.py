"""Fixtures of the simulator tests: a fresh simulator per test, as Asterisk was restarted before each capture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from config.settings import PbxSimSettings
from pbx_sim.app import PbxSim, running_pbx_sim

SPEED = 20.0  # simulated seconds per real second: a 2 s ring takes 0.1 s


@pytest.fixture
async def sim() -> AsyncIterator[PbxSim]:
    async with running_pbx_sim(PbxSimSettings(), port=0, speed=SPEED) as running:
        yield running
