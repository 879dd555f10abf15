"""Pause reasons ("mola nedenleri"): configurable per installation, with Turkish and English labels.

The reason is stored with every pause period, so the break report of seed 001 can show time per reason and tell
productive pauses (training, meetings, back-office work) from unproductive ones (break, lunch). ``max_minutes``
lets the team leader's screen flag a break that runs too long. The ``auto`` reason always exists: the dialer uses
it itself when it pauses an agent who lets calls ring unanswered, and agents cannot choose it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from datetime import timedelta

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

AUTO = "auto"


class UnknownPauseReasonError(ValueError):
    """A pause names a reason code that is not configured."""

    def __init__(self, code: str) -> None:
        super().__init__(f"unknown pause reason {code!r}")
        self.code = code


@dataclasses.dataclass(frozen=True)
class PauseReason:
    code: str
    label_tr: str
    label_en: str
    productive: bool = False
    max_minutes: int | None = None
    system: bool = False  # chosen by the dialer, never offered to agents

    def __post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise ValueError(f"pause reason code {self.code!r} must be lower-case letters, digits and _")
        if not self.label_tr.strip() or not self.label_en.strip():
            raise ValueError(f"pause reason {self.code!r} needs a Turkish and an English label")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"pause reason {self.code!r}: max_minutes must be positive")

    def label(self, language: str) -> str:
        return self.label_tr if language == "tr" else self.label_en

    def overrun(self, elapsed: timedelta) -> timedelta | None:
        """How far a pause of ``elapsed`` is past the allowed time, or None while within it (or unlimited)."""
        if self.max_minutes is None:
            return None
        over = elapsed - timedelta(minutes=self.max_minutes)
        return over if over > timedelta(0) else None


AUTO_REASON = PauseReason(
    AUTO, "Otomatik mola (cevapsız çağrı)", "Automatic pause (missed calls)", productive=False, system=True
)

DEFAULT_REASONS: tuple[PauseReason, ...] = (
    PauseReason("break", "Mola", "Break", productive=False, max_minutes=15),
    PauseReason("lunch", "Yemek", "Lunch", productive=False, max_minutes=60),
    PauseReason("training", "Eğitim", "Training", productive=True),
    PauseReason("meeting", "Toplantı", "Meeting", productive=True),
    PauseReason("back_office", "Back office", "Back office", productive=True),
)


@dataclasses.dataclass(frozen=True, init=False)
class PauseReasons:
    """The configured set, in display order; always contains :data:`AUTO_REASON` (added when missing)."""

    items: tuple[PauseReason, ...]

    def __init__(self, items: Iterable[PauseReason] = DEFAULT_REASONS) -> None:
        reasons = tuple(items)
        codes = [r.code for r in reasons]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"pause reason codes used twice: {duplicates}")
        if AUTO not in codes:
            reasons += (AUTO_REASON,)
        object.__setattr__(self, "items", reasons)

    def __iter__(self) -> Iterator[PauseReason]:
        return iter(self.items)

    def __contains__(self, code: object) -> bool:
        return any(r.code == code for r in self.items)

    def get(self, code: str) -> PauseReason:
        for reason in self.items:
            if reason.code == code:
                return reason
        raise UnknownPauseReasonError(code)

    def selectable(self) -> tuple[PauseReason, ...]:
        """The reasons an agent may pick on his screen."""
        return tuple(r for r in self.items if not r.system)
