"""Simulated PJSIP endpoints: their contacts, registrations, device state and channels (chan_pjsip, res_pjsip).

There is no SIP stack in the simulator. A phone "registers" when a test or the demo calls :meth:`Pjsip.register`
(and :meth:`Pjsip.unregister`), with what a REGISTER would carry (Expires, Contact URI, Call-ID, User-Agent,
source address); the simulator then does what Asterisk does on the AMI side, as in ami-pjsip-registration:

* every REGISTER of an endpoint with an auth is challenged first: ``ChallengeSent`` then ``SuccessfulAuth``
  (``SessionID`` = the Call-ID, ``UsingPassword: 1``);
* the first contact makes the endpoint reachable: ``PeerStatus`` (``Peer: PJSIP/agent1``, ``Reachable``),
  ``ContactStatus`` ``NonQualified`` (no OPTIONS pings: ``qualify_frequency`` 0) and ``DeviceStateChange``
  ``NOT_INUSE``; a refresh only moves the expiry;
* ``Expires: 0`` removes it, and so does expiry: contacts are checked every 30 s
  (``contact_expiration_check_interval``) from boot, so an unrefreshed 60 s registration goes 60-90 s later;
  both give ``Unreachable`` / ``Removed`` / ``UNAVAILABLE``.

An aor's static ``contact`` (``agent-sipp``, the trunk ``sipp-uas``) is reachable from boot. The device state
of ``PJSIP/<endpoint>`` is chan_pjsip's: ``UNAVAILABLE`` without any contact, otherwise the aggregate of the
endpoint's channels (ringing, in use) or ``NOT_INUSE``; every change is a ``DeviceStateChange`` and, for queue
members, a ``QueueMemberStatus`` (6 ringing, 2 in use, 1 not in use, 5 unavailable). A ``PJSIP/...`` device
the world does not declare keeps the plain in-use / not-in-use state of the other devices.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbx_sim.ami.protocol import Fields
from pbx_sim.core import events as ev
from pbx_sim.core.channels import Channel, State
from pbx_sim.world_pjsip import Endpoint

if TYPE_CHECKING:
    from pbx_sim.core.pbx import Pbx

# ast_device_state, as QueueMemberStatus says it; DeviceStateChange and PJSIPShowEndpoints name them.
NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, RINGING, RINGINUSE = 1, 2, 3, 4, 5, 6, 7
DEVICE_STATE = {1: "NOT_INUSE", 2: "INUSE", 3: "BUSY", 4: "INVALID", 5: "UNAVAILABLE", 6: "RINGING", 7: "RINGINUSE"}
DEVICE_TEXT = {1: "Not in use", 2: "In use", 3: "Busy", 4: "Invalid", 5: "Unavailable", 6: "Ringing", 7: "Ring+Inuse"}

LOCAL_ADDRESS = "IPV4/UDP/127.0.0.1/5060"  # transport-udp
CONTACT_EXPIRATION_CHECK = 30.0  # res_pjsip's contact_expiration_check_interval


class RegistrationError(ValueError):
    """A REGISTER Asterisk would refuse (404 no such aor, 423 Interval Too Brief)."""


@dataclass
class Contact:
    """A contact registered by an endpoint's phone (its aor has ``max_contacts = 1``, ``remove_existing``)."""

    aor: str
    uri: str
    call_id: str
    user_agent: str
    address: tuple[str, int]
    expires_at: float

    @property
    def object_name(self) -> str:
        """res_pjsip's contact id: the aor, ``;@`` and the MD5 of the URI."""
        return f"{self.aor};@{hashlib.md5(self.uri.encode(), usedforsecurity=False).hexdigest()}"


class Pjsip:
    """The endpoints of the world, their registered contacts and device states."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.endpoints = {e.name: e for e in pbx.world.endpoints}
        self.contacts: dict[str, Contact] = {}  # registered, by endpoint
        self._states = {name: self._compute(name) for name in self.endpoints}
        self._expiry: dict[str, asyncio.Task[None]] = {}

    # ------------------------------------------------------------ endpoints
    def endpoint(self, name: str) -> Endpoint | None:
        return self.endpoints.get(name)

    def contact_uris(self, name: str) -> list[str]:
        endpoint = self.endpoints.get(name)
        if endpoint is None or not endpoint.has_aor:
            return []
        registered = self.contacts.get(name)
        return [uri for uri in (endpoint.contact, registered.uri if registered else "") if uri]

    def reachable(self, name: str) -> bool:
        """Whether ``PJSIP/<name>`` can be called: a declared endpoint with a contact (static or registered)."""
        return bool(self.contact_uris(name))

    def channels_of(self, name: str) -> list[Channel]:
        prefix = f"PJSIP/{name}-"
        return [c for c in self.pbx.channels() if c.name.startswith(prefix)]

    # --------------------------------------------------------- registration
    def register(
        self,
        name: str,
        *,
        expires: int = 3600,
        uri: str = "",
        call_id: str = "",
        user_agent: str = "",
        address: tuple[str, int] = ("127.0.0.1", 5072),
    ) -> Contact | None:
        """The phone of endpoint ``name`` sends a REGISTER; ``expires=0`` unregisters. ``uri``: its Contact
        (default ``sip:<name>@<address>``); ``call_id``: kept across refreshes as phones do. Returns the contact
        (None after an unregister). Raises :class:`RegistrationError` where Asterisk answers 404 or 423."""
        endpoint = self.endpoints.get(name)
        if endpoint is None or not endpoint.has_aor:
            raise RegistrationError(f"404 Not Found: no aor {name!r}")
        if 0 < expires < endpoint.minimum_expiration:
            raise RegistrationError(f"423 Interval Too Brief: Min-Expires {endpoint.minimum_expiration}")
        old = self.contacts.get(name)
        call_id = call_id or (old.call_id if old else f"{name}-{self.pbx.new_uuid()}")
        self._authenticate(endpoint, call_id, address)
        if expires == 0:
            if old is not None:
                self._remove(name)
            return None
        now = self.pbx.clock.now()
        contact = Contact(
            name,
            uri or f"sip:{name}@{address[0]}:{address[1]}",
            call_id,
            user_agent,
            address,
            now + min(expires, endpoint.maximum_expiration),
        )
        was_reachable = self.reachable(name)
        self.contacts[name] = contact
        self._schedule_expiry(name, contact)
        if old is None or old.uri != contact.uri:
            if old is not None:
                self._contact_status(name, old.uri, "Removed")
            if not was_reachable:
                self._peer_status(name, "Reachable")
            self._contact_status(name, contact.uri, "NonQualified")
            self.refresh(name)
        return contact

    def restore(self, contacts: Iterable[Contact]) -> None:
        """Boot with the contacts registered before a restart that have not expired: res_pjsip keeps them in
        its database (``prune_on_boot = no``), so phones stay registered across an Asterisk restart."""
        now = self.pbx.clock.now()
        for contact in contacts:
            if contact.aor in self.endpoints and contact.expires_at > now:
                self.contacts[contact.aor] = contact
                self._schedule_expiry(contact.aor, contact)
                self.refresh(contact.aor)

    def unregister(self, name: str, *, address: tuple[str, int] = ("127.0.0.1", 5072)) -> None:
        """The phone sends ``REGISTER`` with ``Expires: 0``."""
        self.register(name, expires=0, address=address)

    def _authenticate(self, endpoint: Endpoint, call_id: str, address: tuple[str, int]) -> None:
        """The 401 challenge and the accepted retry: the security events of every REGISTER with an auth."""
        if not endpoint.auth:
            return
        remote = f"IPV4/UDP/{address[0]}/{address[1]}"
        for event, last in (("ChallengeSent", ("Challenge", "")), ("SuccessfulAuth", ("UsingPassword", "1"))):
            head: Fields = [("EventTV", ev.iso_tv(self.pbx.clock.now())), ("Severity", "Informational")]
            head += [("Service", "PJSIP"), ("EventVersion", "1"), ("AccountID", endpoint.auth)]
            self.pbx.emit(event, ev.SECURITY, [*head, ("SessionID", call_id), ("LocalAddress", LOCAL_ADDRESS),
                                               ("RemoteAddress", remote), last])  # fmt: skip

    def _schedule_expiry(self, name: str, contact: Contact) -> None:
        previous = self._expiry.pop(name, None)
        if previous is not None:
            previous.cancel()
        started = self.pbx.started
        checks = math.ceil((contact.expires_at - started) / CONTACT_EXPIRATION_CHECK)
        when = started + checks * CONTACT_EXPIRATION_CHECK
        self._expiry[name] = self.pbx.spawn(self._expire(name, contact, when), f"expiry of {contact.object_name}")

    async def _expire(self, name: str, contact: Contact, when: float) -> None:
        await self.pbx.clock.sleep(when - self.pbx.clock.now())
        if self.contacts.get(name) is contact:
            self._expiry.pop(name, None)
            self._remove(name)

    def _remove(self, name: str) -> None:
        contact = self.contacts.pop(name)
        task = self._expiry.pop(name, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        if not self.reachable(name):
            self._peer_status(name, "Unreachable")
        self._contact_status(name, contact.uri, "Removed")
        self.refresh(name)

    def _peer_status(self, name: str, status: str) -> None:
        self.pbx.emit(
            "PeerStatus", ev.SYSTEM, [("ChannelType", "PJSIP"), ("Peer", f"PJSIP/{name}"), ("PeerStatus", status)]
        )

    def _contact_status(self, name: str, uri: str, status: str) -> None:
        body = [("URI", uri), ("ContactStatus", status), ("AOR", name), ("EndpointName", name)]
        self.pbx.emit("ContactStatus", ev.SYSTEM, [*body, ("RoundtripUsec", "0")])

    # ---------------------------------------------------------- device state
    def state(self, name: str) -> int:
        """The device state of ``PJSIP/<name>``, a declared endpoint."""
        return self._states[name]

    def device_status(self, device: str) -> int | None:
        """The state of ``PJSIP/<endpoint>`` if the world declares that endpoint, else None."""
        tech, _, name = device.partition("/")
        if tech.upper() != "PJSIP" or name not in self.endpoints:
            return None
        return self._states[name]

    def _compute(self, name: str) -> int:
        """chan_pjsip_devicestate: the aggregate of the endpoint's channels, or whether it has a contact."""
        states = {RINGING if c.state in (State.RINGING, State.PRERING) else INUSE for c in self.channels_of(name)
                  if c.state != State.DOWN}  # fmt: skip
        if states == {RINGING, INUSE}:
            return RINGINUSE
        if states:
            return states.pop()
        return NOT_INUSE if self.reachable(name) else UNAVAILABLE

    def refresh(self, name: str) -> None:
        """Publish the endpoint's device state if it changed (DeviceStateChange, QueueMemberStatus)."""
        state = self._compute(name)
        if state == self._states.get(name):
            return
        self._states[name] = state
        device = f"PJSIP/{name}"
        self.pbx.emit("DeviceStateChange", ev.CALL, [("Device", device), ("State", DEVICE_STATE[state])])
        self.pbx.queues.device_status_changed(device, state)

    # -------------------------------------------------------------- channels
    def new_channel(self, endpoint: Endpoint, *, linkedid: str = "", uniqueid: str = "") -> Channel:
        """A channel to ``endpoint`` (not announced yet: the caller sends Newchannel with pbx.register)."""
        chan = self.pbx.table.pjsip(endpoint.name, endpoint.context, self.pbx.clock.now(), linkedid=linkedid,
                                    uniqueid=uniqueid)  # fmt: skip
        chan.on_hangup.append(lambda _chan: self.refresh(endpoint.name))
        return chan

    def set_state(self, chan: Channel, state: State) -> None:
        """``Newstate``, then (a PJSIP channel) its endpoint's device state."""
        self.pbx.new_state(chan, state)
        if chan.tech == "PJSIP":
            self.refresh(chan.name[len("PJSIP/") :].rsplit("-", 1)[0])  # PJSIP/<endpoint>-<counter>
