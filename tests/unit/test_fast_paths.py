"""The fast paths agree with the plain code they replace: indexes, digests, constructors."""

from __future__ import annotations

import hashlib
import json
from dataclasses import FrozenInstanceError, dataclass

import pytest

from models.checkers.ground_truth import KeyEffect, RequestSpan
from models.frozen import quick_new
from models.history import History, Op
from sim.search.explore import schedule
from sim.world import run


def _faulty_history() -> History:
    return run(schedule("seed", ("pause", "delay", "crash"), 1, 3)).history


def test_pairs_by_f_are_the_filtered_pairs_in_order():
    h = _faulty_history()
    every = h.pairs()
    names = {p.f for p in every} | {"no-such-op"}
    for f in names:
        assert h.pairs(f) == tuple(p for p in every if p.f == f)
        for process in {p.process for p in every}:
            assert h.pairs(f, process=process) == tuple(
                p for p in every if p.f == f and p.process == process)
    assert sum(len(h.pairs(f)) for f in names) == len(every)


def test_digest_is_the_json_of_every_row_with_float_times():
    ops = [Op(0, 0, "storage", "ok", "init", 10),  # an int time: hashed as 0.0
           Op(1, 1.5, "app1/r", "invoke", "acquire", "lock:k", "app1"),
           Op(2, True, "app1/r", "ok", "acquire", ("t", None, 5), "app1"),  # bool: 1.0
           Op(3, 2.25, "nemesis", "info", "pause", 6000.0, "app2")]
    rows = [[o.index, float(o.time), o.process, o.type, o.f, o.value, o.node] for o in ops]
    text = json.dumps(rows, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    assert History(ops).digest() == hashlib.sha256(text.encode("ascii")).hexdigest()
    h = _faulty_history()
    rows = [[o.index, float(o.time), o.process, o.type, o.f, o.value, o.node] for o in h]
    text = json.dumps(rows, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    assert h.digest() == hashlib.sha256(text.encode("ascii")).hexdigest()


def test_quick_new_builds_the_same_frozen_value():
    new = quick_new(KeyEffect)
    args = (1.5, "redis", "app1/req1", "EVAL>DEL", "lock:k", b"tok", None, None, "del")
    fast, plain = new(*args), KeyEffect(*args)
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    with pytest.raises(FrozenInstanceError):
        fast.key = "other"  # type: ignore[misc]
    span = quick_new(RequestSpan)("app1/req1", "app1", 0.0, None)  # crashed_at defaults
    assert span == RequestSpan("app1/req1", "app1", 0.0, None) and span.crashed_at is None


def test_quick_new_refuses_a_class_whose_post_init_it_would_skip():
    @dataclass(frozen=True, slots=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    with pytest.raises(TypeError, match="__post_init__"):
        quick_new(Checked)
