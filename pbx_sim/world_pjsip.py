"""PJSIP endpoints of the world file (``[[endpoint]]``), as pjsip.conf declares them.

An endpoint is what ``PJSIP/<name>`` names: with its aor (same name) and, if it has a ``password``, an auth
(``type = auth``, username = the endpoint name, as the captures' ``agent1``). A static ``contact`` (the aor's
``contact =``) makes it reachable from boot, as ``agent-sipp`` and the customer trunk ``sipp-uas`` in the
captures; without one it is unavailable until its phone registers (``pbx.pjsip.register``). ``aor = false``
declares an endpoint without aor (the captures' ``sipp``): it can never be called. See ``default_world.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pbx_sim.world_base import WorldError, check_keys

KEYS = ("name", "context", "transport", "password", "contact", "aor", "minimum_expiration", "maximum_expiration")


@dataclass(frozen=True)
class Endpoint:
    name: str
    context: str = "from-sip"  # where a call from this endpoint enters the dialplan
    transport: str = "transport-udp"
    password: str = ""  # the auth's password; empty: no auth
    contact: str = ""  # the aor's static contact URI; empty: the phone registers
    has_aor: bool = True
    minimum_expiration: int = 60  # the aor's bounds for a registration's Expires (res_pjsip defaults)
    maximum_expiration: int = 7200

    @property
    def aor(self) -> str:
        return self.name if self.has_aor else ""

    @property
    def auth(self) -> str:
        return self.name if self.password else ""


def parse_endpoints(entries: list[tuple[dict[str, Any], str]]) -> tuple[Endpoint, ...]:
    endpoints = tuple(parse_endpoint(raw, where) for raw, where in entries)
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise WorldError(f"endpoint: a name is used twice in {names}")
    return endpoints


def parse_endpoint(raw: dict[str, Any], where: str) -> Endpoint:
    check_keys(raw, KEYS, where)
    name = raw.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise WorldError(f'{where}: an endpoint needs a name such as "agent1"')
    contact = str(raw.get("contact", ""))
    if contact and not contact.startswith("sip:"):
        raise WorldError(f"{where}.contact: a SIP URI such as sip:agent@127.0.0.1:5071, got {contact!r}")
    low, high = int(raw.get("minimum_expiration", 60)), int(raw.get("maximum_expiration", 7200))
    if not 0 < low <= high:
        raise WorldError(f"{where}: minimum_expiration must be positive and at most maximum_expiration")
    return Endpoint(
        name,
        str(raw.get("context", "from-sip")),
        str(raw.get("transport", "transport-udp")),
        str(raw.get("password", "")),
        contact,
        bool(raw.get("aor", True)),
        low,
        high,
    )
