"""A handler's own Redis set (SADD/SISMEMBER/SMEMBERS inside and after the lock) runs in the
simulated world as on real Redis: no "unknown command", the same answer each run, in any
process, and the set is the handler's bookkeeping, not a lease the checkers judge."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from models.scenario import Scenario
from sim.aio import check_determinism, run_handler
from sim.aio.runner import judge
from tests.aio import handlers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("protocol", [2, 3])
def test_a_served_set_inside_the_lock_works_and_is_deterministic(protocol: int) -> None:
    sc = Scenario(servers=2, vus=10, requests=60)
    kwargs = {"protocol": protocol}
    run, same = check_determinism(sc, handlers.served_set, kwargs)
    assert same.same, str(same)
    log = run.result.redis_log
    assert not [r for _t, _c, _a, r in log if "unknown command" in str(r)]
    added = [a[2] for _t, _c, a, r in log if a[0].upper() == b"SADD" and r == 1]
    asked = [r for _t, _c, a, r in log if a[0].upper() == b"SISMEMBER"]
    issued = 1000 - run.result.stock_left
    assert issued > 0 and len(added) == len(set(added)) == issued  # one SADD per user served
    assert len(asked) == 60 and asked.count(1) == 60 - issued  # the rest were already in it
    assert run.result.completed == 60
    outcomes = [op.value for op in run.result.history.ops
                if op.f == "request" and op.type == "ok"]
    assert outcomes.count("issued") == issued and len(outcomes) == 60  # no AssertionError
    # no property is judged violated (a set is bookkeeping, never a lease: _SKIP)
    assert [v.property for v in judge(run) if v.valid is False] == []


def test_resp3_sends_smembers_as_a_set() -> None:
    """Redis 7 and 6.2 answer SMEMBERS with a RESP3 set (``~``); EXEC's array keeps it."""
    from models.redis.reply import SetReply
    from sim.aio.resp import encode

    assert encode(SetReply([b"a"]), resp3=True) == b"~1\r\n$1\r\na\r\n"
    assert encode(SetReply([]), resp3=True) == b"~0\r\n"
    assert encode(SetReply([b"a"])) == b"*1\r\n$1\r\na\r\n"
    assert encode([1, SetReply([b"a"])], resp3=True) == b"*2\r\n:1\r\n~1\r\n$1\r\na\r\n"


_HASH = """
from models.scenario import Scenario
from sim.aio import run_handler
from tests.aio import handlers
print(run_handler(Scenario(servers=1, vus=5, requests=25), handlers.served_members).trace_hash)
"""


def test_a_handler_answering_a_python_set_hashes_alike_under_any_hash_seed() -> None:
    """The history keeps a set sorted: its own iteration order follows PYTHONHASHSEED."""
    hashes = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _HASH], env=env, capture_output=True, cwd=ROOT,
                             text=True, check=True, timeout=120)
        hashes.add(out.stdout.strip())
    assert len(hashes) == 1
    here = run_handler(Scenario(servers=1, vus=5, requests=25), handlers.served_members)
    assert hashes == {here.trace_hash}


def test_a_served_set_reaches_the_replicas_and_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replication sees every change of a set (SADD changes it in place) and ships a copy;
    an AOF image holds a copy later writes leave alone."""
    from models.redis.persistence import snapshot
    from sim.aio.runner import AioWorld

    worlds: list[AioWorld] = []
    run = AioWorld.run

    def keep(self: AioWorld) -> object:
        worlds.append(self)
        return run(self)

    monkeypatch.setattr(AioWorld, "run", keep)
    sc = Scenario(servers=2, vus=5, requests=30, topology="replicas:2", persistence="aof-always")
    result = run_handler(sc, handlers.served_set).result
    key = handlers.SERVED.encode()
    master, *replicas = worlds[0].nodes.values()
    served = master.model.ks.data[key]
    assert len(served) == 1000 - result.stock_left > 1  # type: ignore[arg-type]
    for replica in replicas:
        copy = replica.model.ks.data[key]
        assert copy == served and copy is not served
    image = snapshot(master.model.ks)
    master.model.reply(["SADD", key, "late"], 0)
    assert image[0][key] != master.model.ks.data[key]
