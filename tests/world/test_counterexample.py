"""Counterexample files: old files load, every malformed field is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.search import counterexample
from sim.search.counterexample import CounterexampleError, NewerCounterexampleWarning

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "properties" / "regressions" / "seed-stock-conservation-ae1360565f1b.json"
OLD = ROOT / "tests" / "fixtures" / "counterexample-0.1.0.json"  # written by locksim 0.1.0


def test_an_old_file_loads_and_round_trips(tmp_path):
    cx = counterexample.load(OLD)
    assert cx.property == "stock-conservation" and cx.expect == "violated" and cx.witness == ()
    again = counterexample.load(counterexample.write_json(tmp_path / cx.name, cx.to_dict()))
    assert again == cx
    assert json.loads(OLD.read_text()) == cx.to_dict()


def test_a_recorded_file_keeps_its_witness_ops(tmp_path):
    old = counterexample.load(SEED)
    cx = counterexample.record(old.scenario, old.property, old.origin)
    assert cx.trace_hash == old.trace_hash and cx.witness
    path = counterexample.save(cx, tmp_path)
    assert path.name == old.name
    assert counterexample.load(path).witness == cx.witness
    assert "Scenario.from_dict(" in cx.to_code() and cx.tell().startswith("stock-conservation")


@pytest.mark.parametrize("change, words", [
    ({"property": 3}, "property must be a string"),
    ({"property": "meteor"}, "unknown property 'meteor'"),
    ({"trace_hash": 12}, "trace_hash must be a string"),
    ({"trace_hash": "xyz"}, "trace_hash must be lowercase hex"),
    ({"scenario": []}, "scenario must be an object"),
    ({"scenario": {"colour": "red"}}, "unknown scenario field(s): colour"),
    ({"story": 1}, "story must be a string"),
    ({"origin": []}, "origin must be an object"),
    ({"expect": "maybe"}, "expect must be one of"),
    ({"witness": {}}, "witness must be a list"),
    ({"witness": [{"index": 1}]}, "witness op 0: time must be a number"),
    ({"lock": "polling"}, "is not its scenario's lock"),
    ({"format": 2}, "format 2"),
    ({"format": "1"}, "format '1'"),
])
def test_malformed_fields_are_one_line(tmp_path, change, words):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({**json.loads(SEED.read_text()), **change}))
    with pytest.raises(CounterexampleError) as err:
        counterexample.load(path)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_unreadable_files(tmp_path):
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    for path, words in ((binary, "not a text file"), (tmp_path, "cannot read"),
                        (tmp_path / "missing.json", "cannot read")):
        with pytest.raises(CounterexampleError, match=words):
            counterexample.load(path)


def test_a_newer_locksim_warns(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({**json.loads(SEED.read_text()), "locksim": "999.0"}))
    with pytest.warns(NewerCounterexampleWarning):
        counterexample.load(path)
