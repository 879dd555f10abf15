"""AMI actions of res_pjsip: PJSIPShowEndpoints and PJSIPShowContacts, as in ami-pjsip-registration.

Both are list actions without ``Privilege``/``Timestamp`` on their events. Endpoints are listed by name, each
with its aor's contacts as ``<aor>/<uri>,`` (no ``Contacts`` field at all for an endpoint without aor) and its
device state in words. Contacts are only the registered ones (an aor's static ``contact =`` is not a contact
object that PJSIPShowContacts lists); with none, the answer is ``Response: Error`` / ``No Contacts found``
without an event list. The field order of ContactList is Asterisk's (its sorcery fields, unsorted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pbx_sim.ami.protocol import Fields, Message
from pbx_sim.core.pjsip import DEVICE_TEXT

if TYPE_CHECKING:
    from pbx_sim.ami.server import AmiSession


def _head(msg: Message, event: str) -> Fields:
    return [("Event", event), *([("ActionID", msg.action_id)] if msg.action_id else [])]


def _complete(msg: Message, event: str, count: int) -> Fields:
    return [*_head(msg, event), ("EventList", "Complete"), ("ListItems", str(count))]


async def action_pjsipshowendpoints(s: AmiSession, msg: Message) -> bool:
    pjsip = s.pbx.pjsip
    if not pjsip.endpoints:
        s.error(msg, "No endpoints found")
        return True
    s.list_ack(msg, "A listing of Endpoints follows, presented as EndpointList events")
    names = sorted(pjsip.endpoints)
    for name in names:
        endpoint = pjsip.endpoints[name]
        contacts = "".join(f"{endpoint.aor}/{uri}," for uri in pjsip.contact_uris(name))
        s.send_fields(
            [
                *_head(msg, "EndpointList"),
                ("ObjectType", "endpoint"),
                ("ObjectName", name),
                ("Transport", endpoint.transport),
                ("Aor", endpoint.aor),
                ("Auths", endpoint.auth),
                ("OutboundAuths", ""),
                *([("Contacts", contacts)] if endpoint.has_aor else []),
                ("DeviceState", DEVICE_TEXT[pjsip.state(name)]),
                ("ActiveChannels", str(len(pjsip.channels_of(name)))),
            ]
        )
    s.send_fields(_complete(msg, "EndpointListComplete", len(names)))
    return True


async def action_pjsipshowcontacts(s: AmiSession, msg: Message) -> bool:
    contacts = [s.pbx.pjsip.contacts[name] for name in sorted(s.pbx.pjsip.contacts)]
    if not contacts:
        s.error(msg, "No Contacts found")
        return True
    s.list_ack(msg, "A listing of Contacts follows, presented as ContactList events")
    for contact in contacts:
        s.send_fields(
            [
                *_head(msg, "ContactList"),
                ("ObjectType", "contact"),
                ("ObjectName", contact.object_name),
                ("ViaAddr", contact.address[0]),
                ("QualifyTimeout", "3.000000"),
                ("Qualify2xxOnly", "false"),
                ("CallId", contact.call_id),
                ("RegServer", ""),
                ("PruneOnBoot", "no"),
                ("Path", ""),
                ("Endpoint", contact.aor),
                ("ViaPort", str(contact.address[1])),
                ("AuthenticateQualify", "no"),
                ("Uri", contact.uri),
                ("QualifyFrequency", "0"),
                ("UserAgent", contact.user_agent),
                ("ExpirationTime", str(int(contact.expires_at))),
                ("OutboundProxy", ""),
                ("Status", "NonQualified"),
                ("RoundtripUsec", "N/A"),
            ]
        )
    s.send_fields(_complete(msg, "ContactListComplete", len(contacts)))
    return True
