"""The simulated world: number patterns, seeded behaviour, world files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx_sim.world import WorldError, call_rng, load_world, pattern_regex


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("_555XXXX", "5551234", "555123"),
        ("_[a-z5].", "busy", "9busy"),
        ("_X.7", "905321234567", "905321234568"),
        ("_+X.", "+905321234567", "905321234567"),
        ("_NXX!", "234", "134"),
        ("busy", "busy", "busyx"),
    ],
)
def test_asterisk_patterns(pattern: str, yes: str, no: str) -> None:
    regex = pattern_regex(pattern)
    assert regex.match(yes) and not regex.match(no)


def test_default_world_shows_every_outcome_and_is_repeatable() -> None:
    world = load_world()
    outcomes = {n: world.behaviour(n, call_rng(1, 1)) for n in ("5551234", "05321234567", "05321234568", "05321234569")}
    assert {n: b.outcome for n, b in outcomes.items() if b} == {
        "5551234": "answer",
        "05321234567": "busy",
        "05321234568": "no_answer",
        "05321234569": "congestion",
    }
    fixture = outcomes["5551234"]
    assert fixture is not None and (fixture.ring, fixture.talk, fixture.playback) == (2.0, 10.0, "custom/tone")
    draws = [world.behaviour("05321234560", call_rng(7, i)) for i in range(50)]
    assert draws == [world.behaviour("05321234560", call_rng(7, i)) for i in range(50)]
    assert len({d.ring for d in draws if d}) > 40  # really drawn, not fixed
    assert world.extension("fixture", "playtone") is not None


def test_default_world_is_a_call_center() -> None:
    world = load_world()
    assert [(q.name, q.strategy) for q in world.queues] == [("sales", "rrmemory"), ("support", "leastrecent")]
    members = {m.interface for q in world.queues for m in q.members}
    assert members == {f"Local/agent{i}@sim-agents/n" for i in range(1, 6)}
    for queue in ("sales", "support"):
        steps = [app for app, _ in world.extension("to-queue", queue).steps]  # type: ignore[union-attr]
        assert steps[:4] == ["NoOp", "Answer", "MixMonitor", "Queue"]
    rings = []
    for i in range(1, 6):
        phone = world.phone(f"agent{i}")
        assert phone is not None
        rings += [phone.behaviour(call_rng(3, n)).ring for n in range(20)]
    assert 1.0 <= min(rings) < 1.3 and 2.7 < max(rings) <= 3.0  # agents answer after 1-3 s
    assert world.inbound == ()  # nobody calls in unless a world asks for it


def test_queue_and_inbound_sections_are_checked(tmp_path: Path) -> None:
    bad = tmp_path / "world.toml"
    bad.write_text('[[queue]]\nname = "q"\nstrategy = "roundrobin"\n')
    with pytest.raises(WorldError, match=r"queue\[0\]\.strategy: 'roundrobin'"):
        load_world(bad)
    bad.write_text('[[queue]]\nname = "q"\nmembers = ["agent1"]\n')
    with pytest.raises(WorldError, match=r"queue\[0\]\.members\[0\]: interface 'agent1' is not Tech/resource"):
        load_world(bad)
    bad.write_text('[[inbound]]\nexten = "support"\nrate = "often"\n')
    with pytest.raises(WorldError, match=r"inbound\[0\]\.rate"):
        load_world(bad)
    bad.write_text('[[phone]]\nmatch = "_X."\nanswr = 1\n')
    with pytest.raises(WorldError, match=r"phone\[0\]: unknown keys \['answr'\]"):
        load_world(bad)
    good = tmp_path / "good.toml"
    good.write_text(
        '[[queue]]\nname = "q"\nmembers = [{interface = "PJSIP/agent1", penalty = 2, name = "One"}]\n'
        '[[inbound]]\nexten = "q"\nrate = 12\nnumber = "0212XXX"\n'
    )
    world = load_world(good)
    (member,) = world.queues[0].members
    assert (member.interface, member.penalty, member.name, member.state_interface) == (
        "PJSIP/agent1", 2, "One", "PJSIP/agent1"
    )  # fmt: skip
    assert world.inbound[0].context == "to-queue" and len(world.inbound[0].caller_number(call_rng(1, 1))) == 7


def test_world_file_errors_name_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "world.toml"
    bad.write_text('[[customer]]\nmatch = "_X."\nanswr = 1\n')
    with pytest.raises(WorldError, match=r"customer\[0\]: unknown keys \['answr'\]"):
        load_world(bad)
    bad.write_text('[[customer]]\nmatch = "_X."\nanswer = 1\nring = "soon"\n')
    with pytest.raises(WorldError, match=r"customer\[0\]\.ring"):
        load_world(bad)
    good = tmp_path / "good.toml"
    good.write_text(
        '[[customer]]\nmatch = "_X."\nbusy = 1\n[[dialplan]]\ncontext = "c"\nexten = "_X."\nsteps = ["Wait(1)"]\n'
    )
    world = load_world(good)
    behaviour = world.behaviour("123", call_rng(1, 1))
    assert behaviour is not None and behaviour.outcome == "busy"
    assert world.extension("c", "42") is not None
