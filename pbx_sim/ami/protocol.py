"""AMI framing as Asterisk 22's manager.c does it.

A message is ``Key: Value`` lines ended by CRLF and closed by an empty line. Asterisk also accepts a bare LF, cuts
a line at a NUL byte, discards a line longer than its 1,024-byte input buffer (and then the whole message it was
part of), and keeps at most 128 header lines (``AST_MAX_MANHEADERS``); a message with more is answered
``Too many lines in message or allocation failure``. :class:`AmiParser` reproduces all of that with a bounded
buffer, so garbage bytes or a half-sent message never grow memory or raise.

Text is decoded as UTF-8 with ``surrogateescape`` and encoded back the same way, so the simulator is as byte
transparent as Asterisk is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_LINE = 1024
MAX_HEADERS = 128
ENCODING = "utf-8"
ERRORS = "surrogateescape"

Fields = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Message:
    """One client message: its header lines, in order, as ``(key, value)``; ``overflow`` if lines were lost."""

    headers: tuple[tuple[str, str], ...]
    overflow: bool = False

    def get(self, key: str, default: str = "") -> str:
        """The first header named ``key`` (any case), as ``astman_get_header`` finds it."""
        wanted = key.lower()
        for name, value in self.headers:
            if name.lower() == wanted:
                return value
        return default

    def get_nonempty(self, key: str) -> str:
        """The first non-empty header named ``key`` (``GET_HEADER_SKIP_EMPTY``, used for ``Action``)."""
        wanted = key.lower()
        for name, value in self.headers:
            if name.lower() == wanted and value:
                return value
        return ""

    def get_all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [value for name, value in self.headers if name.lower() == wanted]

    @property
    def action_id(self) -> str:
        return self.get("ActionID")


def _split_header(line: str) -> tuple[str, str] | None:
    key, sep, value = line.partition(":")
    if not sep:
        return None  # Asterisk stores it, but no lookup can ever match it
    return key, value.lstrip(" \t")


class AmiParser:
    """Incremental parser of what a client sends. ``feed`` returns every message completed by the new bytes."""

    def __init__(self, max_line: int = MAX_LINE, max_headers: int = MAX_HEADERS) -> None:
        self._max_line = max_line
        self._max_headers = max_headers
        self._buffer = bytearray()
        self._headers: list[tuple[str, str]] = []
        self._overflow = False
        self._broken = False  # a line of this message was too long: Asterisk drops the message silently

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        messages: list[Message] = []
        self._buffer += data
        start = 0
        buf = self._buffer
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            raw = bytes(buf[start:end])
            start = end + 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if len(raw) > self._max_line:
                self._broken = True
                continue
            message = self._line(raw)
            if message is not None:
                messages.append(message)
        del buf[:start]
        if len(buf) > self._max_line:
            # No end of line within the input buffer: Asterisk discards it, keeping the last byte
            # in case it is the CR of a CRLF, and throws away the message being read.
            del buf[:-1]
            self._broken = True
        return messages

    def _line(self, raw: bytes) -> Message | None:
        nul = raw.find(b"\0")
        if nul >= 0:
            raw = raw[:nul]
        if not raw:
            headers, overflow, broken = self._headers, self._overflow, self._broken
            self._headers, self._overflow, self._broken = [], False, False
            if broken:
                return None
            return Message(tuple(headers), overflow)
        if len(self._headers) >= self._max_headers:
            self._overflow = True
            return None
        header = _split_header(raw.decode(ENCODING, ERRORS))
        if header is not None:
            self._headers.append(header)
        else:
            self._headers.append(("", ""))  # counts toward the limit, as in Asterisk
        return None


def _clean(value: str) -> str:
    if "\r" in value or "\n" in value:
        return value.replace("\r", " ").replace("\n", " ")
    return value


def encode(fields: Iterable[tuple[str, str]]) -> bytes:
    """One AMI message on the wire: ``Key: Value`` CRLF lines in the given order, then an empty line.

    A value holding CR or LF would end the message early; such characters become spaces.
    """
    text = "".join(f"{key}: {_clean(value)}\r\n" for key, value in fields) + "\r\n"
    return text.encode(ENCODING, ERRORS)


def decode_fields(block: bytes) -> Fields:
    """The fields of one encoded message (tests and tools use it; the server never needs to)."""
    out: Fields = []
    for line in block.decode(ENCODING, ERRORS).split("\r\n"):
        if not line:
            continue
        key, _, value = line.partition(": ")
        out.append((key, value))
    return out
