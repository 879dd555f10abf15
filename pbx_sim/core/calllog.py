"""The simulator's own log of the customers it was asked to call: who, when, for how long.

Asterisk keeps CDRs; a rehearsal needs the same independent witness of what the dialer really did: which numbers
were dialed, how often, and whether one number was ever in two calls at once. The dialer's own records are checked
against this log, never against themselves.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class CustomerCall:
    number: str
    started: float  # simulated epoch seconds
    ended: float | None = None


class CustomerLog:
    def __init__(self) -> None:
        self.calls: list[CustomerCall] = []
        self._live: dict[str, int] = {}
        self.max_concurrent: dict[str, int] = {}  # number -> the most calls it was in at once

    def started(self, number: str, now: float) -> CustomerCall:
        call = CustomerCall(number, now)
        self.calls.append(call)
        live = self._live.get(number, 0) + 1
        self._live[number] = live
        self.max_concurrent[number] = max(self.max_concurrent.get(number, 0), live)
        return call

    def ended(self, call: CustomerCall, now: float) -> None:
        if call.ended is None:
            call.ended = now
            self._live[call.number] -= 1

    def numbers(self) -> set[str]:
        return {c.number for c in self.calls}

    def count(self, number: str) -> int:
        return sum(1 for c in self.calls if c.number == number)
