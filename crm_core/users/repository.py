"""Users, teams and permissions in PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from asyncpg import Record

from callcenter.db.database import Connection
from crm_core.users.model import PERMISSIONS, LoginRule, Role, Team, User, effective_permissions

_USER_COLUMNS = (
    "id, username, full_name, role, team_id, password_hash, login_rule, allowed_networks, language, active, created_at,"
    " extension"
)


class DuplicateError(ValueError):
    """A user name or team name is already taken."""


class DuplicateExtensionError(ValueError):
    """Another user has that extension (phone) already."""


def _user(row: Record) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        full_name=row["full_name"],
        role=Role(row["role"]),
        team_id=row["team_id"],
        password_hash=row["password_hash"],
        login_rule=LoginRule(row["login_rule"]),
        allowed_networks=tuple(row["allowed_networks"]),
        language=row["language"],
        active=row["active"],
        created_at=row["created_at"],
        extension=row["extension"],
    )


@dataclasses.dataclass(frozen=True)
class NewUser:
    username: str
    full_name: str
    role: Role
    password_hash: str
    team_id: int | None = None
    login_rule: LoginRule = LoginRule.ANY
    allowed_networks: tuple[Any, ...] = ()
    language: str = "tr"
    extension: str | None = None


class UserRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, user_id: int) -> User | None:
        row = await self._conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)  # noqa: S608
        return _user(row) if row else None

    async def by_username(self, username: str) -> User | None:
        row = await self._conn.fetchrow(
            f"SELECT {_USER_COLUMNS} FROM users WHERE lower(username) = lower($1)",  # noqa: S608
            username,
        )
        return _user(row) if row else None

    async def by_extension(self, extension: str) -> User | None:
        row = await self._conn.fetchrow(
            f"SELECT {_USER_COLUMNS} FROM users WHERE lower(extension) = lower($1)",  # noqa: S608
            extension,
        )
        return _user(row) if row else None

    async def list(self, *, team_id: int | None = None) -> list[User]:
        rows = await self._conn.fetch(
            f"""SELECT {_USER_COLUMNS} FROM users
                 WHERE ($1::bigint IS NULL OR team_id = $1)
                 ORDER BY active DESC, lower(full_name), id""",  # noqa: S608
            team_id,
        )
        return [_user(r) for r in rows]

    async def add(self, new: NewUser) -> User:
        if await self.by_username(new.username) is not None:
            raise DuplicateError(new.username)
        if new.extension is not None and await self.by_extension(new.extension) is not None:
            raise DuplicateExtensionError(new.extension)
        row = await self._conn.fetchrow(
            f"""INSERT INTO users (username, full_name, role, team_id, password_hash, login_rule,
                                   allowed_networks, language, extension)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                RETURNING {_USER_COLUMNS}""",  # noqa: S608
            new.username,
            new.full_name,
            new.role.value,
            new.team_id,
            new.password_hash,
            new.login_rule.value,
            list(new.allowed_networks),
            new.language,
            new.extension,
        )
        assert row is not None
        return _user(row)

    async def save(self, user: User) -> None:
        other = await self.by_username(user.username)
        if other is not None and other.id != user.id:
            raise DuplicateError(user.username)
        if user.extension is not None:
            holder = await self.by_extension(user.extension)
            if holder is not None and holder.id != user.id:
                raise DuplicateExtensionError(user.extension)
        await self._conn.execute(
            """UPDATE users SET username = $2, full_name = $3, role = $4, team_id = $5, password_hash = $6,
                      login_rule = $7, allowed_networks = $8, language = $9, active = $10, extension = $11,
                      updated_at = now()
                WHERE id = $1""",
            user.id,
            user.username,
            user.full_name,
            user.role.value,
            user.team_id,
            user.password_hash,
            user.login_rule.value,
            list(user.allowed_networks),
            user.language,
            user.active,
            user.extension,
        )

    async def role_defaults(self, role: Role) -> frozenset[str]:
        rows = await self._conn.fetch("SELECT permission FROM role_permissions WHERE role = $1", role.value)
        return frozenset(r["permission"] for r in rows)

    async def overrides(self, user_id: int) -> dict[str, bool]:
        rows = await self._conn.fetch("SELECT permission, granted FROM user_permissions WHERE user_id = $1", user_id)
        return {r["permission"]: r["granted"] for r in rows}

    async def set_overrides(self, user_id: int, overrides: Mapping[str, bool]) -> None:
        unknown = set(overrides) - PERMISSIONS.keys()
        if unknown:
            raise ValueError(f"unknown permissions: {sorted(unknown)}")
        async with self._conn.transaction():
            await self._conn.execute("DELETE FROM user_permissions WHERE user_id = $1", user_id)
            await self._conn.executemany(
                "INSERT INTO user_permissions (user_id, permission, granted) VALUES ($1, $2, $3)",
                [(user_id, code, granted) for code, granted in sorted(overrides.items())],
            )

    async def permissions_of(self, user: User) -> frozenset[str]:
        """The role's defaults and the user's overrides in one round trip (this runs on every request)."""
        rows = await self._conn.fetch(
            """SELECT permission, NULL::boolean AS granted FROM role_permissions WHERE role = $1
               UNION ALL
               SELECT permission, granted FROM user_permissions WHERE user_id = $2""",
            user.role.value,
            user.id,
        )
        defaults = [r["permission"] for r in rows if r["granted"] is None]
        overrides = {r["permission"]: r["granted"] for r in rows if r["granted"] is not None}
        return effective_permissions(defaults, overrides)


class TeamRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, team_id: int) -> Team | None:
        row = await self._conn.fetchrow("SELECT id, name, leader_id FROM teams WHERE id = $1", team_id)
        return Team(**dict(row.items())) if row else None

    async def by_name(self, name: str) -> Team | None:
        row = await self._conn.fetchrow("SELECT id, name, leader_id FROM teams WHERE lower(name) = lower($1)", name)
        return Team(**dict(row.items())) if row else None

    async def list(self) -> list[Team]:
        rows = await self._conn.fetch("SELECT id, name, leader_id FROM teams ORDER BY lower(name)")
        return [Team(**dict(r.items())) for r in rows]

    async def add(self, name: str, leader_id: int | None) -> Team:
        if await self.by_name(name) is not None:
            raise DuplicateError(name)
        row = await self._conn.fetchrow(
            "INSERT INTO teams (name, leader_id) VALUES ($1, $2) RETURNING id, name, leader_id",
            name,
            leader_id,
        )
        assert row is not None
        return Team(**dict(row.items()))

    async def save(self, team: Team) -> None:
        other = await self.by_name(team.name)
        if other is not None and other.id != team.id:
            raise DuplicateError(team.name)
        await self._conn.execute(
            "UPDATE teams SET name = $2, leader_id = $3 WHERE id = $1", team.id, team.name, team.leader_id
        )
