"""Which user an agent's phone belongs to: the ``extension`` an administrator sets per agent.

AMI names an agent's phone in many shapes: a queue member interface (``Local/agent1@sim-agents/n``,
``PJSIP/agent1``), a channel (``Local/agent1@sim-agents-0000000a;1``, ``PJSIP/agent1-00000003``), a member name.
:func:`extension_of` reduces each to the extension (``agent1``); :class:`AgentDirectory` maps it to the user. The
map is read from the database at start and refreshed on a timer, so the lookup the AMI reader calls on every
agent event is a dictionary lookup with no I/O.
"""

from __future__ import annotations

import re

from callcenter.db.database import Connection

_LOCAL = re.compile(r"^Local/(?P<ext>[^@/;]+)@")
_TECH = re.compile(r"^(?:PJSIP|SIP|IAX2)/(?P<ext>[^/;@-]+(?:-[^/;@-]+)*?)(?:-[0-9a-f]{8})?(?:;\d)?$")


def extension_of(name: str) -> str | None:
    """The extension a channel name, member interface or bare extension stands for (lower case)."""
    name = name.strip()
    if not name:
        return None
    for pattern in (_LOCAL, _TECH):
        match = pattern.match(name)
        if match:
            return match.group("ext").lower()
    if "/" in name or " " in name:
        return None
    return name.lower()


class AgentDirectory:
    def __init__(self, extensions: dict[str, int] | None = None) -> None:
        self._by_extension: dict[str, int] = dict(extensions or {})

    async def load(self, conn: Connection) -> None:
        rows = await conn.fetch("SELECT id, lower(extension) AS ext FROM users WHERE extension IS NOT NULL AND active")
        self._by_extension = {r["ext"]: r["id"] for r in rows}

    def lookup(self, name: str) -> int | None:
        """The user whose phone ``name`` is, or None."""
        ext = extension_of(name)
        return self._by_extension.get(ext) if ext else None

    def extension(self, user_id: int) -> str | None:
        return next((ext for ext, uid in self._by_extension.items() if uid == user_id), None)
