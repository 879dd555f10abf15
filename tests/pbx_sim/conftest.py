"""Fixtures of the simulator tests: a fresh simulator per test, as Asterisk was restarted before each capture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import PbxSimSettings
from pbx_sim.app import PbxSim, running_pbx_sim

SPEED = 20.0  # simulated seconds per real second: a 2 s ring takes 0.1 s
# The test PBX of the captures (their extensions.conf and queues.conf) as a world.
FIXTURE_WORLD = Path(__file__).resolve().parent / "fixture_world.toml"


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[PbxSim]:
    """The simulator with its built-in (demo) world."""
    async with running_pbx_sim(PbxSimSettings(recordings_dir=tmp_path), port=0, speed=SPEED) as running:
        yield running


@pytest.fixture
async def fixture_sim(tmp_path: Path) -> AsyncIterator[PbxSim]:
    """The simulator with the world of the captures."""
    settings = PbxSimSettings(recordings_dir=tmp_path)
    async with running_pbx_sim(settings, port=0, speed=SPEED, world=FIXTURE_WORLD) as running:
        yield running
