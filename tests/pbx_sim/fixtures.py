"""The real Asterisk 22 captures in ``shared/fixtures/asterisk`` (see its README): parsing and message access."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "asterisk"
HDR = re.compile(r"^(>>>|<<<|###) t=\+(\d+\.\d+)(?: (.*))?$")

Fields = list[tuple[str, str]]


def parse(path: Path) -> list[tuple[str, float, str]]:
    """-> [(direction, t, text)]; direction is '>>>', '<<<' or '###' (note); text uses LF (README's parser)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list[tuple[str, float, str]] = []
    cur: tuple[str, float, list[str]] | None = None
    for line in lines:
        m = HDR.match(line)
        if m:
            if cur:
                out.append((cur[0], cur[1], "\n".join(cur[2]) + "\n"))
            cur = None
            if m.group(1) == "###":
                out.append(("###", float(m.group(2)), m.group(3) or ""))
            else:
                cur = (m.group(1), float(m.group(2)), [])
        elif cur is not None:
            cur[2].append(line)
    if cur:
        out.append((cur[0], cur[1], "\n".join(cur[2]) + "\n"))
    return out


def split_messages(text: str) -> list[Fields]:
    """AMI messages of an LF text block (the banner line, if any, is dropped)."""
    out: list[Fields] = []
    for chunk in text.split("\n\n"):
        fields: Fields = []
        for line in chunk.split("\n"):
            if not line or line.startswith("Asterisk Call Manager/"):
                continue
            key, sep, value = line.partition(": ")
            if not sep and line.endswith(":"):
                key, value = line[:-1], ""
            fields.append((key, value))
        if fields:
            out.append(fields)
    return out


@dataclass(frozen=True)
class Received:
    t: float
    fields: Fields

    @property
    def event(self) -> str | None:
        return dict(self.fields).get("Event")

    def get(self, key: str, default: str = "") -> str:
        return dict(self.fields).get(key, default)


@dataclass(frozen=True)
class Capture:
    name: str
    blocks: list[tuple[str, float, str]]

    @property
    def sent(self) -> list[tuple[float, str]]:
        return [(t, text) for d, t, text in self.blocks if d == ">>>"]

    @property
    def received(self) -> list[Received]:
        return [Received(t, f) for d, t, text in self.blocks if d == "<<<" for f in split_messages(text)]

    @property
    def end(self) -> float:
        return max(t for _, t, _ in self.blocks)

    @property
    def server_closes(self) -> bool:
        return any(d == "###" and "closed by Asterisk" in text for d, _, text in self.blocks)

    def note_time(self, words: str) -> float | None:
        return next((t for d, t, text in self.blocks if d == "###" and words in text), None)


@cache
def capture(name: str) -> Capture:
    path = FIXTURES / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"capture {path} is missing: the protocol tests need shared/fixtures/asterisk")
    return Capture(name, parse(path))


@cache
def all_shapes() -> dict[str, set[tuple[str, ...]]]:
    """Every field-name sequence seen per event type in all AMI captures."""
    shapes: dict[str, set[tuple[str, ...]]] = {}
    for path in sorted(FIXTURES.glob("ami-*.txt")):
        for rec in capture(path.stem).received:
            if rec.event:
                shapes.setdefault(rec.event, set()).add(tuple(k for k, _ in rec.fields))
    return shapes
