"""A scenario file is outside input: every bad value is one ScenarioError line, never a crash."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.scenario import Scenario, ScenarioError

ROOT = Path(__file__).resolve().parents[2]

BAD = [
    ({"servers": "2"}, "servers: expected an integer"),
    ({"requests": None}, "requests: expected an integer, got null"),
    ({"requests": 1.5}, "requests: expected an integer, got float"),
    ({"stock": -5}, "stock must be at least 0"),
    ({"horizon_ms": -1}, "horizon_ms must be a positive number"),
    ({"seed": "x"}, "seed: expected an integer"),
    ({"lock_params": {"bogus": 1}}, "unexpected keyword argument 'bogus'"),
    ({"lock_params": {"ttl_ms": -5}}, "ttl_ms must be a positive number"),
    ({"lock_params": {"ttl_ms": 0}}, "ttl_ms must be a positive number"),
    ({"lock_params": []}, "lock_params: expected an object"),
    ({"lock": "nope"}, "unknown lock 'nope'"),
    ({"choices": [5000]}, "choices: item 0 must be 0..1000"),
    ({"redis_latency": 5}, "redis_latency: expected a distribution"),
    ({"redis_latency": {"kind": "uniform", "a": "x", "b": 1}}, "a: expected a number"),
    ({"callback_cpu_ms": -0.1}, "callback_cpu_ms must be at least 0"),
    ({"rate_rps": math.inf}, "rate_rps: expected a finite number"),
    ({"faults": {}}, "faults: expected a list"),
    ({"faults": [{"kind": "pause", "at_ms": -1, "duration_ms": 5}]}, "negative"),
    ({"arrivals_ms": "0,1"}, "arrivals_ms: expected a list"),
    ({"redis_version": [5, 0]}, "redis_version must be 6.x or 7.x"),
]


@pytest.mark.parametrize(("data", "says"), BAD, ids=[next(iter(d)) for d, _ in BAD])
def test_a_bad_field_is_one_line_naming_it(data: dict, says: str) -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data)
    message = str(info.value)
    assert says in message
    assert "\n" not in message


def test_what_to_dict_writes_from_dict_reads() -> None:
    sc = Scenario(requests=3, lock="polling", lock_params=(("poll_ms", 50.0),), seed=9)
    again = Scenario.from_dict(json.loads(sc.to_json()))
    assert again == sc


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)
FIELDS = sorted(Scenario().to_dict())


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=3))
def test_any_json_is_a_scenario_or_one_clear_error(data: dict) -> None:
    base = {"requests": 2}
    base.update(data)
    try:
        sc = Scenario.from_dict(base)
    except ScenarioError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    # accepted: then it writes JSON that is JSON (no NaN) and reads back the same
    text = json.dumps(sc.to_dict(), allow_nan=False)
    assert Scenario.from_dict(json.loads(text)) == sc


def test_the_scenario_reference_is_generated_from_the_type() -> None:
    assert (ROOT / "docs" / "scenario.md").read_text() == Scenario.reference()


def test_a_derived_scenario_is_still_validated_in_every_field() -> None:
    """validate() remembers a template's shape, never a derived scenario's bad value."""
    import pytest

    from models.faults import Pause
    from models.scenario import Scenario, ScenarioError

    base = Scenario(servers=2, requests=4, vus=4).validate()
    assert base.with_(seed=7, faults=(Pause(10.0, 5.0, "app1"),)).validate().seed == 7
    bad = [
        base.with_(servers="2"),  # a field of the shape, changed
        base.with_(seed=True),  # a per-schedule field of the wrong type
        base.with_(requests=-1),
        base.with_(faults=(Pause(-1.0, 5.0, "app1"),)),
        base.with_(faults=(Pause(1.0, 5.0, "app9"),)),
        base.with_(load="scheduled", arrivals_ms=(0.0,)),
    ]
    for scenario in bad:
        with pytest.raises(ScenarioError):
            scenario.validate()
    with pytest.raises(TypeError):
        base.with_(no_such_field=1)
    assert base.with_(seed=3) == Scenario(servers=2, requests=4, vus=4, seed=3)
