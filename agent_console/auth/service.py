"""Signing in and out: password check, per-user address rule, throttling, session, audit and event."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from datetime import timedelta

from agent_console.auth.sessions import Session, SessionStore
from callcenter.bus import EventBus
from callcenter.db.database import Connection, Database
from config.settings import SecuritySettings
from crm_core.audit.repository import Actor, AuditRepository
from crm_core.users.events import UserLoggedIn, UserLoggedOut, UserLoginRefused
from crm_core.users.model import IPAddress, User
from crm_core.users.passwords import DUMMY_HASH, verify_password
from crm_core.users.repository import UserRepository


class Refusal(enum.StrEnum):
    BAD_CREDENTIALS = "bad_credentials"
    DISABLED = "disabled"
    ADDRESS_NOT_ALLOWED = "address_not_allowed"
    THROTTLED = "throttled"


@dataclasses.dataclass(frozen=True)
class LoginOutcome:
    user: User | None = None
    token: str | None = None
    refusal: Refusal | None = None


class AuthService:
    def __init__(self, db: Database, bus: EventBus, sessions: SessionStore, settings: SecuritySettings) -> None:
        self._db = db
        self._bus = bus
        self._sessions = sessions
        self._settings = settings
        self.window = timedelta(minutes=settings.login_window_minutes)

    async def login(self, username: str, password: str, ip: IPAddress, user_agent: str) -> LoginOutcome:
        username = username.strip()[:64]
        async with self._db.acquire() as conn:
            if await self._throttled(conn, username, ip):
                return await self._refuse(conn, username, None, ip, Refusal.THROTTLED)
            user = await UserRepository(conn).by_username(username) if username else None
        # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
        ok = await asyncio.to_thread(verify_password, user.password_hash if user else DUMMY_HASH, password)
        async with self._db.acquire() as conn:
            if user is None or not ok:
                return await self._refuse(conn, username, user, ip, Refusal.BAD_CREDENTIALS)
            if not user.active:
                return await self._refuse(conn, username, user, ip, Refusal.DISABLED)
            if not user.may_log_in_from(ip):
                return await self._refuse(conn, username, user, ip, Refusal.ADDRESS_NOT_ALLOWED)
            token, _csrf = await self._sessions.create(user, ip, user_agent)
            async with conn.transaction():
                await _attempt(conn, user.username, ip, True, None)
                await AuditRepository(conn).record(
                    Actor(user.id, user.username, ip), "login.succeeded", "user", user.id
                )
        await self._bus.publish(UserLoggedIn(user_id=user.id, username=user.username, ip=str(ip)))
        return LoginOutcome(user=user, token=token)

    async def logout(self, session: Session, ip: IPAddress | None) -> None:
        await self._sessions.delete(session)
        user = session.user
        async with self._db.acquire() as conn:
            await AuditRepository(conn).record(Actor(user.id, user.username, ip), "logout", "user", user.id)
        await self._bus.publish(UserLoggedOut(user_id=user.id, username=user.username, reason="logout"))

    async def _throttled(self, conn: Connection, username: str, ip: IPAddress) -> bool:
        # Failures of this user name from this address since its last success, and of the address as a whole.
        row = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM login_attempts
                        WHERE lower(username) = lower($1) AND ip = $2 AND NOT succeeded
                          AND at > now() - $3::interval
                          AND at > coalesce((SELECT max(at) FROM login_attempts
                                              WHERE lower(username) = lower($1) AND ip = $2 AND succeeded),
                                            '-infinity')) AS by_user,
                      (SELECT count(*) FROM login_attempts
                        WHERE ip = $2 AND NOT succeeded AND at > now() - $3::interval) AS by_address""",
            username,
            ip,
            self.window,
        )
        assert row is not None
        return bool(
            row["by_user"] >= self._settings.login_max_failures
            or row["by_address"] >= self._settings.login_max_failures_per_address
        )

    async def _refuse(
        self, conn: Connection, username: str, user: User | None, ip: IPAddress, reason: Refusal
    ) -> LoginOutcome:
        async with conn.transaction():
            await _attempt(conn, username, ip, False, reason.value)
            await AuditRepository(conn).record(
                Actor(user.id if user else None, username or "?", ip),
                "login.refused",
                "user",
                user.id if user else None,
                {"username": username, "reason": reason.value},
            )
        await self._bus.publish(UserLoginRefused(username=username, ip=str(ip), reason=reason.value))
        return LoginOutcome(user=user, refusal=reason)


async def _attempt(conn: Connection, username: str, ip: IPAddress, succeeded: bool, reason: str | None) -> None:
    await conn.execute(
        "INSERT INTO login_attempts (username, ip, succeeded, reason) VALUES ($1, $2, $3, $4)",
        username,
        ip,
        succeeded,
        reason,
    )
