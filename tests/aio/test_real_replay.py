"""Handler counterexamples found in simulation, replayed on a real redis-server with the
same library code (real time, real sockets, SIGSTOP for a pause)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.aio.real_replay import replay_handler_real
from sim.aio.search import explore_handler
from sim.search import counterexample

pytestmark = pytest.mark.real_redis


def _saved(tmp_path: Path, handler: str, prop: str) -> Path:
    found = explore_handler(handler, ["gc-pause"], 1, 20)
    index, small, run, verdict = found[prop]
    cx = counterexample.Counterexample(small, prop, run.trace_hash, verdict.story,
                                       verdict.witness, {"index": index})
    return counterexample.save(cx, tmp_path)


@pytest.mark.parametrize("handler, prop", [
    ("examples.coupon_handler:handle", "mutual-exclusion"),          # the pause bug
    ("examples.coupon_handler:handle_shared", "owner-only-release"),  # the shared token
])
def test_a_pause_counterexample_reproduces_on_real_redis(tmp_path: Path, handler: str,
                                                         prop: str) -> None:
    payload = replay_handler_real(_saved(tmp_path, handler, prop))
    assert payload["simulated"]["valid"] is False
    assert payload["reproduced"], payload["real"]["summary"]
    assert "held-until-release" in payload["real"]["violated"]
