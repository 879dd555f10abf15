"""The AMI engine: the only code that talks to Asterisk's Manager Interface (and the only importer of panoramisk).

* :mod:`dialer.ami.wire` — one TCP connection through panoramisk, with its quirks worked around (the only
  module that imports it);
* :mod:`dialer.ami.connection` — :class:`AmiConnection`: login, keep-alive, reconnect with backoff, actions with
  timeouts, one bounded event queue read by one consumer task;
* :mod:`dialer.ami.message` — :class:`AmiMessage` (ordered headers), list/session types and the typed errors;
* :mod:`dialer.ami.translate` — pure: AMI messages to the commands of the call and agent state machines;
* :mod:`dialer.ami.resync` — pure: what CoreShowChannels says about the calls we track;
* :mod:`dialer.ami.offers`, :mod:`dialer.ami.channels`, :mod:`dialer.ami.queues` — the engine's bookkeeping of
  agent offers, live channel names, and queue members;
* :mod:`dialer.ami.engine` — :class:`AmiEngine`: live calls by Linkedid, events on the bus, Originate & co.

Composition root::

    connection = AmiConnection(settings.ami, metrics)
    engine = AmiEngine(connection, bus, metrics, agents=agent_state_service)
    await engine.start()          # returns at once; connects, resyncs and reconnects in the background
    ...
    await engine.close()
"""

from dialer.ami.connection import AmiConnection, AmiHandler
from dialer.ami.engine import AgentCommandSink, AmiEngine
from dialer.ami.message import (
    AmiActionError,
    AmiAuthenticationError,
    AmiConnectionLostError,
    AmiError,
    AmiList,
    AmiMessage,
    AmiNotConnectedError,
    AmiTimeoutError,
    Connected,
    Disconnected,
)
from dialer.ami.queues import QueueMembers
from dialer.ami.resync import LOST_CAUSE_TEXT
from dialer.ami.translate import ChannelRoles, QueueMember

__all__ = [
    "LOST_CAUSE_TEXT",
    "AgentCommandSink",
    "AmiActionError",
    "AmiAuthenticationError",
    "AmiConnection",
    "AmiConnectionLostError",
    "AmiEngine",
    "AmiError",
    "AmiHandler",
    "AmiList",
    "AmiMessage",
    "AmiNotConnectedError",
    "AmiTimeoutError",
    "ChannelRoles",
    "Connected",
    "Disconnected",
    "QueueMember",
    "QueueMembers",
]
