"""The simulator's clock: simulated time runs ``speed`` times faster than real time.

Every simulated delay (a phone ringing, a talk time, a tone, Asterisk's one-second pause after a failed login)
goes through :meth:`SimClock.sleep` or :meth:`SimClock.call_later`, so a speed of 20 runs a 2-second ring in
0.1 s of real time. ``now()`` is simulated epoch time: it starts at the real time when the clock is made and is
used for ``Timestamp`` fields, Uniqueids and CDR times, exactly as Asterisk uses its wall clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class SimClock:
    def __init__(self, speed: float = 1.0, *, epoch: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._epoch = time.time() if epoch is None else epoch
        self._mono = time.monotonic()

    def elapsed(self) -> float:
        """Simulated seconds since the clock started."""
        return (time.monotonic() - self._mono) * self.speed

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._epoch + self.elapsed()

    def real(self, seconds: float) -> float:
        """How many real seconds ``seconds`` of simulated time take."""
        return max(0.0, seconds) / self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.real(seconds))

    def call_later(self, seconds: float, callback: Callable[..., Any], *args: Any) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(self.real(seconds), callback, *args)
