"""The live channels of the calls the engine tracks, by Uniqueid and by name (actions name channels)."""

from __future__ import annotations


class ChannelIndex:
    def __init__(self) -> None:
        self._by_id: dict[str, tuple[str, str]] = {}  # Uniqueid -> (channel name, Linkedid)
        self._by_name: dict[str, str] = {}  # channel name -> Uniqueid

    def add(self, uniqueid: str, name: str, linkedid: str) -> None:
        self.remove(uniqueid)
        self._by_id[uniqueid] = (name, linkedid)
        self._by_name[name] = uniqueid

    def remove(self, uniqueid: str) -> None:
        entry = self._by_id.pop(uniqueid, None)
        if entry is not None and self._by_name.get(entry[0]) == uniqueid:
            del self._by_name[entry[0]]

    def rename(self, uniqueid: str, name: str) -> None:
        """``Rename`` (a masquerade, a Local channel optimised away): same Uniqueid, new name."""
        entry = self._by_id.get(uniqueid)
        if entry is not None and name:
            self.add(uniqueid, name, entry[1])

    def call_of(self, name: str) -> str | None:
        """The Linkedid of a live channel of a tracked call, by name."""
        entry = self._by_id.get(self._by_name.get(name, ""))
        return entry[1] if entry is not None else None

    def name_of(self, uniqueid: str) -> str | None:
        entry = self._by_id.get(uniqueid)
        return entry[0] if entry is not None else None

    def of_call(self, linkedid: str) -> list[str]:
        """Names of the call's live channels, its originated channel (Uniqueid = Linkedid) first."""
        found = sorted((uid != linkedid, name) for uid, (name, owner) in self._by_id.items() if owner == linkedid)
        return [name for _, name in found]

    def __len__(self) -> int:
        return len(self._by_id)
