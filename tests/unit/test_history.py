"""The history format: recording, pairing, validation, JSONL and digests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from models.history import (
    History,
    HistoryError,
    Op,
    Pair,
    Recorder,
    format_ms,
    is_immutable_value,
)

ROOT = Path(__file__).resolve().parents[2]
K = "lock:coupon:issue:1"


def sample() -> History:
    """A small history with every kind of op: pairs, events, nemesis, an unfinished op."""
    r = Recorder()
    r.record(0, "storage", "ok", "init", 10)
    r.record(1.0, "app1/req1", "invoke", "request", 7, "app1")
    r.record(1.5, "app1/req1", "invoke", "acquire", K, "app1")
    r.record(1.5, "app2/req2", "invoke", "acquire", K, "app2")
    r.record(2.0, "app1/req1", "ok", "acquire", ("tok-a", None, 5000), "app1")
    r.record(2.0, "app1/req1", "ok", "enter", ("tok-a", None), "app1")
    r.record(2.5, "app1/req1", "invoke", "read", 7, "app1")
    r.record(3.0, "app1/req1", "ok", "read", (10, False), "app1")
    r.record(3.0, "app1/req1", "ok", "leave", ("tok-a", None), "app1")
    r.record(3.0, "nemesis", "info", "pause", 6000.0, "app2")
    r.record(3.5, "app1/req1", "invoke", "release", "tok-a", "app1")
    r.record(4.0, "app1/req1", "ok", "release", ("tok-a", 1), "app1")
    r.record(4.0, "app1/req1", "ok", "request", "issued", "app1")
    return r.history()


def test_recorder_assigns_indexes_and_float_times():
    h = sample()
    assert [op.index for op in h] == list(range(len(h)))
    assert all(type(op.time) is float for op in h)
    assert h[0] == Op(0, 0.0, "storage", "ok", "init", 10, "")
    assert h.start_time == 0.0 and h.end_time == 4.0
    h.validate()


def test_recorder_history_is_a_snapshot():
    r = Recorder()
    r.record(0, "storage", "ok", "init", 1)
    h = r.history()
    r.record(1, "storage", "ok", "init", 2)
    assert len(h) == 1 and len(r) == 2


def test_ops_are_frozen():
    op = sample()[0]
    with pytest.raises(AttributeError):
        op.value = 3  # type: ignore[misc]


def test_pairs_by_process_and_f():
    h = sample()
    acquires = h.pairs("acquire")
    assert [p.process for p in acquires] == ["app1/req1", "app2/req2"]
    a, b = acquires
    assert a.ok and a.value == ("tok-a", None, 5000) and a.start == 1.5 and a.end == 2.0
    assert b.completion is None and b.type is None and not b.ok and b.end is None
    assert h.pairs("release", process="app1/req1")[0].value == ("tok-a", 1)
    assert h.pairs(node="app2") == (b,)
    assert [p.f for p in h.pairs(process="app1/req1")] == ["request", "acquire", "read", "release"]
    # an op knows its pair, and events have none
    assert h.pair_of(h[4]) is a and h.pair_of(h[2]) is a
    assert h.pair_of(h[5]) is None


def test_events_are_never_paired():
    h = sample()
    assert [op.f for op in h.events()] == ["init", "enter", "leave", "pause"]
    assert h.events("enter")[0].value == ("tok-a", None)


def test_filter_and_names():
    h = sample()
    assert [op.index for op in h.filter(f="acquire", type="ok")] == [4]
    assert len(h.filter(process="app2/req2")) == 1
    assert {op.f for op in h.filter(node="app2")} == {"acquire", "pause"}
    assert h.processes[:2] == ("storage", "app1/req1")
    assert h.nodes == ("app1", "app2")


def test_pairing_is_per_process_and_f():
    r = Recorder()
    r.record(0, "p", "invoke", "attempt", "t")
    r.record(0, "p", "invoke", "wait", K)  # a different f may be outstanding at once
    r.record(1, "q", "invoke", "attempt", "u")
    r.record(2, "p", "fail", "attempt")
    r.record(3, "q", "info", "attempt", "timeout")
    r.record(4, "p", "ok", "wait")
    h = r.history().validate()
    by = {(p.process, p.f): p for p in h.pairs()}
    assert by["p", "attempt"].type == "fail" and by["q", "attempt"].type == "info"
    assert by["p", "wait"].completion is not None and by["p", "wait"].completion.time == 4.0


def test_pair_helpers():
    inv = Op(0, 1.0, "app1/req1", "invoke", "read", 3, "app1")
    done = Op(1, 2.5, "app1/req1", "ok", "read", (4, False), "app1")
    p = Pair(inv, done)
    assert (p.process, p.f, p.node, p.type, p.ok, p.start, p.end, p.value) == (
        "app1/req1", "read", "app1", "ok", True, 1.0, 2.5, (4, False))


def test_history_equality_and_hash():
    assert sample() == sample() and hash(sample()) == hash(sample())
    assert sample() != History(sample().ops[:-1])
    assert History(list(sample())) == sample()


# -- validation -------------------------------------------------------------------------------
def _raises(ops: list[Op], match: str) -> str:
    with pytest.raises(HistoryError, match=match) as info:
        History(ops).validate()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_validate_unknown_type():
    msg = _raises([Op(0, 0.0, "p", "done", "read")], "unknown type 'done'")
    assert msg.startswith("op 0 (p done read)")


def test_validate_time_must_not_go_back():
    ops = [Op(0, 5.0, "p", "invoke", "read", 1), Op(1, 4.0, "p", "ok", "read", (1, False))]
    _raises(ops, "op 1 .*before the previous op's 5.0 ms")


def test_validate_time_must_be_a_number():
    _raises([Op(0, "soon", "p", "ok", "init", 1)], "not a number")  # type: ignore[arg-type]
    _raises([Op(0, float("nan"), "p", "ok", "init", 1)], "not a number")


def test_validate_completion_without_invoke():
    _raises([Op(0, 0.0, "app1/req1", "ok", "release", ("t", 1))], "completion with no invoke")


def test_validate_value_must_be_immutable():
    _raises([Op(0, 0.0, "p", "invoke", "read", [1, 2])], "not immutable")
    _raises([Op(0, 0.0, "p", "invoke", "read", (1, {"a": 1}))], "not immutable")


def test_validate_double_invoke_and_invoked_event():
    ops = [Op(0, 0.0, "p", "invoke", "read", 1), Op(1, 1.0, "p", "invoke", "read", 1)]
    _raises(ops, "still outstanding")
    _raises([Op(0, 0.0, "p", "invoke", "enter")], "event and cannot be invoked")
    _raises([Op(0, 0.0, "nemesis", "invoke", "crash", None, "app1")], "cannot be invoked")


def test_validate_index_and_type_of_items():
    _raises([Op(3, 0.0, "p", "ok", "init", 1)], "index 3 but position 0")
    _raises([("not", "an", "op")], "not an Op")  # type: ignore[list-item]


def test_validate_accepts_unfinished_ops_and_returns_self():
    h = sample()
    assert h.validate() is h


def test_is_immutable_value():
    for ok in (None, 1, -2.5, "x", True, (), (1, ("a", (None, 2.0)))):
        assert is_immutable_value(ok)
    for bad in ([1], {"a": 1}, {1}, (1, [2]), b"bytes", object()):
        assert not is_immutable_value(bad)


# -- serialization ---------------------------------------------------------------------------
def test_jsonl_round_trip_is_exact():
    r = Recorder()
    r.record(0, "storage", "ok", "init", 1000)
    r.record(1.25, "app1/req1", "ok", "acquire", ("tök-α", None, 5000), "app1")
    r.record(2, "app1/req1", "ok", "read", (10, False), "app1")
    r.record(3, "x", "info", "pause", ((1, (2.5, "a")), (), True, None), "app2")
    r.record(4, "x", "info", "crash", 1.0, "app2")
    h = r.history()
    text = h.to_jsonl()
    assert text.count("\n") == len(h) and text.endswith("\n")
    assert text.isascii()
    back = History.from_jsonl(text)
    assert back == h
    for a, b in zip(back, h, strict=True):
        assert repr(a.value) == repr(b.value)  # tuples stay tuples, True stays True
        assert type(a.time) is float
    assert back[1].value == ("tök-α", None, 5000)
    assert type(back[3].value) is tuple and back[3].value[0] == (1, (2.5, "a"))
    assert back[3].value[2] is True and back[4].value == 1.0 and type(back[4].value) is float
    assert back.to_jsonl() == text


def test_jsonl_lines_are_self_describing():
    line = sample().to_jsonl().splitlines()[4]
    assert line == ('{"index":4,"time":2.0,"process":"app1/req1","type":"ok","f":"acquire",'
                    '"value":["tok-a",null,5000],"node":"app1"}')


def test_from_jsonl_skips_blank_lines_and_reports_bad_ones():
    text = sample().to_jsonl()
    assert History.from_jsonl("\n" + text + "\n\n") == sample()
    with pytest.raises(HistoryError, match="line 2: not an op"):
        History.from_jsonl(text.splitlines()[0] + "\n{broken\n")
    with pytest.raises(HistoryError, match="line 1: not an op"):
        History.from_jsonl('{"index": 0}\n')


def test_digest_is_stable_and_sensitive():
    h = sample()
    d = h.digest()
    assert len(d) == 64 and d == sample().digest() == History.from_jsonl(h.to_jsonl()).digest()
    ops = list(h)
    changed = ops[7]
    ops[7] = Op(changed.index, changed.time, changed.process, changed.type, changed.f,
                (9, False), changed.node)
    assert History(ops).digest() != d
    # values that compare equal in Python but differ in type hash differently
    one = [Op(0, 0.0, "storage", "ok", "init", v) for v in (1, 1.0, True)]
    assert len({History([o]).digest() for o in one}) == 3
    # an int time and the same float time are the same history
    assert History([Op(0, 5, "s", "ok", "init", 1)]).digest() == \
        History([Op(0, 5.0, "s", "ok", "init", 1)]).digest()


def test_digest_is_the_same_in_another_process():
    code = ("import sys; sys.path.insert(0, 'tests/unit'); from test_history import sample; "
            "print(sample().digest())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert out.stdout.strip() == sample().digest()


def test_format_ms():
    assert [format_ms(t) for t in (105, 5104.2, 0.125, 6112.0004, 0.0)] == [
        "105.0", "5104.2", "0.125", "6112.0", "0.0"]


def test_str_of_an_op_is_readable():
    assert str(sample()[4]) == "#4 2.0 ms app1/req1 @app1 ok acquire ('tok-a', None, 5000)"
