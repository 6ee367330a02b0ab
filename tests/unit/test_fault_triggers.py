"""Faults aimed at protocol windows: triggers and the new kinds, as data (parse, JSON, story)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.faults import (
    DEFAULT_KINDS,
    DRAWS,
    FAULTS,
    TRIGGER_EVENTS,
    Crash,
    Delay,
    FaultError,
    LostReply,
    Pause,
    RedisRestart,
    SlowStorage,
    Trigger,
    describe,
    fault_from_dict,
    fault_to_dict,
    kind,
    kind_of,
    parse_fault,
    parse_trigger,
    scaled,
    swarm_fault,
)
from models.history import EVENT_FS
from models.scenario import Scenario
from sim.search.strategies import fault as fault_strategy

TRIGGERED = {
    "crash:0@cmd=2": Crash(0.0, None, trigger=Trigger("cmd", n=2)),
    "crash:10:500:app2@release": Crash(10.0, 500.0, "app2", trigger=Trigger("release")),
    "pause:0:3000@lease=0.1": Pause(0.0, 3000.0, trigger=Trigger("lease", fraction=0.1)),
    "pause:5:800@write": Pause(5.0, 800.0, trigger=Trigger("write")),
    "delay:0:2000:1500@renewal": Delay(0.0, 2000.0, 1500.0, trigger=Trigger("renewal")),
    "lost-reply:10": LostReply(10.0),
    "lost-reply:10:app1@cmd=3": LostReply(10.0, "app1", trigger=Trigger("cmd", n=3)),
    "slow-storage:0:5000:1000": SlowStorage(0.0, 5000.0, 1000.0),
    "slow-storage:0:5000:1000:storage": SlowStorage(0.0, 5000.0, 1000.0, "storage"),
    "slow-storage:0:5000:1000@write": SlowStorage(0.0, 5000.0, 1000.0, trigger=Trigger("write")),
    "redis-restart:100": RedisRestart(100.0),
    "redis-restart:100:400": RedisRestart(100.0, 400.0),
}


@pytest.mark.parametrize("spec", sorted(TRIGGERED))
def test_specs_read_round_trip_and_tell_their_trigger(spec: str) -> None:
    fault = parse_fault(spec)
    assert fault == TRIGGERED[spec]
    data = json.loads(json.dumps(fault_to_dict(fault)))
    assert fault_from_dict(data) == fault
    assert Scenario.from_dict(Scenario(faults=(fault,)).to_dict()).faults == (fault,)
    story = describe(fault)
    trigger = getattr(fault, "trigger", None)
    if trigger is not None:
        assert data["trigger"] == str(trigger) and f"@{trigger}" in story
        assert trigger.tell() in story
    else:
        assert "trigger" not in data and "@" not in story


def test_trigger_words() -> None:
    assert parse_trigger("cmd=2").tell() == "right after its 2nd Redis command"
    assert parse_trigger("cmd=11").tell() == "right after its 11th Redis command"
    assert parse_trigger("lease=0.25").tell() == "when its lease has 25% left"
    assert {str(parse_trigger(e)) for e in ("renewal", "release", "write")} == \
        {"renewal", "release", "write"}


def test_old_json_without_a_trigger_still_loads_and_keeps_its_shape() -> None:
    old = {"kind": "gc-pause", "at_ms": 3000.0, "duration_ms": 6000.0, "node": "holder"}
    fault = fault_from_dict(old)
    assert fault == Pause(3000.0, 6000.0)
    assert fault_to_dict(fault) == {**old, "kind": "pause"}  # no "trigger": null added
    crash = {"kind": "crash", "at_ms": 1.0, "restart_after_ms": None, "node": "app1"}
    assert fault_to_dict(fault_from_dict(crash)) == crash


@pytest.mark.parametrize("spec", [
    "crash:0@cmd=0", "crash:0@cmd=x", "crash:0@lease=0", "crash:0@lease=1.5", "crash:0@nap",
    "crash:0@", "clock:0:100@cmd=1", "redis-restart:0@cmd=1", "delay:0:1:1@write",
    "lost-reply:0@write", "crash:0:redis@cmd=1", "lost-reply:0:redis", "redis-restart:0:app1",
    "slow-storage:0:1:1:redis", "lost-reply:0:1", "slow-storage:0:1", "pause:0:1:storage",
])
def test_bad_triggers_and_targets_are_one_line_fault_errors(spec: str) -> None:
    with pytest.raises(FaultError) as exc:
        parse_fault(spec)
    assert "\n" not in str(exc.value) and spec in str(exc.value)


@pytest.mark.parametrize("data", [
    {"kind": "crash", "at_ms": 0.0, "trigger": "cmd=0"},
    {"kind": "crash", "at_ms": 0.0, "trigger": 3},
    {"kind": "clock", "at_ms": 0.0, "offset_ms": 1.0, "trigger": "cmd=1"},
    {"kind": "lost-reply", "at_ms": 0.0, "node": "redis"},
    {"kind": "redis-restart", "at_ms": 0.0, "down_ms": -1.0},
])
def test_bad_json_is_one_line_fault_errors(data: dict) -> None:
    with pytest.raises(FaultError) as exc:
        fault_from_dict(data)
    assert "\n" not in str(exc.value)


def test_every_kind_allows_only_its_triggers() -> None:
    assert set(FAULTS["crash"].triggers) == set(TRIGGER_EVENTS)
    assert "write" not in FAULTS["delay"].triggers  # storage traffic is not on the network
    assert FAULTS["clock"].triggers == () and FAULTS["redis-restart"].triggers == ()
    for name, k in FAULTS.items():
        for event in TRIGGER_EVENTS:
            trigger = parse_trigger({"cmd": "cmd=1", "lease": "lease=0.5"}.get(event, event))
            base = swarm_fault(name, random.Random(3), "app1")
            try:
                made = fault_from_dict({**fault_to_dict(base), "trigger": str(trigger)})
            except FaultError:
                assert event not in k.triggers
            else:
                assert event in k.triggers and made.trigger == trigger  # type: ignore[union-attr]


def test_new_kinds_draw_round_trip_and_record_known_events() -> None:
    rng = random.Random(11)
    for name in ("lost-reply", "slow-storage", "redis-restart", "aimed", "redis"):
        for _ in range(50):
            f = swarm_fault(name, rng, rng.choice(("holder", "app1", "app2")))
            assert fault_from_dict(fault_to_dict(f)) == f and describe(f)
            assert set(kind_of(f).events) <= EVENT_FS
            if isinstance(f, SlowStorage):
                assert 50.0 <= f.extra_ms <= 2000.0
            if isinstance(f, RedisRestart):
                assert f.node == "redis"
            if name == "redis":
                assert f.node == "redis" and f.kind in ("redis-restart", "pause", "partition",
                                                        "delay")
            if name == "aimed":
                assert f.trigger is not None and f.node != "redis"  # type: ignore[union-attr]
                assert f.trigger.event in kind_of(f).triggers  # type: ignore[union-attr]


def test_the_redis_draw_reaches_every_redis_fault() -> None:
    rng = random.Random(8)
    assert {swarm_fault("redis", rng, "app1").kind for _ in range(100)} == \
        {"redis-restart", "pause", "partition", "delay"}


def test_aimed_draws_reach_every_aimable_kind_and_event() -> None:
    rng = random.Random(5)
    drawn = [swarm_fault("aimed", rng, "holder") for _ in range(600)]
    assert {f.kind for f in drawn} == {"crash", "pause", "delay", "partition", "lost-reply",
                                       "slow-storage"}
    assert {f.trigger.event for f in drawn} == set(TRIGGER_EVENTS)  # type: ignore[union-attr]


def test_check_defaults_to_every_kind_and_the_aimed_draw() -> None:
    # every kind but those that need replicas and those added later (asked for by
    # name, so the default swarms' schedule ids stay as they were)
    ha = {"failover", "lag"}
    assert {k for k in FAULTS if FAULTS[k].ha} == ha
    assert {k for k in FAULTS if not FAULTS[k].default} == {"reconnect"}
    assert set(DEFAULT_KINDS) == (set(FAULTS) - ha - {"reconnect"}) | set(DRAWS)
    assert kind("aimed") is DRAWS["aimed"] and kind("redis") is DRAWS["redis"]
    for name in DRAWS:  # a draw, not a value: no JSON kind of that name
        with pytest.raises(FaultError):
            fault_from_dict({"kind": name, "at_ms": 0.0})


def test_scaling_keeps_the_trigger_and_stretches_new_durations() -> None:
    f = parse_fault("pause:10:100@lease=0.2")
    assert scaled(f, 2.0) == Pause(20.0, 200.0, trigger=Trigger("lease", fraction=0.2))
    assert scaled(RedisRestart(10.0, 50.0), 2.0) == RedisRestart(20.0, 100.0)
    assert scaled(SlowStorage(1.0, 10.0, 300.0), 2.0) == SlowStorage(2.0, 20.0, 300.0)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_hypothesis_strategies_draw_valid_new_kinds(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(("lost-reply", "slow-storage", "redis-restart", "aimed",
                                      "redis")))
    f = data.draw(fault_strategy(name, anchors=(0.0, 500.0)))
    assert fault_from_dict(fault_to_dict(f)) == f
    if name == "redis":
        assert f.node == "redis"
    elif name == "aimed":
        assert f.trigger is not None  # type: ignore[union-attr]
    else:
        assert f.kind == name


def test_a_fault_rebuilt_from_asdict_keeps_its_trigger() -> None:
    """The shrinker halves a duration with ``type(f)(**asdict(f))``: the trigger survives."""
    from dataclasses import asdict

    f = parse_fault("pause:0:1000@write")
    half = type(f)(**{**asdict(f), "duration_ms": 500.0})
    assert half == Pause(0.0, 500.0, trigger=Trigger("write"))
    assert Crash(0.0, trigger="cmd=2") == parse_fault("crash:0:1000@cmd=2")  # type: ignore[arg-type]


@pytest.mark.parametrize("trigger", [Trigger("cmd", n=0), Trigger("lease", fraction=3.0),
                                     Trigger("nap"), Trigger("renewal", n=3)])
def test_a_trigger_built_by_hand_is_validated_like_its_text(trigger: Trigger) -> None:
    from models.faults import validate

    with pytest.raises(FaultError) as exc:
        validate(Crash(0.0, trigger=trigger))
    assert str(exc.value).startswith("crash fault: ")
