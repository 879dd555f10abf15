"""What crosses the boundary of ``dialer.ami``: our own AMI message, list and session types, and the errors.

Nothing outside this package sees a panoramisk object. An :class:`AmiMessage` keeps the headers in wire order
(a repeated header such as ``Variable`` keeps every value); lookups ignore case, as Asterisk's do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any


class AmiMessage:
    """One AMI response or event: ordered ``(name, value)`` headers, looked up case-insensitively."""

    __slots__ = ("_index", "headers")

    def __init__(self, headers: Iterable[tuple[str, str]]) -> None:
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)
        index: dict[str, str] = {}
        for name, value in self.headers:
            index.setdefault(name.lower(), value)
        self._index = index

    @classmethod
    def _built(cls, headers: tuple[tuple[str, str], ...], index: dict[str, str]) -> AmiMessage:
        message = cls.__new__(cls)
        message.headers, message._index = headers, index
        return message

    @classmethod
    def of(cls, **headers: str) -> AmiMessage:
        """A message from keyword headers (tests, hand-made snapshots)."""
        return cls(headers.items())

    def get(self, name: str, default: str = "") -> str:
        """The first value of header ``name`` (any case), or ``default``."""
        return self._index.get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    @property
    def event(self) -> str:
        """``Event:`` of an event, "" for a response."""
        return self._index.get("event", "")

    @property
    def response(self) -> str:
        return self._index.get("response", "")

    @property
    def action_id(self) -> str:
        return self._index.get("actionid", "")

    @property
    def is_success(self) -> bool:
        return self.response.lower() in ("success", "follows", "goodbye")

    def as_dict(self) -> dict[str, str]:
        """First value of every header, in wire order (for logs)."""
        out: dict[str, str] = {}
        for name, value in self.headers:
            out.setdefault(name, value)
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AmiMessage) and other.headers == self.headers

    def __hash__(self) -> int:
        return hash(self.headers)

    def __repr__(self) -> str:
        label = self.event or f"Response {self.response}"
        return f"<AmiMessage {label} {len(self.headers)} headers>"


def from_panoramisk(message: Any) -> AmiMessage:
    """Our message from a ``panoramisk.Message`` (a case-insensitive dict whose repeated headers are lists).

    Reads its ``_store`` (lower-case name -> (name, value)) directly when it has one: going through the mapping
    interface lower-cases every name twice more, which is most of the cost of a 2,000-event burst."""
    store = getattr(message, "_store", None)
    entries = store.items() if isinstance(store, dict) else ((k.lower(), (k, v)) for k, v in message.items())
    pairs: list[tuple[str, str]] = []
    index: dict[str, str] = {}
    for lower, (name, value) in entries:
        if isinstance(value, list):
            pairs.extend((name, str(item)) for item in value)
            index[lower] = str(value[0]) if value else ""
        else:
            pairs.append((name, value if isinstance(value, str) else str(value)))
            index[lower] = pairs[-1][1]
    return AmiMessage._built(tuple(pairs), index)


@dataclasses.dataclass(frozen=True)
class AmiList:
    """The reply to a list action: the ``Response``, the items, and the ``...Complete`` event."""

    response: AmiMessage
    items: tuple[AmiMessage, ...]
    complete: AmiMessage | None


@dataclasses.dataclass(frozen=True)
class Connected:
    """A session is logged in; ``generation`` counts sessions (1, 2, ...) since the connection started."""

    generation: int


@dataclasses.dataclass(frozen=True)
class Disconnected:
    """The session of ``generation`` is gone, and why."""

    generation: int
    reason: str


class AmiError(Exception):
    """Base of every error of the AMI engine."""


class AmiNotConnectedError(AmiError):
    """An action was asked for while the AMI connection is down (it reconnects by itself)."""


class AmiConnectionLostError(AmiError, ConnectionError):
    """The connection went down while an action waited for its answer; it may or may not have been run."""


class AmiTimeoutError(AmiError, TimeoutError):
    """Asterisk did not answer an action in time."""

    def __init__(self, action: str, timeout: float) -> None:
        super().__init__(f"AMI action {action} got no answer within {timeout:g} s")
        self.action = action
        self.timeout = timeout


class AmiActionError(AmiError):
    """Asterisk answered ``Response: Error`` (or anything but Success); ``message`` is its ``Message:``."""

    def __init__(self, action: str, reply: AmiMessage) -> None:
        self.action = action
        self.reply = reply
        self.message = reply.get("Message")
        super().__init__(f"AMI action {action} refused: {reply.response or 'no response'}: {self.message}")


class AmiAuthenticationError(AmiError):
    """Login refused: wrong ``ami.username`` / ``ami.secret``, or the user may not log in from here."""

    def __init__(self, username: str, where: str, message: str) -> None:
        super().__init__(
            f"AMI login as {username!r} at {where} refused: {message or 'no reason given'}; "
            "check ami.username and ami.secret (CALLCENTER_AMI__USERNAME, CALLCENTER_AMI__SECRET) "
            "against manager.conf"
        )
        self.username = username
