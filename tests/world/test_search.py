"""The search: design-independent schedule ids, templates, cause-keeping shrinks,
coverage goals and the PCT strategy."""

from __future__ import annotations

import json

import pytest

import models.locks.zoo  # noqa: F401  (registers the corpus)
from models.coverage import NAMES, reached, tally, unreached
from models.dist import Dist
from models.faults import FAULTS, Crash, Pause
from models.priorities import Priorities
from models.scenario import Scenario, ScenarioError
from sim.cli.main import main
from sim.search import shrink as shrinking
from sim.search.explore import SWARM, Job, explore, plan, schedule
from sim.world import run

KINDS = tuple(k for k in FAULTS if not FAULTS[k].ha)  # every kind a single Redis takes


# -- schedules independent of the design ---------------------------------------------------


@pytest.mark.parametrize("strategy", ["swarm", "pct"])
def test_two_designs_meet_the_same_workload_for_the_same_id(strategy):
    for index in range(12):
        a = plan(Job("seed", KINDS, 1, index, strategy=strategy))
        b = plan(Job("zoo-correct", KINDS, 1, index, strategy=strategy))
        assert (a.lock, b.lock) == ("seed", "zoo-correct")
        for field in ("requests", "arrivals_ms", "seed", "priorities", "priority_changes_ms"):
            assert getattr(a, field) == getattr(b, field), (index, field)
        if strategy == "swarm":  # pct aims its faults at each design's own protocol
            assert a.faults == b.faults, index


def test_a_swarm_schedule_is_its_fault_plan_whatever_the_lock():
    plans = {schedule(lock, KINDS, 3, 5).with_(lock="seed").to_json()
             for lock in ("seed", "polling", "redisson", "zoo-no-ttl")}
    assert len(plans) == 1
    assert schedule("seed", KINDS, 3, 5) != schedule("seed", KINDS, 3, 6)


def test_a_template_shapes_every_schedule():
    template = SWARM.with_(servers=1, requests=6, stock=3, lock="redisson",
                           lock_params=(("ttl_ms", 900),),
                           faults=(Pause(10.0, 20.0, "app1"),))
    for index in range(20):
        sc = schedule("redisson", KINDS, 1, index, template)
        assert sc.servers == 1 and sc.stock == 3 and 2 <= sc.requests <= 6
        assert sc.lock_params == (("ttl_ms", 900),)
        assert Pause(10.0, 20.0, "app1") in sc.faults
        assert all(f.node in ("holder", "app1", "redis", "storage") for f in sc.faults)
        sc.validate()
    # another design on the same template keeps the template's world, not its parameters
    assert schedule("seed", KINDS, 1, 0, template).lock_params == ()


# -- check --scenario / --lock-param ----------------------------------------------------------


def test_check_draws_swarms_onto_a_scenario_file_and_lock_params(tmp_path, capsys):
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"servers": 1, "requests": 3, "stock": 2, "lock": "redisson"}))
    code = main(["check", "--scenario", str(world), "--lock-param", "ttl_ms=9",
                 "--schedules", "20", "--workers", "1", "--faults", "", "--json",
                 "--out", str(tmp_path / "cx")])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["lock"] == "redisson"
    assert summary["lock_params"] == {"ttl_ms": 9}
    assert summary["coverage"]["renewal-ran"] == 20  # a 9 ms lease renews every 3 ms
    assert any("crash-between-acquire-commands" in w for w in summary["warnings"])


@pytest.mark.parametrize("argv, words", [
    (["--lock-param", "ttl_ms=-5"], "ttl_ms must be a positive number"),
    (["--lock-param", "nope=1"], "unexpected keyword argument 'nope'"),
    (["--lock-param", "ttl_ms"], "--lock-param takes NAME=VALUE"),
    (["--lock-param", "ttl_ms=[1, 2]"], "a number, true/false or text"),
    (["--scenario", "/nonexistent/world.json"], "cannot read scenario"),
    (["--scenario", "BAD"], "unknown scenario field(s): planets"),
    (["--scenario", "LIST"], "a scenario must be a JSON object"),
    (["--scenario", "SERVERS"], "servers"),
    (["--strategy", "dfs"], "invalid choice: 'dfs'"),
    (["--exhaustive", "--strategy", "pct"], "--strategy means nothing with --exhaustive"),
    (["--graph", "g.json"], "--graph needs --exhaustive"),
])
def test_bad_templates_are_one_line_and_exit_2(tmp_path, capsys, argv, words):
    files = {"BAD": {"planets": 9}, "LIST": [1, 2], "SERVERS": {"servers": "two"}}
    argv = [str(_write(tmp_path, files[a])) if a in files else a for a in argv]
    sized = [] if "--exhaustive" in argv else ["--schedules", "2", "--workers", "1"]
    try:
        code = main(["check", *sized, *argv])
    except SystemExit as stop:  # argparse's own refusals
        code = stop.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert words in err and "\n" not in err and "Traceback" not in err


def _write(tmp_path, data):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    return path


def test_lock_params_shape_the_exhaustive_world_too(capsys):
    code = main(["check", "--exhaustive", "--lock-param", "ttl_ms=0", "--max-runs", "2"])
    assert code == 2 and "ttl_ms" in capsys.readouterr().err


# -- shrinking keeps the cause ---------------------------------------------------------------


def test_a_shrink_keeps_the_witness_kind_not_just_the_property(monkeypatch):
    """A judge whose cause depends on how many faults remain: a cause-blind shrink
    would cut to one fault; one that keeps the cause stops at two."""
    def judge(scenario, prop):
        n = len(scenario.faults)
        return None if n == 0 else ("overlap" if n >= 2 else "stale-write")

    monkeypatch.setattr(shrinking, "cause_of", judge)
    start = SWARM.with_(faults=tuple(Pause(float(t), 500.0) for t in (100, 200, 300, 400)),
                        arrivals_ms=(0.0, 1.0, 2.0, 3.0))
    kept = shrinking.shrink(start, "mutual-exclusion")
    assert len(kept.faults) == 2
    assert shrinking.shrink(start.with_(faults=()), "mutual-exclusion") == start.with_(faults=())
    monkeypatch.setattr(shrinking, "cause_of", lambda sc, prop: "overlap" if sc.faults else None)
    assert len(shrinking.shrink(start, "mutual-exclusion").faults) == 1  # one cause: cut on


def test_a_real_shrink_still_violates_with_the_same_cause():
    found = shrinking.find("seed", ["gc-pause"], 1, 500, "stock-conservation")
    index, _ = shrinking.first_violation("seed", ["gc-pause"], 1, 500, "stock-conservation")
    original = schedule("seed", ("gc-pause",), 1, index)
    assert shrinking.cause_of(found, "stock-conservation") == \
        shrinking.cause_of(original, "stock-conservation") is not None
    assert len(found.faults) <= len(original.faults) and found.requests <= original.requests


# -- coverage goals --------------------------------------------------------------------------


def _goals(scenario):
    result = run(scenario)
    return set(reached(result.history, result))


def _two(lock="seed", arrivals=(0.0, 1.0), **kw):
    return SWARM.with_(lock=lock, requests=len(arrivals), vus=len(arrivals),
                       arrivals_ms=tuple(arrivals), **kw)


def test_a_paused_holder_outlives_its_lease_and_its_release_answers_0():
    paused = _goals(_two(arrivals=(0.0,), faults=(Pause(2.0, 6000.0),)))
    assert {"lease-expired-holder-alive", "release-answered-0"} <= paused
    assert not {"lease-expired-holder-alive", "release-answered-0"} & _goals(
        _two(arrivals=(0.0,)))


def test_a_waiter_woken_by_a_release_needs_contention():
    assert "waiter-woken-by-release" in _goals(_two(arrivals=(0.0, 0.5)))
    assert "waiter-woken-by-release" not in _goals(_two(arrivals=(0.0, 5000.0)))


def test_renewals_are_seen_in_the_key_log():
    fast = (("ttl_ms", 9),)
    assert "renewal-ran" in _goals(_two("redisson", (0.0,), lock_params=fast))
    assert "renewal-ran" not in _goals(
        _two("redisson", (0.0,), lock_params=(*fast, ("watchdog", False))))


def test_a_crash_between_setnx_and_pexpire_is_between_acquire_commands():
    base = _two("zoo-setnx-pexpire", (0.0,))
    pilot = run(base)
    (first, second) = [e for e in pilot.effects if e.key.startswith("lock:")][:2]
    assert (first.command, second.command) == ("SET", "PEXPIRE")
    node = pilot.requests[0].node
    between = base.with_(faults=(Crash(round((first.time + second.time) / 2, 6), None, node),))
    after = base.with_(faults=(Crash(round(second.time + 2.0, 6), None, node),))
    assert "crash-between-acquire-commands" in _goals(between)
    assert "crash-between-acquire-commands" not in _goals(after)


def test_tally_counts_every_goal_and_names_the_unreached():
    counts = tally([("renewal-ran",), ("renewal-ran", "release-answered-0"), ()])
    assert set(counts) == set(NAMES)
    assert counts["renewal-ran"] == 2 and counts["release-answered-0"] == 1
    assert "waiter-woken-by-release" in unreached(counts)
    assert "renewal-ran" not in unreached(counts)


# -- PCT -------------------------------------------------------------------------------------


def test_priorities_rotate_at_change_points_and_pick_latency_bands():
    p = Priorities(("req2", "req0", "req1"), (10.0, 20.0))
    assert [p.rank(f"app1/req{i}", 0.0) for i in range(3)] == [1, 2, 0]
    assert [p.rank(f"app2/req{i}", 10.0) for i in range(3)] == [0, 1, 2]  # req2 dropped
    assert [p.rank(f"app1/req{i}", 25.0) for i in range(3)] == [2, 0, 1]
    assert p.rank(None, 0.0) is None and p.rank("app1/req9", 0.0) is None
    lat = Dist("uniform", 0.0, 0.3)
    top, low = p.band(lat, "app1/req2", 0.0), p.band(lat, "app1/req1", 0.0)
    assert top.a == 0.0 and top.b == pytest.approx(0.1) and low.a == pytest.approx(0.2)
    assert p.band(Dist("const", 1.0), "app1/req2", 0.0) == Dist("const", 1.0)


def _winner(scenario):
    result = run(scenario)
    first = next(op for op in result.history.ops if op.f == "acquire" and op.type == "ok")
    return first.process.rsplit("/", 1)[-1]


def test_priorities_steer_the_run_and_are_checked():
    """Three requests at once on three servers (one connection keeps its order, as
    TCP does), Redis latency 0-100 ms: the top priority's commands reach Redis and
    come back in 0-33 ms, the others' no sooner, so it takes the lock."""
    base = _two(arrivals=(0.0, 0.0, 0.0), servers=3, client_latency=Dist("const", 0.5),
                redis_latency=Dist("uniform", 0.0, 100.0))
    assert _winner(base.with_(priorities=("req2", "req1", "req0"))) == "req2"
    assert _winner(base.with_(priorities=("req1", "req0", "req2"))) == "req1"
    # a change point before anything is sent: req1 drops to the bottom, req0 leads
    assert _winner(base.with_(priorities=("req1", "req0", "req2"),
                              priority_changes_ms=(0.0,))) == "req0"
    steered = base.with_(priorities=("req2", "req1", "req0"))
    assert run(steered).trace_hash == run(steered).trace_hash != run(base).trace_hash
    for bad in ({"priorities": ["me"]}, {"priorities": ["req0", "req0"]},
                {"priority_changes_ms": [5.0]}):
        with pytest.raises(ScenarioError):
            Scenario.from_dict(bad)


def test_pct_is_deterministic_across_workers_and_replays():
    one = explore("zoo-setnx-pexpire", KINDS, 2, 40, workers=1, hashes=True, strategy="pct")
    two = explore("zoo-setnx-pexpire", KINDS, 2, 40, workers=2, hashes=True, strategy="pct")
    assert [(o.index, o.violated, o.trace_hash) for o in one] == \
        [(o.index, o.violated, o.trace_hash) for o in two]
    assert any(o.violated for o in one)
    sc = plan(Job("zoo-setnx-pexpire", KINDS, 2, 3, strategy="pct"))
    again = Scenario.from_dict(json.loads(sc.to_json()))
    assert again == sc and run(again).trace_hash == one[3].trace_hash
    assert sc.priorities and 1 <= len(sc.faults) <= 2


def test_a_template_explores_alike_on_one_two_workers_and_dask():
    template = SWARM.with_(servers=3, requests=5, lock="polling",
                           lock_params=(("ttl_ms", 800),))
    kinds = ["gc-pause", "crash"]
    runs = [explore("polling", kinds, 1, 60, workers=w, hashes=True, template=template,
                    dask=d) for w, d in ((1, None), (2, None), (2, "local"))]
    hashes = [[o.trace_hash for o in r] for r in runs]
    assert hashes[0] == hashes[1] == hashes[2] and all(hashes[0])


def test_an_outcome_carries_each_violations_cause(monkeypatch):
    """``Verdict.cause`` where the checkers give one; "" where they do not yet."""
    import dataclasses

    import models.checkers as checkers

    @dataclasses.dataclass(frozen=True)
    class Judged:
        property: str
        valid: bool | None
        cause: str = ""

    monkeypatch.setattr(checkers, "check_all", lambda h, props=None, truth=None: (
        Judged("mutual-exclusion", False, "overlap"), Judged("no-over-issue", True),
        Judged("stock-conservation", False)))
    from sim.search.explore import run_schedule

    outcome = run_schedule(Job("seed", KINDS, 1, 0))
    assert outcome.violated == ("mutual-exclusion", "stock-conservation")
    assert outcome.causes == ("overlap", "")
