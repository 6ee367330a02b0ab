"""A team's handler on real processes and a real redis-server, with the same library code:
``run --handler --real-redis``, and network faults applied at the relay in front of Redis."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from models.dist import Dist
from models.faults import Delay, Partition
from models.scenario import Scenario
from sim.aio.real_replay import replay_handler_real
from sim.aio.search import explore_handler
from sim.cli.main import main
from sim.real.cluster import Cluster
from sim.search import counterexample

CACHED = "examples.coupon_handler:handle_cached"  # its critical section waits on Redis


@pytest.fixture(scope="module")
def binary(redis_server_binaries: list[Path]) -> Path:
    return redis_server_binaries[0]


def _verdicts(world: dict) -> dict[str, dict]:
    return {v["property"]: v for v in world["verdicts"]}


def test_run_real_redis_reproduces_the_shared_token_bug(tmp_path: Path, binary: Path,
                                                        capsys) -> None:
    """One Lock per client, a pause longer than its 5 s lease: in both worlds a release
    sends another task's token (redis-py keeps it in threading.local). A 20 ms database
    keeps the resumed holder's commit slower than a waiter's SET NX in real time too
    (with the default 2 ms the two race: README, "Checking your own library code")."""
    scenario = tmp_path / "slow-db.json"
    scenario.write_text(json.dumps(Scenario(storage_latency=Dist("const", 20.0)).to_dict()))
    code = main(["run", "--real-redis", "--redis-server", str(binary), "--json",
                 "--scenario", str(scenario),
                 "--handler", "examples.coupon_handler:handle_shared", "--servers", "1",
                 "--vus", "5", "--users", "12", "--fault", "pause:20:6000:holder"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "owner-only-release" in data["violated"] and data["deterministic"]
    real = _verdicts(data["comparison"]["real"])
    assert real["held-until-release"]["valid"] is False
    assert "belongs to another task" in real["held-until-release"]["story"]
    assert real["mutual-exclusion"]["valid"] is False
    assert data["comparison"]["real"]["completed_requests"] == 12
    assert data["comparison"]["label"] == "handler examples.coupon_handler:handle_shared"


def test_run_real_redis_without_a_fault_holds_in_both_worlds(binary: Path, capsys) -> None:
    code = main(["run", "--real-redis", "--redis-server", str(binary), "--json",
                 "--handler", CACHED, "--servers", "2", "--vus", "2", "--users", "6"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0, data["comparison"]["real"]["verdicts"]
    figures = data["comparison"]["real"]["figures"]
    assert figures["issued"] == 6 and figures["attempts"] is None  # not seen on the wire
    assert data["comparison"]["simulated"]["figures"]["issued"] == 6


def _partition_counterexample(tmp_path: Path) -> Path:
    found = explore_handler(CACHED, ["partition"], 1, 3)
    index, small, run, verdict = found["mutual-exclusion"]
    assert [f.kind for f in small.faults] == ["partition"]
    cx = counterexample.Counterexample(small, "mutual-exclusion", run.trace_hash, verdict.story,
                                       verdict.witness, {"index": index})
    return counterexample.save(cx, tmp_path)


def test_a_partition_counterexample_replays_on_real_redis(tmp_path: Path, binary: Path) -> None:
    """Found in simulation: the holder is cut off from Redis longer than its 2 s lease
    while its critical section waits on a GET; a second holder enters. On real Redis the
    relay holds the holder's bytes (TCP stays up) and the same violation follows."""
    path = _partition_counterexample(tmp_path)
    payload = replay_handler_real(path, redis_server=binary)
    assert payload["simulated"]["valid"] is False
    assert payload["reproduced"], payload["real"]["summary"]
    assert {"mutual-exclusion", "held-until-release"} <= set(payload["real"]["violated"])
    heal = next(float(line.split()[0]) for line in payload["real"]["ops"] if "info heal" in line)
    read = next(float(line.split()[0]) for line in payload["real"]["ops"]
                if "app1/req0 invoke read" in line)
    assert read >= heal  # the holder's GET was held until the partition healed


def test_a_partition_shorter_than_the_lease_lets_no_one_in(tmp_path: Path,
                                                          binary: Path) -> None:
    """The control: the same schedule with the partition cut to 1 s (the lease is 2 s)."""
    cx = counterexample.load(_partition_counterexample(tmp_path))
    (fault,) = cx.scenario.faults
    assert isinstance(fault, Partition)
    short = cx.scenario.with_(faults=(Partition(fault.at_ms, 1000.0, fault.node),))
    path = counterexample.save(counterexample.Counterexample(
        short, "mutual-exclusion", cx.trace_hash, "", cx.witness, {}), tmp_path / "short")
    payload = replay_handler_real(path, redis_server=binary)
    assert payload["simulated"]["valid"] is True
    assert payload["real"]["valid"] is True and not payload["reproduced"]
    assert payload["real"]["violated"] == []


@pytest.mark.parametrize("handler", ["examples.coupon_handler:handle",  # asyncio
                                     "tests.threads.handlers:fresh_lock"])  # sync, real threads
def test_a_delay_slows_each_round_trip_and_the_relays_are_closed(binary: Path,
                                                                 handler: str) -> None:
    """150 ms each way on app1's link: every SET NX of the lock waits >= 300 ms; after the
    run nothing listens on the relays' ports."""
    scenario = Scenario(handler=handler, servers=1, vus=1, requests=3,
                        faults=(Delay(0.0, 60_000.0, 150.0, "app1"),))

    async def go() -> tuple[list[float], list[int]]:
        cluster = Cluster(scenario, redis_server=binary)
        try:
            await cluster.start()
            ports = [p.port for p in cluster.proxies.values()]
            result = await cluster.run()
        finally:
            cluster.close()
        acquires = [p.end - p.start for p in result.history.pairs("acquire")
                    if p.end is not None]
        return acquires, ports

    acquires, ports = asyncio.run(go())
    assert len(acquires) == 3 and all(ms >= 300.0 for ms in acquires), acquires
    assert len(ports) == 1
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", ports[0]), timeout=1):
        pass


@pytest.mark.parametrize("argv, text", [
    (["--fault", "clock:10:500:app1"], "clock shim"),
    (["--redis", "redlock:3"], "one Redis on the real side"),
    (["--fault", "lost-reply:5"], "simulator"),
])
def test_what_the_real_handler_world_cannot_apply_is_one_line(argv: list[str], text: str,
                                                               binary: Path, capsys) -> None:
    code = main(["run", "--real-redis", "--redis-server", str(binary), "--handler",
                 "examples.coupon_handler:handle", "--users", "2", *argv])
    err = capsys.readouterr().err
    assert code == 2 and text in err and err.count("\n") == 1, err


def test_a_partition_past_the_socket_timeout_replays_with_redis_pys_retry(
        tmp_path: Path, binary: Path, capsys) -> None:
    """Found in simulation: app2 is cut off for 7 s while its release is in flight. redis-py's
    5 s socket timeout fires, it reconnects and re-sends; the relay holds the new
    connection's bytes too (the old one's FIN goes after its bytes), so the retry lands at
    the heal, after the lease: ``LockNotOwnedError`` at the heal in both worlds (a library
    symptom, so its schedule goes through ``run --scenario``, not a counterexample file)."""
    found = explore_handler("examples.coupon_handler:handle", ["partition"], 1, 3)
    _index, small, _run, _verdict = found["held-until-release"]
    heal = max(f.at_ms + f.duration_ms for f in small.faults)
    assert max(f.duration_ms for f in small.faults) > 5000.0  # past redis-py's socket timeout
    scenario = tmp_path / "long-partition.json"
    scenario.write_text(json.dumps(small.to_dict()))
    code = main(["run", "--real-redis", "--redis-server", str(binary), "--json",
                 "--scenario", str(scenario)])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and "held-until-release" in data["violated"]
    real = _verdicts(data["comparison"]["real"])["held-until-release"]
    assert real["valid"] is False and "LockNotOwnedError" in real["story"], real
    answered = float(real["story"].split("(answered at ")[1].split(" ms")[0])
    assert answered >= heal  # the retried release was held until the heal
