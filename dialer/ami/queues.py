"""Queue members and their pause states as Asterisk sees them: read by QueueStatus on every (re)connect and kept
current by the ``QueueMember*`` events in between.

A PBX without app_queue (and today's pbx_sim) answers QueueStatus with ``Response: Error``: that is noted
(``available`` False, logged once) and the resync goes on without queue state.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from dialer.ami.connection import AmiConnection
from dialer.ami.message import AmiActionError, AmiMessage, AmiTimeoutError
from dialer.ami.translate import QueueMember, queue_member

log = structlog.get_logger(__name__)


class QueueMembers:
    def __init__(self) -> None:
        self._members: dict[tuple[str, str], QueueMember] = {}
        self.available: bool | None = None  # None until the first QueueStatus was answered

    @property
    def members(self) -> Mapping[tuple[str, str], QueueMember]:
        """(queue, interface) -> member (a copy)."""
        return dict(self._members)

    def on_event(self, message: AmiMessage) -> None:
        """A ``QueueMemberStatus`` / ``Pause`` / ``Added`` / ``Removed`` event."""
        member = queue_member(message)
        if member is None:
            return
        if message.event == "QueueMemberRemoved":
            self._members.pop((member.queue, member.interface), None)
        else:
            self._members[(member.queue, member.interface)] = member

    async def refresh(self, connection: AmiConnection, timeout: float) -> None:  # noqa: ASYNC109 - the list's bound
        try:
            listing = await connection.list_action("QueueStatus", timeout=timeout)
        except AmiActionError as error:
            if self.available is not False:
                log.warning("ami_queue_status_unavailable", message=error.message)
            self.available = False
            return
        except AmiTimeoutError:
            log.warning("ami_queue_status_timeout", kept=len(self._members))
            return
        members = (queue_member(item) for item in listing.items if item.event == "QueueMember")
        self._members = {(m.queue, m.interface): m for m in members if m is not None}
        self.available = True
