"""Users, roles, teams and permissions: pure domain, no I/O.

Permissions are named ``<module>.<action>``: a module's page is reached with its ``.view`` (or ``.use``) permission
and each action on it has its own (seed 001, "Esnek yetkilendirme ve kullanıcı hakları ataması"). A user's
effective permissions are the role's defaults plus the grants and minus the denials set on the user.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from collections.abc import Iterable, Mapping
from datetime import datetime

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Role(enum.StrEnum):
    AGENT = "agent"
    TEAM_LEADER = "team_leader"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class LoginRule(enum.StrEnum):
    """Seed 001 "Kullanıcı giriş protokolleri": free login, or only from listed addresses/networks."""

    ANY = "any"
    NETWORKS = "networks"


@dataclasses.dataclass(frozen=True)
class Permission:
    code: str
    module: str


def _catalogue(*codes: str) -> dict[str, Permission]:
    return {code: Permission(code, code.split(".", 1)[0]) for code in codes}


#: Every permission the product knows. Features add theirs here and seed role defaults in a migration.
PERMISSIONS: Mapping[str, Permission] = _catalogue(
    "console.use",
    "users.view",
    "users.manage",
    "teams.view",
    "teams.manage",
    "audit.view",
    "pools.view",
    "pools.manage",
    "campaigns.view",
    "campaigns.manage",
    "blacklist.view",
    "blacklist.manage",
    "wallboard.view",
)


@dataclasses.dataclass(frozen=True)
class Team:
    id: int
    name: str
    leader_id: int | None = None


@dataclasses.dataclass(frozen=True)
class User:
    id: int
    username: str
    full_name: str
    role: Role
    team_id: int | None
    password_hash: str
    login_rule: LoginRule = LoginRule.ANY
    allowed_networks: tuple[IPNetwork, ...] = ()
    language: str = "tr"
    active: bool = True
    created_at: datetime | None = None
    #: The agent's phone as the PBX names it (``agent1`` for ``PJSIP/agent1``); unique, case-insensitive.
    extension: str | None = None

    def may_log_in_from(self, address: IPAddress) -> bool:
        if self.login_rule is LoginRule.ANY:
            return True
        return any(address.version == net.version and address in net for net in self.allowed_networks)

    def audit_view(self) -> dict[str, object]:
        """The fields an audit record compares (never the password hash itself)."""
        return {
            "username": self.username,
            "full_name": self.full_name,
            "role": self.role.value,
            "team_id": self.team_id,
            "login_rule": self.login_rule.value,
            "allowed_networks": [str(n) for n in self.allowed_networks],
            "language": self.language,
            "active": self.active,
            "extension": self.extension,
            "password": self.password_hash,
        }


def effective_permissions(role_defaults: Iterable[str], overrides: Mapping[str, bool]) -> frozenset[str]:
    granted = set(role_defaults)
    for code, allowed in overrides.items():
        if allowed:
            granted.add(code)
        else:
            granted.discard(code)
    # Whoever may manage a module may also look at it.
    granted |= {f"{code.split('.', 1)[0]}.view" for code in granted if code.endswith(".manage")}
    return frozenset(granted & PERMISSIONS.keys())


def parse_networks(text: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """``"10.0.0.0/8, 192.168.1.20"`` -> networks. Raises ValueError naming the bad entry."""
    items = text.replace("\n", ",").split(",") if isinstance(text, str) else list(text)
    networks: list[IPNetwork] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(item) from None
    return tuple(networks)


def changes(before: Mapping[str, object], after: Mapping[str, object]) -> dict[str, list[object]]:
    """``{field: [old, new]}`` for fields that differ; secrets show as ``"***"``."""
    out: dict[str, list[object]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            out[key] = ["***", "***"] if key == "password" else [old, new]
    return out
