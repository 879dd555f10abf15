"""Server-side login sessions. The browser holds a random token in an HttpOnly cookie; the database holds only its
SHA-256, the user, the session's CSRF token and when it expires (sliding: each use pushes expiry forward)."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from callcenter.db.database import Database
from crm_core.users.model import IPAddress, User
from crm_core.users.repository import UserRepository

COOKIE = "cc_session"
_TOUCH_EVERY = timedelta(minutes=1)


@dataclasses.dataclass(frozen=True)
class Session:
    token_hash: bytes
    user: User
    permissions: frozenset[str]
    csrf_token: str

    def can(self, permission: str) -> bool:
        return permission in self.permissions


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


class SessionStore:
    def __init__(self, db: Database, lifetime: timedelta) -> None:
        self._db = db
        self.lifetime = lifetime

    async def create(self, user: User, ip: IPAddress | None, user_agent: str) -> tuple[str, str]:
        """A new session for ``user``; returns (cookie token, CSRF token)."""
        token = secrets.token_urlsafe(32)
        csrf = new_csrf_token()
        async with self._db.acquire() as conn:
            await conn.execute(
                """INSERT INTO web_sessions (token_hash, user_id, csrf_token, ip, user_agent, expires_at)
                   VALUES ($1, $2, $3, $4, $5, now() + $6::interval)""",
                _hash(token),
                user.id,
                csrf,
                ip,
                user_agent[:300],
                self.lifetime,
            )
        return token, csrf

    async def load(self, token: str) -> Session | None:
        """The live session of ``token``, or None (unknown, expired, or its user disabled)."""
        if not token or len(token) > 100:
            return None
        token_hash = _hash(token)
        async with self._db.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT user_id, csrf_token, last_seen_at, expires_at FROM web_sessions WHERE token_hash = $1",
                token_hash,
            )
            if row is None:
                return None
            now = datetime.now(UTC)
            if row["expires_at"] <= now:
                await conn.execute("DELETE FROM web_sessions WHERE token_hash = $1", token_hash)
                return None
            users = UserRepository(conn)
            user = await users.get(row["user_id"])
            if user is None or not user.active:
                return None
            if now - row["last_seen_at"] >= _TOUCH_EVERY:
                await conn.execute(
                    """UPDATE web_sessions SET last_seen_at = now(), expires_at = now() + $2::interval
                        WHERE token_hash = $1""",
                    token_hash,
                    self.lifetime,
                )
            return Session(token_hash, user, await users.permissions_of(user), row["csrf_token"])

    async def delete(self, session: Session) -> None:
        async with self._db.acquire() as conn:
            await conn.execute("DELETE FROM web_sessions WHERE token_hash = $1", session.token_hash)

    async def purge_expired(self) -> int:
        async with self._db.acquire() as conn:
            result = await conn.execute("DELETE FROM web_sessions WHERE expires_at <= now()")
        return int(result.split()[-1])
