"""The fault registry: one declaration per kind, read the same by every consumer."""

from __future__ import annotations

import random

import pytest

from models.faults import (
    FAULTS,
    Clock,
    Crash,
    FaultError,
    Pause,
    describe,
    fault_from_dict,
    fault_to_dict,
    kind,
    parse_fault,
    scaled,
    swarm_fault,
)
from models.history import EVENT_FS
from sim.cli.main import parse_fault as cli_parse_fault

README_SPECS = [
    "pause:3000:6000:holder", "pause:100:6000:holder", "pause:3000:6000",
    "crash:1000", "crash:1000:500:app2", "delay:0:2000:300", "delay:10:2000:300:redis",
    "partition:500:4000:app1", "clock:0:-1500", "clock:0:-1500:0.1:app2", "gc-pause:3000:6000",
]


@pytest.mark.parametrize("spec", README_SPECS)
def test_parse_fault_agrees_with_the_cli(spec: str) -> None:
    if spec.startswith("gc-pause"):  # an alias the CLI's own grammar never had
        assert parse_fault(spec) == cli_parse_fault(spec.replace("gc-pause", "pause"))
    else:
        assert parse_fault(spec) == cli_parse_fault(spec)


@pytest.mark.parametrize("spec", ["pause:1", "nap:1:2", "pause:-1:5", "pause:1:nan",
                                  "pause:1:2:mars", "delay:1:2:-3", "crash:1:inf"])
def test_parse_fault_refuses_nonsense_with_one_line(spec: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_fault(spec)
    assert isinstance(exc.value, FaultError) and "\n" not in str(exc.value)


def test_old_spellings_are_aliases() -> None:
    assert kind("gc-pause") is FAULTS["pause"]
    old = {"kind": "gc-pause", "at_ms": 1.0, "duration_ms": 2.0}
    assert fault_from_dict(old) == Pause(1.0, 2.0)


def test_every_kind_round_trips_and_tells_its_story() -> None:
    rng = random.Random(7)
    for name, k in FAULTS.items():
        f = swarm_fault(name, rng, "holder")
        assert isinstance(f, k.type) and f.kind == name
        assert fault_from_dict(fault_to_dict(f)) == f
        assert describe(f)
        assert set(k.events) <= EVENT_FS


def test_swarm_draws_are_the_old_ones() -> None:
    """Same rng, same values as explore._fault drew before the registry."""
    rng = random.Random(1)
    at = round(rng.uniform(0.0, 3000.0), 3)
    expected = Pause(at, round(rng.uniform(50.0, 9000.0), 3), "app2")
    assert swarm_fault("gc-pause", random.Random(1), "app2") == expected


def test_scaling_stretches_start_and_declared_durations() -> None:
    assert scaled(Crash(10.0, 100.0), 2.0) == Crash(20.0, 200.0)
    assert scaled(Crash(10.0, None), 2.0) == Crash(20.0, None)
    assert scaled(Clock(10.0, -5.0), 3.0) == Clock(30.0, -5.0)
