"""The event bus: one interface, two implementations (in-process and Redis Streams).

Publishers call :meth:`EventBus.publish`; the bus gives each event the next sequence number of its stream
(1, 2, 3, ... per stream, never reused) and hands back the :class:`Envelope`. Subscribers name the streams they
want and, optionally, the last sequence number they have already seen per stream: they first receive everything
after it (catch-up, as far as the bus keeps history) and then live events, in sequence order per stream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from callcenter.bus.events import Event, event_from_dict, utc_now


@dataclasses.dataclass(frozen=True)
class Envelope:
    """An event as delivered by the bus: its stream, its sequence number in that stream, and when it was published."""

    stream: str
    seq: int
    event: Event
    published_at: datetime = dataclasses.field(default_factory=utc_now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "seq": self.seq,
            "published_at": self.published_at.isoformat(),
            "event": self.event.to_dict(),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Envelope:
        return cls(
            stream=payload["stream"],
            seq=int(payload["seq"]),
            published_at=datetime.fromisoformat(payload["published_at"]),
            event=event_from_dict(payload["event"]),
        )


class HistoryLostError(RuntimeError):
    """A subscriber asked to catch up from a sequence number the bus no longer keeps.

    The subscriber must take a fresh snapshot of the state it mirrors and subscribe again from ``oldest - 1``.
    """

    def __init__(self, stream: str, after: int, oldest: int) -> None:
        super().__init__(f"stream {stream!r}: events after {after} requested, oldest kept is {oldest}")
        self.stream = stream
        self.after = after
        self.oldest = oldest


class Subscription(Protocol):
    """An async iterator of envelopes; close it (or use ``async with``) when done."""

    def __aiter__(self) -> AsyncIterator[Envelope]: ...

    async def __anext__(self) -> Envelope: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> Subscription: ...

    async def __aexit__(self, *exc: object) -> None: ...


class EventBus(Protocol):
    async def start(self) -> None:
        """Open connections. Called once by the composition root."""

    async def close(self) -> None:
        """Close connections and end every open subscription."""

    async def publish(self, event: Event) -> Envelope:
        """Append ``event`` to its stream with the next sequence number."""

    def subscribe(self, streams: Sequence[str], *, after: Mapping[str, int] | None = None) -> Subscription:
        """Events of ``streams``. Without ``after`` (per stream), only events published from now on;
        with it, every kept event whose seq is greater, then live ones. Raises :class:`HistoryLostError`
        from iteration when the requested history is gone."""

    async def last_seq(self, stream: str) -> int:
        """The sequence number of the newest event of ``stream`` (0 if none)."""

    async def read(self, stream: str, *, after: int = 0, limit: int = 1000) -> list[Envelope]:
        """Kept events of ``stream`` with seq greater than ``after``, oldest first, at most ``limit``."""


__all__ = ["Envelope", "Event", "EventBus", "HistoryLostError", "Subscription"]
