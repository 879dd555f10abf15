"""Use cases on users and teams. Each runs in one transaction together with its audit record; events are
published once the transaction has committed."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping, Sequence

from callcenter.bus import EventBus
from callcenter.bus.events import Event
from callcenter.db.database import Connection, Database
from crm_core.audit.repository import Actor, AuditRepository
from crm_core.users import events
from crm_core.users.model import IPNetwork, LoginRule, Role, Team, User, changes
from crm_core.users.passwords import WeakPasswordError, hash_password
from crm_core.users.repository import (
    DuplicateError,
    DuplicateExtensionError,
    NewUser,
    TeamRepository,
    UserRepository,
)

_USERNAME = re.compile(r"^[A-Za-z0-9._-]{2,64}$")
_EXTENSION = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
LANGUAGES = ("tr", "en")


class InvalidInputError(ValueError):
    """A field a user filled in is wrong. ``code`` is a message-catalogue key."""

    def __init__(self, field: str, code: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


class NotFoundError(LookupError):
    pass


_UNSET: object = object()


@dataclasses.dataclass(frozen=True)
class UserChanges:
    full_name: str | None = None
    role: Role | None = None
    team_id: int | object | None = _UNSET
    login_rule: LoginRule | None = None
    allowed_networks: tuple[IPNetwork, ...] | None = None
    language: str | None = None
    active: bool | None = None
    password: str | None = None
    extension: str | object | None = _UNSET  # "" or None: the user has no phone


class UserService:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._bus = bus

    async def create_user(
        self,
        actor: Actor,
        *,
        username: str,
        full_name: str,
        role: Role,
        password: str,
        team_id: int | None = None,
        login_rule: LoginRule = LoginRule.ANY,
        allowed_networks: Sequence[IPNetwork] = (),
        language: str = "tr",
        permissions: Mapping[str, bool] | None = None,
        extension: str | None = None,
    ) -> User:
        username = username.strip()
        if not _USERNAME.match(username):
            raise InvalidInputError("username", "error.username_format")
        extension = _extension(extension)
        full_name = _required(full_name, "full_name")
        _check_rule(login_rule, allowed_networks)
        _check_language(language)
        password_hash = await _hash(password)
        async with self._db.acquire() as conn, conn.transaction():
            await _check_team(TeamRepository(conn), team_id)
            try:
                user = await UserRepository(conn).add(
                    NewUser(
                        username=username,
                        full_name=full_name,
                        role=role,
                        password_hash=password_hash,
                        team_id=team_id,
                        login_rule=login_rule,
                        allowed_networks=tuple(allowed_networks),
                        language=language,
                        extension=extension,
                    )
                )
            except DuplicateError:
                raise InvalidInputError("username", "error.username_taken") from None
            except DuplicateExtensionError:
                raise InvalidInputError("extension", "error.extension_taken") from None
            await AuditRepository(conn).record(actor, "user.created", "user", user.id, changes({}, user.audit_view()))
            if permissions:
                await _apply_permissions(conn, actor, user, permissions)
        await self._publish(
            events.UserCreated(
                user_id=user.id, username=user.username, role=role.value, team_id=team_id, actor_id=actor.id
            )
        )
        return user

    async def update_user(
        self,
        actor: Actor,
        user_id: int,
        change: UserChanges,
        permissions: Mapping[str, bool] | None = None,
    ) -> User:
        """Change a user's fields and (when given) permission overrides together, in one transaction."""
        new_hash = await _hash(change.password) if change.password else None
        new_extension = _extension(change.extension if isinstance(change.extension, str) else None)
        async with self._db.acquire() as conn, conn.transaction():
            repo = UserRepository(conn)
            user = await repo.get(user_id)
            if user is None:
                raise NotFoundError(user_id)
            updated = dataclasses.replace(
                user,
                full_name=_required(change.full_name, "full_name") if change.full_name is not None else user.full_name,
                role=change.role or user.role,
                team_id=user.team_id if change.team_id is _UNSET else change.team_id,  # type: ignore[arg-type]
                login_rule=change.login_rule or user.login_rule,
                allowed_networks=(
                    user.allowed_networks if change.allowed_networks is None else change.allowed_networks
                ),
                language=change.language or user.language,
                active=user.active if change.active is None else change.active,
                password_hash=new_hash or user.password_hash,
                extension=user.extension if change.extension is _UNSET else new_extension,
            )
            _check_rule(updated.login_rule, updated.allowed_networks)
            _check_language(updated.language)
            if actor.id == user.id and not updated.active:
                raise InvalidInputError("active", "error.self_disable")
            if updated.team_id != user.team_id:
                await _check_team(TeamRepository(conn), updated.team_id)
            diff = changes(user.audit_view(), updated.audit_view())
            if diff:
                try:
                    await repo.save(updated)
                except DuplicateExtensionError:
                    raise InvalidInputError("extension", "error.extension_taken") from None
                await AuditRepository(conn).record(actor, "user.updated", "user", user.id, diff)
                if not updated.active or new_hash:
                    # A disabled user or a changed password ends the user's open sessions.
                    await conn.execute("DELETE FROM web_sessions WHERE user_id = $1", user.id)
            fields = tuple(diff)
            if permissions is not None and await _apply_permissions(conn, actor, user, permissions):
                fields += ("permissions",)
        if fields:
            await self._publish(
                events.UserUpdated(user_id=user.id, username=updated.username, fields=fields, actor_id=actor.id)
            )
        return updated

    async def set_permissions(self, actor: Actor, user_id: int, overrides: Mapping[str, bool]) -> None:
        async with self._db.acquire() as conn, conn.transaction():
            user = await UserRepository(conn).get(user_id)
            if user is None:
                raise NotFoundError(user_id)
            changed = await _apply_permissions(conn, actor, user, overrides)
        if changed:
            await self._publish(
                events.UserUpdated(user_id=user_id, username=user.username, fields=("permissions",), actor_id=actor.id)
            )

    async def create_team(self, actor: Actor, name: str, leader_id: int | None = None) -> Team:
        name = _required(name, "name")
        async with self._db.acquire() as conn, conn.transaction():
            await _check_leader(UserRepository(conn), leader_id)
            try:
                team = await TeamRepository(conn).add(name, leader_id)
            except DuplicateError:
                raise InvalidInputError("name", "error.team_taken") from None
            await AuditRepository(conn).record(
                actor, "team.created", "team", team.id, {"name": [None, name], "leader_id": [None, leader_id]}
            )
        await self._publish(events.TeamCreated(team_id=team.id, name=name, leader_id=leader_id, actor_id=actor.id))
        return team

    async def update_team(self, actor: Actor, team_id: int, name: str, leader_id: int | None) -> Team:
        name = _required(name, "name")
        async with self._db.acquire() as conn, conn.transaction():
            repo = TeamRepository(conn)
            team = await repo.get(team_id)
            if team is None:
                raise NotFoundError(team_id)
            await _check_leader(UserRepository(conn), leader_id)
            updated = dataclasses.replace(team, name=name, leader_id=leader_id)
            diff = changes(dataclasses.asdict(team), dataclasses.asdict(updated))
            if not diff:
                return team
            try:
                await repo.save(updated)
            except DuplicateError:
                raise InvalidInputError("name", "error.team_taken") from None
            await AuditRepository(conn).record(actor, "team.updated", "team", team_id, diff)
        await self._publish(events.TeamUpdated(team_id=team_id, name=name, fields=tuple(diff), actor_id=actor.id))
        return updated

    async def _publish(self, event: Event) -> None:
        await self._bus.publish(event)


async def _apply_permissions(conn: Connection, actor: Actor, user: User, overrides: Mapping[str, bool]) -> bool:
    """Replace the user's overrides (audited); False when nothing changes."""
    repo = UserRepository(conn)
    before = await repo.overrides(user.id)
    if before == dict(overrides):
        return False
    if actor.id == user.id and overrides.get("users.manage") is False:
        raise InvalidInputError("permissions", "error.self_lockout")
    await repo.set_overrides(user.id, overrides)
    diff = changes({k: _grant_label(v) for k, v in before.items()}, {k: _grant_label(v) for k, v in overrides.items()})
    await AuditRepository(conn).record(actor, "user.permissions_changed", "user", user.id, diff)
    return True


def _grant_label(granted: bool) -> str:
    return "granted" if granted else "denied"


def _required(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInputError(field, "error.required")
    return value


def _extension(value: str | None) -> str | None:
    """An agent's phone extension as typed: blank is none; letters, digits, ``-`` and ``_`` only."""
    value = (value or "").strip()
    if not value:
        return None
    if not _EXTENSION.match(value):
        raise InvalidInputError("extension", "error.extension_format")
    return value


def _check_rule(rule: LoginRule, networks: Sequence[IPNetwork]) -> None:
    if rule is LoginRule.NETWORKS and not networks:
        raise InvalidInputError("allowed_networks", "error.networks_required")


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidInputError("language", "error.language")


async def _check_team(teams: TeamRepository, team_id: int | None) -> None:
    if team_id is not None and await teams.get(team_id) is None:
        raise InvalidInputError("team_id", "error.no_such_team")


async def _check_leader(users: UserRepository, leader_id: int | None) -> None:
    if leader_id is None:
        return
    leader = await users.get(leader_id)
    if leader is None or leader.role is Role.AGENT:
        raise InvalidInputError("leader_id", "error.leader_role")


async def _hash(password: str) -> str:
    try:
        return await asyncio.to_thread(hash_password, password)
    except WeakPasswordError:
        raise InvalidInputError("password", "error.password_short") from None
