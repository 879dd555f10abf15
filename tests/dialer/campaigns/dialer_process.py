"""A dialer process for the kill-and-restart test.

``python -m tests.dialer.campaigns.dialer_process URL PORT EPOCH MONO SPEED READY`` runs the campaign dialer
against the simulator on PORT, on the simulator's clock (the simulated epoch EPOCH at the system-wide monotonic
time MONO, running SPEED times faster), until it is killed. It creates the file READY once it dials."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from callcenter.bus.memory import InProcessBus
from callcenter.db.database import connect
from config.settings import DatabaseSettings
from tests.dialer.campaigns.conftest import start_stack


async def main(url: str, port: int, epoch: float, mono: float, speed: float, ready: Path) -> None:
    def clock() -> datetime:
        return datetime.fromtimestamp(epoch + (time.monotonic() - mono) * speed, UTC)

    db = await connect(DatabaseSettings(url=url, pool_min_size=2, pool_max_size=10, migrate_on_start=False))
    bus = InProcessBus()
    await bus.start()
    stack = await start_stack(db, bus, port, clock)
    stack.dialer.start()
    ready.touch()  # noqa: ASYNC240 - once, at start
    await asyncio.Event().wait()


if __name__ == "__main__":
    url, port, epoch, mono, speed, ready = sys.argv[1:7]
    asyncio.run(main(url, int(port), float(epoch), float(mono), float(speed), Path(ready)))
