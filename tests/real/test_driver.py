"""The real-Redis driver: effect semantics on a real server, real runs, real faults, cleanup.

Every test starts its own redis-server (through ``sim.real.cluster``) and worker
processes; in CI a missing server is a failure (``sim.real.pytest_plugin``).
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

from models.checkers import check_all
from models.faults import Clock, Crash, Delay, Pause
from models.metrics import metrics
from models.scenario import Scenario
from sim.cli.main import main
from sim.real.cluster import Cluster, run_real
from sim.search import counterexample

ROOT = Path(__file__).resolve().parents[2]
GC_PAUSE = ROOT / "properties" / "regressions" / "seed-stock-conservation-ae1360565f1b.json"
COUPON_RULES = ("stock-conservation", "no-over-issue", "no-duplicate-issue", "fencing-monotonic")
# The seed lock loses wake-ups (a release published before the waiter's SUBSCRIBE
# arrived): with no wait timeout such a waiter sleeps until the horizon, on a real
# Redis as in the simulator. Load tests bound each wait so they end, and a horizon
# turns any hang into a failure within seconds.
BOUNDED = {"lock_params": (("wait_timeout_ms", 500),), "horizon_ms": 30_000.0}


@pytest.fixture(scope="module")
def binary(redis_server_binaries):
    """The preferred redis-server (skip locally, fail in CI, when there is none)."""
    return redis_server_binaries[0]


def _programs(binary, *jobs, servers=1, faults=()):
    """Run effect programs (node, process, name) on a fresh cluster; results and history."""
    async def go():
        cluster = Cluster(Scenario(servers=servers, requests=0, stock=10), redis_server=binary)
        try:
            await cluster.start()
            for fault in faults:
                cluster.nemesis.strike(fault)
            results = await asyncio.gather(*(
                cluster.run_program(node, process, f"tests.real.driver_programs:{name}")
                for node, process, name in jobs))
            return results, cluster.history()
        finally:
            cluster.close()

    return asyncio.run(go())


# -- effect semantics ----------------------------------------------------------------


def test_call_replies_and_timeout(binary):
    (result,), _ = _programs(binary, ("app1", "p", "calls"))
    ok, value, missing, n, err, timed_out, after = result
    assert ok == b"OK" and value == b"v1" and missing is None and n == 1
    assert err == "ReplyError"
    assert timed_out is True
    assert after == b"v1"  # the late DEBUG reply was dropped, not handed to the next call


def test_pubsub_emitter_semantics(binary):
    (result,), history = _programs(binary, ("app1", "p", "pubsub"))
    assert result == (b"a", b"b", None)
    heard = history.filter(f="heard")
    assert [op.value for op in heard] == ["a"]  # the second listener got the message too


def test_clock_sleep_and_tokens(binary):
    (result,), _ = _programs(binary, ("app1", "p", "clock"))
    elapsed, distinct = result
    assert elapsed >= 40.0
    assert distinct == 2


def test_clock_fault_moves_now(binary):
    (result,), history = _programs(binary, ("app1", "p", "now"),
                                   faults=(Clock(0.0, 5000.0, 0.0, "app1"),))
    assert result >= 5000.0
    assert history.filter(process="nemesis", f="clock")


def test_spawn_and_cancel(binary):
    (result,), history = _programs(binary, ("app1", "p", "spawn_cancel"))
    assert result == "done"
    ticks = history.filter(f="tick")
    cancelled = history.filter(f="cancelled")[0]
    assert ticks and all(op.process == "p/ticker" for op in ticks)
    assert all(op.index < cancelled.index for op in ticks)  # no step after Cancel


def test_work_blocks_the_loop(binary):
    (result,), history = _programs(binary, ("app1", "p", "work"))
    assert result == "done"
    woke = history.filter(f="sleeper-woke")[0]
    done = history.filter(f="work", type="ok")[0]
    assert woke.index > done.index  # the 5 ms timer ran only after the 80 ms of CPU


def test_storage_is_the_shared_fencing_database(binary):
    (result,), _ = _programs(binary, ("app1", "p", "storage"))
    first, accepted, again, stale = result
    assert first == (10, False)
    assert accepted is True
    assert again == (9, True)
    assert stale is None  # fence 4 < 6: refused, like the simulator's Database


# -- runs -------------------------------------------------------------------------------------


def test_fault_free_closed_load(binary):
    scenario = Scenario(requests=60, vus=10, stock=100, **BOUNDED)
    result = run_real(scenario, redis_server=binary)
    verdicts = check_all(result.history)
    assert [v.property for v in verdicts if v.valid is False] == []
    m = metrics(result.history)
    assert m.requests == 60 and m.issued == 60 and result.stock_left == 40
    assert m.publishes == 60
    assert result.publishes == 60  # what the server itself counted (INFO commandstats)
    assert m.attempts_per_success is not None and m.attempts_per_success >= 1.0
    assert m.hold_min_ms is not None and m.hold_min_ms > 0
    assert set(m.acquires_by_node) == {"app1", "app2"}  # least_conn used both servers


def test_the_comparison_counts_publish_from_redis_not_from_releases(binary):
    """A polling lock's release returns 1 and publishes nothing: both worlds say "-"."""
    from sim.compare import compare_runs

    for lock, expected in (("polling", None), ("seed", 20)):
        payload = compare_runs(Scenario(requests=20, vus=5, stock=100, lock=lock,
                                        horizon_ms=30_000.0),
                               redis_server=binary)
        assert payload["simulated"]["figures"]["publishes"] == expected, lock
        assert payload["real"]["figures"]["publishes"] == expected, lock


def test_gc_pause_counterexample_reproduces_on_seed(binary):
    cx = counterexample.load(GC_PAUSE)
    scenario = cx.scenario
    assert cx.origin["faults"] == ["gc-pause"] and scenario.lock == "seed"
    result = run_real(scenario, time_scale=0.5, redis_server=binary)
    verdicts = {v.property: v for v in check_all(result.history)}
    violated = [p for p in COUPON_RULES if verdicts[p].valid is False]
    assert violated, "the lost update did not happen on the real Redis"
    assert result.history.filter(process="nemesis", f="pause")


def test_fenced_lock_keeps_coupon_rules_on_the_same_schedule(binary):
    scenario = counterexample.load(GC_PAUSE).scenario
    result = run_real(scenario.with_(lock="seed-fenced"), time_scale=0.5, redis_server=binary)
    verdicts = {v.property: v for v in check_all(result.history)}
    assert all(verdicts[p].valid is not False for p in COUPON_RULES), \
        [verdicts[p].story for p in COUPON_RULES]
    assert result.history.filter(process="nemesis", f="pause")
    assert result.history.filter(f="read", type="fail") or \
        result.history.filter(f="issue", type="fail")  # the stale holder was refused


def test_network_delay_slows_the_holder(binary):
    scenario = Scenario(requests=20, vus=4, faults=(Delay(0.0, 400.0, 60.0, "app1"),), **BOUNDED)
    result = run_real(scenario, redis_server=binary)
    assert result.history.filter(process="nemesis", f="delay")
    # a command sent in the window waits 60 ms; its reply too if it arrives in the window
    sent = [p for p in result.history.pairs("attempt", node="app1")
            if p.end is not None and p.start < 400.0]
    assert sent and all(p.end - p.start >= 60.0 for p in sent), [p.end - p.start for p in sent]
    both = [p for p in sent if p.start < 400.0 - 70.0]
    assert both and all(p.end - p.start >= 120.0 for p in both), [p.end - p.start for p in both]
    assert all(v.valid is not False for v in check_all(result.history)
               if v.property in COUPON_RULES)


def test_crash_and_restart_of_an_app_server(binary):
    arrivals = tuple(40.0 * i for i in range(50))  # 2 s of load: the restart comes back
    scenario = Scenario(requests=50, vus=50, load="scheduled", arrivals_ms=arrivals, seed=3,
                        faults=(Crash(100.0, 100.0, "app1"),),
                        lock_params=(("ttl_ms", 500), ("wait_timeout_ms", 200)))
    result = run_real(scenario, redis_server=binary)
    h = result.history
    assert h.filter(process="nemesis", f="crash") and h.filter(process="nemesis", f="restart")
    old, new = result.pids["app1"]  # the crashed process, then its replacement
    assert new != old
    for pid in (old, new, *result.pids["app2"]):  # all stopped once the run is over
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    restart = h.filter(process="nemesis", f="restart")[0].time
    assert any(op.node == "app1" and op.time > restart for op in h.filter(f="request"))
    assert result.completed == 50
    assert all(v.valid is not False for v in check_all(h) if v.property in COUPON_RULES)


# -- CLI, cleanup, bad input ----------------------------------------------------------------------


def test_cli_replay_real_with_monitor(binary, tmp_path, capsys):
    log = tmp_path / "monitor.log"
    code = main(["replay", str(GC_PAUSE), "--real-redis", "--time-scale", "0.5", "--json",
                 "--redis-server", str(binary), "--monitor-log", str(log)])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["reproduced"] is True
    assert payload["simulated"]["valid"] is False and payload["real"]["valid"] is False
    lines = log.read_text().splitlines()
    assert lines[0] == "OK"
    assert any('"SET" "lock:coupon:issue:1"' in ln and '"NX"' in ln for ln in lines)


CTRL_C = textwrap.dedent("""
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {root!r})
    from sim.cli.main import main
    sys.exit(main(["replay", {file!r}, "--real-redis", "--redis-server", {binary!r}]))
""")


def test_ctrl_c_stops_server_and_workers(binary):
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C.format(root=str(ROOT), file=str(GC_PAUSE),
                                             binary=str(binary))],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        me = psutil.Process(child.pid)
        deadline = time.monotonic() + 30
        kids: list[psutil.Process] = []
        while time.monotonic() < deadline:
            kids = me.children(recursive=True)
            names = " ".join(" ".join(k.cmdline()) for k in kids if k.is_running())
            if "redis-server" in names and names.count("sim.real.worker") >= 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the driver did not start its server and workers")
        time.sleep(0.5)  # mid-run: the simulated pause lasts seconds
        child.send_signal(signal.SIGINT)
        child.wait(timeout=20)
        assert child.returncode == 130
        for kid in kids:
            with pytest.raises(psutil.NoSuchProcess):
                kid.wait(timeout=5)
                kid.status()
    finally:
        if child.poll() is None:
            child.kill()


def test_bad_input_is_one_line(tmp_path):
    for argv in (["replay", str(tmp_path / "missing.json"), "--real-redis"],
                 ["replay", str(GC_PAUSE), "--real-redis", "--redis-server", "/bin/false"],
                 ["replay", str(GC_PAUSE), "--real-redis", "--time-scale", "0"]):
        done = subprocess.run([sys.executable, "-m", "sim.cli.main", *argv], capture_output=True,
                              text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              timeout=60)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("locksim: error:")


def test_redis_restart_without_persistence(binary):
    scenario = Scenario(requests=40, vus=6, seed=5, faults=(Crash(100.0, None, "redis"),),
                        horizon_ms=30_000.0,
                        lock_params=(("ttl_ms", 500), ("wait_timeout_ms", 200)))
    result = run_real(scenario, redis_server=binary)
    h = result.history
    crash = h.filter(process="nemesis", f="crash", node="redis")
    assert crash and result.completed == 40
    # the workers reconnected: locks were taken again on the new, empty server
    assert any(op.time > crash[0].time for op in h.filter(f="acquire", type="ok"))


def test_redis_pause_stalls_commands(binary):
    scenario = Scenario(requests=40, vus=4, faults=(Pause(50.0, 300.0, "redis"),), **BOUNDED)
    result = run_real(scenario, redis_server=binary)
    h = result.history
    pause = h.filter(process="nemesis", f="pause", node="redis")[0]
    resume = h.filter(process="nemesis", f="resume", node="redis")[0]
    attempts = [p for f in ("attempt", "release") for p in h.pairs(f) if p.end is not None]
    # nothing answers while the server is stopped; what was sent waits for SIGCONT
    assert not [p for p in attempts if pause.time + 1.0 < p.end < resume.time]
    assert [p for p in attempts if p.start < resume.time - 100.0 and p.end >= resume.time]
    assert result.completed == 40


def test_explicit_redis_url_is_used_and_never_flushed(redis_servers):
    (server,) = redis_servers(1)
    client = server.client()
    client.set("theirs", "keep me")
    result = run_real(Scenario(requests=5, vus=2, **BOUNDED), redis_url=server.url)
    assert result.completed == 5
    assert client.get("theirs") == b"keep me"  # not flushed
    assert client.keys("sess:*")  # the run wrote its sessions there
    assert server.running  # and left the server it did not start alone


# -- one analyser for both worlds, and the lock zoo on a real Redis --------------------------


def test_monitor_capture_of_a_real_run_matches_its_own_history(binary, tmp_path):
    from sim.monitor.analyze import analyze

    log = tmp_path / "real.monitor"
    result = run_real(Scenario(requests=40, vus=10, stock=100, **BOUNDED), redis_server=binary,
                      monitor_log=log)
    m = metrics(result.history)
    report = analyze(log)
    assert report.bad_count == 0 and not report.script_mismatches
    assert report.set_nx_attempts == m.attempts
    assert report.set_nx_successes == m.acquires == 40
    assert report.publish == m.publishes == 40
    assert report.releases == 40 and report.expiries == 0 and not report.overlaps
    assert report.sessions == m.requests == 40
    # one command connection per app server: the per-client split is the per-server one
    assert sorted(report.acquires_by_client.values()) == sorted(m.acquires_by_node.values())


@pytest.mark.parametrize("lock", ["polling", "blpop", "redisson", "lua-atomic"])
def test_the_lock_zoo_runs_on_a_real_redis(binary, lock):
    """The designs the sweeps compare, incl. BLPOP on pooled connections and
    Redisson's one-waiter-per-process wake-ups, run unchanged on real processes."""
    scenario = Scenario(lock=lock, requests=30, vus=6, stock=20, horizon_ms=30_000.0)
    result = run_real(scenario, redis_server=binary)
    verdicts = {v.property: v for v in check_all(result.history)}
    assert all(verdicts[p].valid is not False for p in COUPON_RULES), \
        [verdicts[p].story for p in COUPON_RULES if verdicts[p].valid is False]
    m = metrics(result.history)
    assert result.completed == 30 and m.issued == 20  # sold out after 20, never more
