"""Issue 15's known results on real Redis: several real nodes, the real Sentinel.

Sentinel schedule (the simulator's ``tests/world/test_ha_sentinel.py``, with times
a real Sentinel can keep: it needs about 1.5 s beyond down-after to fail over):
app1's request takes the polling lock (TTL 7000 ms) and is frozen inside for
5.5 s; the master redis1 dies at 20 ms for good, before its SET crossed the lag
relay (50-100 ms); the real Sentinels (down-after 1000 ms) promote a replica;
app2's request, trying since 50 ms, learns the new master from them and tries there.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
import redis

from models.checkers import check_all
from models.dist import Dist
from models.faults import Clock, Crash, Fault, Pause
from models.scenario import Scenario
from sim.cli.main import main
from sim.real.cluster import Cluster, ClusterError, run_real
from sim.search import counterexample

ROOT = Path(__file__).resolve().parents[2]
SLOW = Dist("uniform", 50.0, 100.0)  # the master dies before its SET reaches a replica
FAST = Dist("uniform", 0.1, 1.0)  # replicated long before the master dies


@pytest.fixture(scope="module")
def binary(redis_server_binaries):
    return redis_server_binaries[0]


def failover(lag: Dist) -> Scenario:
    return Scenario(servers=2, requests=2, vus=2, load="scheduled", arrivals_ms=(0.0, 50.0),
                    lock="polling", lock_params=(("ttl_ms", 7000),), stock=10,
                    horizon_ms=30_000.0, storage_latency=Dist("const", 0.3),
                    topology="sentinel:2", replica_lag=lag, down_after_ms=1000.0,
                    faults=(Pause(0.0, 5500.0, "holder"), Crash(20.0, None, "redis1")))


def restart(persistence: str, restart_delay_ms: float) -> Scenario:
    return Scenario(servers=2, requests=2, vus=2, load="scheduled", arrivals_ms=(0.0, 50.0),
                    lock="polling", lock_params=(("ttl_ms", 3000),), stock=10,
                    horizon_ms=30_000.0, storage_latency=Dist("const", 0.3),
                    persistence=persistence, restart_delay_ms=restart_delay_ms,
                    faults=(Pause(0.0, 2000.0, "holder"), Crash(100.0, 10.0, "redis")))


def enters(history) -> list[tuple[str, float]]:
    return [(op.process, op.time) for op in history if op.f == "enter" and op.type == "ok"]


def gone(pids: dict[str, list[int]]) -> list[int]:
    """The pids still alive (a recycled pid counts only if it is a redis-server again)."""
    alive = []
    for pid in (p for ps in pids.values() for p in ps):
        try:
            if "redis" in " ".join(psutil.Process(pid).cmdline()):
                alive.append(pid)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return alive


# -- (1) Sentinel failover: the simulator's counterexample, replayed on real Redis ---------------


def test_a_sim_found_failover_counterexample_replays_on_the_real_sentinel(binary, tmp_path,
                                                                           capsys):
    cx = counterexample.record(failover(SLOW), "mutual-exclusion", {"found": "test"})
    assert cx.story  # the simulator finds it first
    path = counterexample.save(cx, tmp_path)
    code = main(["replay", str(path), "--real-redis", "--redis-server", str(binary), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["reproduced"] is True, payload["real"]
    assert payload["simulated"]["valid"] is False and payload["real"]["valid"] is False
    assert "mutual-exclusion" in payload["real"]["violated"]


def test_the_real_sentinel_promotes_a_replica_and_a_second_client_acquires(binary):
    result = run_real(failover(SLOW), redis_server=binary)
    h = result.history
    failovers = [op for op in h.filter(process="nemesis") if op.f == "failover"]
    assert failovers and failovers[0].node in ("redis2", "redis3")
    (first, _), (second, t2) = enters(h)
    assert first.startswith("app1") and second.startswith("app2")
    assert 1000.0 < t2 < 5500.0  # after down-after, on the promoted node, app1 still frozen
    assert check_all(h, ["mutual-exclusion"])[0].valid is False


def test_with_a_tiny_lag_the_key_survives_the_failover(binary):
    result = run_real(failover(FAST), redis_server=binary)
    h = result.history
    assert [op.node for op in h.filter(process="nemesis") if op.f == "failover"]
    (first, _), (second, t2) = enters(h)
    assert first.startswith("app1") and second.startswith("app2") and t2 > 5500.0
    assert check_all(h, ["mutual-exclusion"])[0].valid is True
    assert not gone(result.pids)


# -- (2) Redlock on three real masters -------------------------------------------------------------


def test_redlock_runs_on_three_real_masters(binary):
    scenario = Scenario(requests=12, vus=4, topology="redlock:3", lock="redlock",
                        lock_params=(("ttl_ms", 3000),), horizon_ms=30_000.0)
    sets: dict[str, int] = {}

    async def go():
        cluster = Cluster(scenario, redis_server=binary)
        try:
            await cluster.start()
            result = await cluster.run()
            assert cluster.deployment is not None
            for name, server in cluster.deployment.servers.items():
                stats = server.client().info("commandstats")
                sets[name] = int(stats.get("cmdstat_set", {}).get("calls", 0))
            return result
        finally:
            cluster.close()

    result = asyncio.run(go())
    assert result.completed == 12 and result.stock_left == 1000 - 12
    assert set(sets) == {"redis1", "redis2", "redis3"} and min(sets.values()) >= 12, sets
    verdicts = {v.property: v.valid for v in check_all(result.history)}
    assert verdicts["mutual-exclusion"] and verdicts["validity-exclusion"], verdicts
    assert verdicts["stock-conservation"] and verdicts["belief-exclusion"], verdicts
    assert not gone(result.pids)


def test_a_partitioned_link_holds_only_that_links_traffic(binary):
    """app1 cut from redis3 for the whole run: Redlock still gets its quorum of two."""
    scenario = Scenario(requests=6, vus=2, topology="redlock:3", lock="redlock",
                        lock_params=(("ttl_ms", 3000),), horizon_ms=30_000.0,
                        faults=(parse("partition:0:60000:app1/redis3"),))
    result = run_real(scenario, redis_server=binary)
    assert result.completed == 6
    assert check_all(result.history, ["mutual-exclusion"])[0].valid is True
    cut = result.history.filter(process="nemesis", f="partition")
    assert [op.node for op in cut] == ["app1/redis3"]


def parse(spec: str) -> Fault:
    from models.faults import parse_fault

    return parse_fault(spec)


# -- (3) a restart and what persistence keeps, on real Redis ---------------------------------------


def test_a_restart_without_persistence_loses_the_key_on_real_redis(binary):
    result = run_real(restart("none", 10.0), redis_server=binary)
    h = result.history
    assert [op.f for op in h.filter(process="nemesis") if op.node == "redis"] == \
        ["crash", "restart"]
    (first, _), (second, t2) = enters(h)
    assert first.startswith("app1") and second.startswith("app2") and t2 < 2000.0
    assert check_all(h, ["mutual-exclusion"])[0].valid is False


def test_aof_always_and_a_restart_delay_longer_than_the_ttl_is_safe_on_real_redis(binary):
    result = run_real(restart("aof-always", 4000.0), redis_server=binary)
    h = result.history
    back = next(op for op in h.filter(process="nemesis") if op.f == "restart")
    assert back.time >= 4100.0
    (_, _), (second, t2) = enters(h)
    assert second.startswith("app2") and t2 >= back.time
    assert check_all(h, ["mutual-exclusion"])[0].valid is True


def test_aof_always_keeps_the_key_across_a_quick_restart(binary):
    """The same schedule as the loss above, but the AOF brings the key back."""
    result = run_real(restart("aof-always", 10.0), redis_server=binary)
    (_, _), (second, t2) = enters(result.history)
    assert second.startswith("app2") and t2 > 2000.0  # only after app1 let go
    assert check_all(result.history, ["mutual-exclusion"])[0].valid is True


# -- (4) everything started is stopped ----------------------------------------------------------


def test_an_exception_mid_run_stops_every_server_sentinel_and_relay(binary):
    seen: dict[str, list[int]] = {}
    ports: list[int] = []

    async def go() -> None:
        cluster = Cluster(failover(SLOW), redis_server=binary)
        running: asyncio.Task[object] | None = None
        try:
            await cluster.start()
            assert cluster.deployment is not None
            seen.update(cluster.deployment.pids)
            ports.extend(r.port for r in cluster.deployment.relays.values())
            running = asyncio.ensure_future(cluster.run())
            await asyncio.sleep(0.5)  # the master is dead, the Sentinels at work
            raise RuntimeError("boom")
        finally:
            cluster.close()
            if running is not None:
                running.cancel()

    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(go())
    assert {"redis1", "redis2", "redis3", "sentinel1", "sentinel2", "sentinel3"} <= set(seen)
    assert not gone(seen)
    for port in ports:  # the relays no longer listen
        with pytest.raises(redis.ConnectionError):
            redis.Redis("127.0.0.1", port, socket_connect_timeout=0.5).ping()


CTRL_C = textwrap.dedent("""
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {root!r})
    from sim.cli.main import main
    sys.exit(main(["run", "--real-redis", "--redis-server", {binary!r}, "--redis", "sentinel:2",
                   "--down-after", "1000", "--users", "20", "--vus", "2",
                   "--fault", "pause:0:30000:holder"]))
""")


def test_ctrl_c_stops_the_whole_topology(binary):
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C.format(root=str(ROOT), binary=str(binary))],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        me = psutil.Process(child.pid)
        deadline = time.monotonic() + 60
        kids: list[psutil.Process] = []
        while time.monotonic() < deadline:
            kids = me.children(recursive=True)
            lines = [" ".join(k.cmdline()) for k in kids if k.is_running()]
            if sum("[sentinel]" in ln for ln in lines) == 3 and \
                    sum("sim.real.worker" in ln for ln in lines) == 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the driver did not start its topology and workers")
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        child.wait(timeout=30)
        assert child.returncode == 130
        assert len(kids) >= 3 + 3 + 2
        for kid in kids:
            with pytest.raises(psutil.NoSuchProcess):
                kid.wait(timeout=5)
                kid.status()
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)


# -- what cannot be real is refused in one line ----------------------------------------------------


@pytest.mark.parametrize(("scenario", "says"), [
    (Scenario(topology="redlock:3", lock="redlock",
              faults=(Clock(100.0, 3000.0, 0.0, "redis2"),)), "host's clock"),
    (Scenario(topology="redlock:2", redis_clocks=(("redis1", 5.0, 0.0),)), "host's clock"),
])
def test_node_clocks_are_refused_in_one_line(scenario, says, binary):
    with pytest.raises(ClusterError) as exc:
        Cluster(scenario, redis_server=binary)
    assert says in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize(("argv", "says"), [
    (["--fault", "clock:100:+3000:redis2", "--redis", "redlock:3"], "host's clock"),
    (["--redis", "sentinel:2", "--redis-url", "redis://127.0.0.1:1"], "--redis-url"),
    (["--redis", "redlock:2", "--monitor-log", "/tmp/locksim-x.log"], "--monitor-log"),
])
def test_refusals_on_the_command_line_exit_2(argv, says, binary, capsys):
    code = main(["run", "--real-redis", "--redis-server", str(binary), "--users", "2", *argv])
    err = capsys.readouterr().err
    assert code == 2 and says in err and "Traceback" not in err
    assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err
