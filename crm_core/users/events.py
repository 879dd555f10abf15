"""Events of the users module (stream ``users``)."""

from __future__ import annotations

import dataclasses

from callcenter.bus.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class _UsersEvent(Event):
    STREAM = "users"


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserCreated(_UsersEvent):
    user_id: int
    username: str
    role: str
    team_id: int | None
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserUpdated(_UsersEvent):
    user_id: int
    username: str
    fields: tuple[str, ...]
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TeamCreated(_UsersEvent):
    team_id: int
    name: str
    leader_id: int | None
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TeamUpdated(_UsersEvent):
    team_id: int
    name: str
    fields: tuple[str, ...]
    actor_id: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserLoggedIn(_UsersEvent):
    user_id: int
    username: str
    ip: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserLoggedOut(_UsersEvent):
    user_id: int
    username: str
    reason: str  # "logout" | "expired"


@dataclasses.dataclass(frozen=True, kw_only=True)
class UserLoginRefused(_UsersEvent):
    username: str
    ip: str
    reason: str  # see agent_console.auth.service.Refusal
