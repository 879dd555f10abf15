"""Calling rules, disposition fates and pacing: pure rules a supervisor relies on."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from dialer.agents.directory import AgentDirectory, extension_of
from dialer.campaigns.model import (
    DEFAULT_DISPOSITIONS,
    CallingRules,
    Disposition,
    DispositionAction,
    Outcome,
    RecordFate,
    by_outcome,
    fate,
    outcome_of_failure,
    pacing,
)
from dialer.pools.model import RecordStatus
from dialer.state.causes import FailureReason

RULES = CallingRules(call_days=frozenset({1, 2, 3, 4, 5}), call_from=time(9), call_until=time(18))


def istanbul(day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC time given as Istanbul local time (UTC+3) on 2026-11-<day>; the 23rd is a Monday."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=3)


def test_calling_hours_are_local_to_the_campaign() -> None:
    assert RULES.may_call_at(istanbul(23, 9))
    assert not RULES.may_call_at(istanbul(23, 8, 59))
    assert not RULES.may_call_at(istanbul(23, 18))
    assert not RULES.may_call_at(istanbul(28, 12))  # Saturday


def test_next_opening_skips_the_night_and_the_weekend() -> None:
    assert RULES.next_opening(istanbul(23, 12)) == istanbul(23, 12)
    assert RULES.next_opening(istanbul(23, 19)) == istanbul(24, 9)
    assert RULES.next_opening(istanbul(27, 18, 30)) == istanbul(30, 9)  # Friday evening -> Monday


def test_attempts_per_day_count_from_local_midnight() -> None:
    assert RULES.day_start(istanbul(23, 1)) == istanbul(23, 0)


def test_rules_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="call_from"):
        CallingRules(call_from=time(18), call_until=time(9))
    with pytest.raises(ValueError, match="weekdays"):
        CallingRules(call_days=frozenset({8}))


def test_retry_until_the_last_attempt_then_final() -> None:
    now = istanbul(23, 10)
    busy = Disposition("busy", "Meşgul", DispositionAction.RETRY, 15, 3)
    assert fate(busy, 1, now) == RecordFate(RecordStatus.ASSIGNED, now + timedelta(minutes=15))
    assert fate(busy, 3, now).status is RecordStatus.DONE
    later = now + timedelta(days=1)
    assert fate(Disposition("cb", "CB", DispositionAction.CALLBACK), 1, now, later).next_attempt_at == later
    assert fate(Disposition("wrong", "Yanlış", DispositionAction.ARCHIVE), 1, now).status is RecordStatus.ARCHIVED
    assert fate(Disposition("sale", "Satış", DispositionAction.FINAL), 1, now).status is RecordStatus.DONE


def test_every_failure_has_a_default_disposition() -> None:
    for reason in FailureReason:
        assert by_outcome(DEFAULT_DISPOSITIONS, outcome_of_failure(reason)) is not None
    assert by_outcome(DEFAULT_DISPOSITIONS, Outcome.ABANDONED) is not None


def test_pacing_is_one_call_per_ready_agent_within_limits() -> None:
    rules = CallingRules(max_lines=5, calls_per_second=3)
    assert pacing(ready_agents=2, lines_busy=0, rules=rules, dialed_last_second=0, may_call=True) == 2
    assert pacing(ready_agents=9, lines_busy=0, rules=rules, dialed_last_second=0, may_call=True) == 3
    assert pacing(ready_agents=9, lines_busy=4, rules=rules, dialed_last_second=0, may_call=True) == 1
    assert pacing(ready_agents=9, lines_busy=0, rules=rules, dialed_last_second=3, may_call=True) == 0
    assert pacing(ready_agents=0, lines_busy=0, rules=rules, dialed_last_second=0, may_call=True) == 0
    assert pacing(ready_agents=4, lines_busy=0, rules=rules, dialed_last_second=0, may_call=False) == 0


@pytest.mark.parametrize(
    ("name", "extension"),
    [
        ("Local/agent1@sim-agents/n", "agent1"),
        ("Local/agent1@sim-agents-0000000a;1", "agent1"),
        ("PJSIP/agent1", "agent1"),
        ("PJSIP/agent1-00000003", "agent1"),
        ("PJSIP/agent-sipp-00000000", "agent-sipp"),
        ("Agent1", "agent1"),
        ("Agent One", None),
    ],
)
def test_an_agents_phone_in_every_shape_ami_names_it(name: str, extension: str | None) -> None:
    assert extension_of(name) == extension
    directory = AgentDirectory({"agent1": 7})
    assert directory.lookup(name) == (7 if extension == "agent1" else None)
