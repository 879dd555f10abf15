"""Events as JSON: round trip, unknown types, and upcasting data written by an older version."""

from __future__ import annotations

import dataclasses
import enum
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import pytest

from callcenter.bus import Envelope
from callcenter.bus.events import Event, UnknownEventError, event_from_dict, event_types


class EventsTestPriority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class EventsTestChannel(enum.StrEnum):
    VOICE = "voice"
    SMS = "sms"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EventsTestLeadAssigned(Event):
    STREAM = "events-test-leads"
    lead_id: uuid.UUID
    due: date
    callback_at: datetime | None = None
    priority: EventsTestPriority = EventsTestPriority.LOW
    channel: EventsTestChannel = EventsTestChannel.VOICE
    attempts: int = 0
    score: float = 0.0
    tags: tuple[str, ...] = ()
    pair: tuple[int, str] = (0, "")
    extra: dict[str, int] = dataclasses.field(default_factory=dict)
    vip: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class EventsTestAgentRenamed(Event):
    """Version 1 had one ``name`` field; version 2 splits it."""

    STREAM = "events-test-agents"
    VERSION: ClassVar[int] = 2
    agent_id: str
    first_name: str
    last_name: str

    @classmethod
    def upcast(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
        if version == 1:
            first, _, last = data.pop("name").partition(" ")
            data |= {"first_name": first, "last_name": last}
            version = 2
        return super().upcast(version, data)


def full_event() -> EventsTestLeadAssigned:
    return EventsTestLeadAssigned(
        lead_id=uuid.uuid4(),
        due=date(2024, 12, 31),
        callback_at=datetime(2025, 1, 2, 9, 30, tzinfo=UTC),
        priority=EventsTestPriority.HIGH,
        channel=EventsTestChannel.SMS,
        attempts=2,
        score=0.75,
        tags=("hot", "de"),
        pair=(3, "three"),
        extra={"campaign": 7},
        vip=True,
    )


def test_round_trip_through_json_keeps_types_and_values() -> None:
    event = full_event()
    payload = json.loads(json.dumps(event.to_dict()))
    back = event_from_dict(payload)
    assert back == event
    assert type(back) is EventsTestLeadAssigned
    assert back.priority is EventsTestPriority.HIGH
    assert back.channel is EventsTestChannel.SMS
    assert back.pair == (3, "three")


def test_to_dict_holds_plain_json_values_only() -> None:
    data = full_event().to_dict()["data"]
    # IntEnum and StrEnum members are ints and strs too, but must be written as their plain values.
    assert type(data["priority"]) is int
    assert type(data["channel"]) is str
    assert data["callback_at"] == "2025-01-02T09:30:00+00:00"
    assert isinstance(data["lead_id"], str)


def test_optional_fields_and_defaults() -> None:
    event = EventsTestLeadAssigned(lead_id=uuid.uuid4(), due=date(2024, 1, 1))
    back = event_from_dict(json.loads(json.dumps(event.to_dict())))
    assert back == event
    assert isinstance(back, EventsTestLeadAssigned)
    assert back.callback_at is None


def test_envelope_round_trip() -> None:
    envelope = Envelope(stream=EventsTestLeadAssigned.STREAM, seq=42, event=full_event())
    assert Envelope.from_dict(json.loads(json.dumps(envelope.to_dict()))) == envelope


def test_unknown_event_type_is_an_error() -> None:
    with pytest.raises(UnknownEventError, match="NoSuchThingHappened"):
        event_from_dict({"type": "NoSuchThingHappened", "version": 1, "data": {}})


def test_wrong_value_types_are_rejected() -> None:
    payload = full_event().to_dict()
    payload["data"]["attempts"] = True  # a bool is not an int
    with pytest.raises(TypeError):
        event_from_dict(payload)
    payload["data"]["attempts"] = "2"
    with pytest.raises(TypeError):
        event_from_dict(payload)


def test_older_version_is_upcast() -> None:
    old = {"type": "EventsTestAgentRenamed", "version": 1, "data": {"agent_id": "a1", "name": "Ada Lovelace"}}
    event = event_from_dict(old)
    assert event == EventsTestAgentRenamed(
        agent_id="a1", first_name="Ada", last_name="Lovelace", occurred_at=event.occurred_at
    )
    current = EventsTestAgentRenamed(agent_id="a2", first_name="Grace", last_name="Hopper")
    assert current.to_dict()["version"] == 2
    assert event_from_dict(current.to_dict()) == current


def test_version_without_upcast_is_an_error() -> None:
    future = {"type": "EventsTestAgentRenamed", "version": 3, "data": {"agent_id": "a1"}}
    with pytest.raises(ValueError, match="no upcast from version 3"):
        event_from_dict(future)


def test_event_classes_must_name_a_stream_and_a_unique_name() -> None:
    with pytest.raises(TypeError, match="must set STREAM"):

        class EventsTestStreamless(Event):
            pass

    with pytest.raises(TypeError, match="already used"):
        type("EventsTestLeadAssigned", (Event,), {"STREAM": "x", "__module__": "somewhere.else"})
    assert event_types()["EventsTestLeadAssigned"] is EventsTestLeadAssigned
