"""Drive the call machine from the real Asterisk captures of ``shared/fixtures/asterisk``.

A deliberately small stand-in for the AMI engine (which is not part of this package): it shows which AMI facts
become which :mod:`dialer.state.call` commands, and lets the tests check that the machine reaches the right outcome
on the exact event order Asterisk produced, disorder and repeats included.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from callcenter.bus.events import Event
from dialer.state import call as c
from dialer.state import call_commands as cc
from dialer.state.causes import Party

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "asterisk"
_HEADER = re.compile(r"^(>>>|<<<|###) t=\+(\d+\.\d+)(?: (.*))?$")
_AGENT = re.compile(r"agent(\d+)")


def messages(name: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(direction, headers) of every AMI message of a capture, in wire order (the README's parser)."""
    blocks: list[tuple[str, list[str]]] = []
    for line in (FIXTURES / name).read_text(encoding="utf-8").split("\n"):
        match = _HEADER.match(line)
        if match:
            blocks.append((match.group(1), []))
        elif blocks:
            blocks[-1][1].append(line)
    for direction, lines in blocks:
        if direction == "###":
            continue
        for text in "\n".join(lines).split("\n\n"):
            headers = dict(line.split(": ", 1) for line in text.split("\n") if ": " in line)
            if headers:
                yield direction, headers


@dataclasses.dataclass
class Replay:
    calls: dict[str, c.Call] = dataclasses.field(default_factory=dict)
    events: list[Event] = dataclasses.field(default_factory=list)
    refused: list[Exception] = dataclasses.field(default_factory=list)
    by_action: dict[str, str] = dataclasses.field(default_factory=dict)
    waiting: list[str] = dataclasses.field(default_factory=list)  # ActionIDs of Originates without ChannelId

    def run(self, name: str) -> Replay:
        for direction, msg in messages(name):
            if direction == ">>>":
                self._sent(msg)
            else:
                self._received(msg)
        return self

    def _now(self, msg: dict[str, str]) -> datetime:
        return datetime.fromtimestamp(float(msg.get("Timestamp", "0")), UTC)

    def _do(self, command: cc.CallCommand, now: datetime) -> None:
        call = self.calls.get(command.linkedid)
        try:
            call, events = c.handle(call, command, now)
        except (c.IllegalCallTransitionError, c.UnknownCallError) as error:
            self.refused.append(error)
            return
        self.calls[command.linkedid] = call
        self.events.extend(events)

    def _sent(self, msg: dict[str, str]) -> None:
        if msg.get("Action") != "Originate":
            return
        action = msg["ActionID"]
        if "ChannelId" in msg:  # the dialer names the call before Asterisk says anything
            self.by_action[action] = msg["ChannelId"]
            self._do(cc.Dial(msg["ChannelId"], msg["Channel"], action), datetime.fromtimestamp(0, UTC))
        else:  # the call is only known from its first Newchannel; a failure names no Uniqueid at all
            self.waiting.append(action)

    def _received(self, msg: dict[str, str]) -> None:
        event, now = msg.get("Event"), self._now(msg)
        linkedid = msg.get("Linkedid", "")
        if event == "Newchannel":
            if linkedid not in self.calls and msg["Uniqueid"] == linkedid:
                action = self.waiting.pop(0) if self.waiting else None
                if action is not None:
                    self.by_action[action] = linkedid
                self._do(cc.Dial(linkedid, msg["Exten"], action), now)
            if linkedid in self.calls:
                self._do(cc.AddChannel(linkedid, msg["Uniqueid"]), now)
        elif event == "DialState" and msg.get("DialStatus") == "RINGING" and linkedid in self.calls:
            self._do(cc.Ring(linkedid), now)
        elif event == "OriginateResponse":
            if msg["Response"] == "Success" and msg["Uniqueid"] in self.calls:
                self._do(cc.Answer(msg["Uniqueid"]), now)
            elif msg["ActionID"] in self.by_action:
                target = self.by_action[msg["ActionID"]]
                if msg["Response"] == "Success":
                    self._do(cc.Answer(target), now)
                else:
                    self._do(cc.OriginateFailed(target, int(msg["Reason"]), msg["ActionID"]), now)
        elif event == "AgentConnect" and linkedid in self.calls:
            agent = _AGENT.search(msg.get("MemberName", "")) or _AGENT.search(msg.get("Interface", ""))
            assert agent is not None
            self._do(cc.ConnectAgent(linkedid, int(agent.group(1))), now)
        elif event == "Hold" and linkedid in self.calls:
            self._do(cc.Hold(linkedid), now)
        elif event == "Unhold" and linkedid in self.calls:
            self._do(cc.Resume(linkedid), now)
        elif event in ("AttendedTransfer", "BlindTransfer"):
            origin = msg.get("OrigTransfererLinkedid") or msg.get("TransfererLinkedid", "")
            if origin in self.calls:
                self._do(cc.Transfer(origin, msg.get("TransferTargetChannel") or event), now)
        elif event == "Hangup" and linkedid in self.calls:
            channel = msg["Channel"]
            party = Party.AGENT if "agent" in channel else Party.CUSTOMER if "@sim-" in channel else Party.SYSTEM
            self._do(cc.HangupChannel(linkedid, msg["Uniqueid"], int(msg["Cause"]), msg["Cause-txt"], party), now)
