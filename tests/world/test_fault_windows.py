"""Each protocol window a triggered fault or a new kind reaches, shown on a design whose bug
lives there, and on its correct twin, which must survive the same schedule."""

from __future__ import annotations

import models.locks.zoo  # noqa: F401  -- registers the zoo designs
from models.checkers import check_all
from models.faults import parse_fault
from models.scenario import Scenario
from sim.search.exhaustive import exhaust, tiny
from sim.world import run

LOCK_KEY = "lock:coupon:issue:1"


def scenario(lock: str, *faults: str, arrivals: tuple[float, ...] = (0.0, 100.0),
             seed: int = 1) -> Scenario:
    return Scenario(servers=2, requests=len(arrivals), vus=len(arrivals), load="scheduled",
                    arrivals_ms=arrivals, lock=lock, stock=10, seed=seed, horizon_ms=30_000.0,
                    faults=tuple(parse_fault(f) for f in faults))


def violated(result) -> set[str]:
    return {v.property for v in check_all(result.history, truth=result) if v.valid is False}


def lock_effects(result):
    return [e for e in result.effects if e.key == LOCK_KEY]


def nemesis(result, f: str):
    return result.history.filter(process="nemesis", f=f)


def test_a_crash_between_setnx_and_pexpire_leaves_a_key_with_no_ttl():
    # cmd=1 is the request's session write; cmd=2 the lock's SET NX; then the crash
    bug = run(scenario("zoo-setnx-pexpire", "crash:0@cmd=2"))
    first = lock_effects(bug)[0]
    assert first.effect == "set" and first.ttl_ms is None
    assert not [e for e in lock_effects(bug) if e.command == "PEXPIRE"]  # never sent
    crash = nemesis(bug, "crash")[0]
    assert crash.time < first.time  # it died with the SET on the wire
    assert "immortal-lock" in violated(bug)
    twin = run(scenario("zoo-correct", "crash:0@cmd=2"))
    assert lock_effects(twin)[0].ttl_ms is not None
    assert not violated(twin) & {"immortal-lock", "request-answered"}


def test_the_count_starts_at_the_fault_time_and_binds_to_one_request():
    late = run(scenario("zoo-setnx-pexpire", "crash:50@cmd=2"))
    crash = nemesis(late, "crash")[0]
    assert crash.node == "app2" and crash.time > 100.0  # app1 was done: app2's 2nd command


def test_a_lost_reply_on_the_set_makes_the_retry_draw_a_new_token():
    bug = run(scenario("zoo-retry-new-token", "lost-reply:0@cmd=2"))
    landed = lock_effects(bug)[0]
    assert landed.request == "app1/req0" and landed.effect == "set"  # Redis ran it
    h = bug.history
    assert [o.value for o in h.filter(process="app1/req0", f="attempt", type="info")] == ["timeout"]
    tokens = [o.value for o in h.filter(process="app1/req0", f="attempt", type="invoke")]
    assert len(set(tokens)) >= 2 and landed.after.decode() == tokens[0]
    # nobody releases the landed token: the next grant waits for its TTL
    grants = [e for e in lock_effects(bug) if e.effect == "set"]
    assert grants[1].time - landed.time > 4000.0
    twin = run(scenario("zoo-correct-retry", "lost-reply:0@cmd=2"))
    grants = [e for e in lock_effects(twin) if e.effect == "set"]
    assert grants[1].time - grants[0].time < 1000.0  # the retry kept its token and went on


def test_a_lost_reply_without_a_timeout_ends_as_outcome_unknown():
    result = run(scenario("zoo-correct", "lost-reply:0@release"))
    release = result.history.filter(process="app1/req0", f="release")
    assert [o.type for o in release] == ["invoke", "info"]  # TIMED_OUT: never hangs
    assert [e.effect for e in lock_effects(result) if e.request == "app1/req0"][-1] == "del"


def test_a_slow_database_makes_a_fixed_lease_overlap_its_successor():
    bug = run(scenario("zoo-fixed-lease", "slow-storage:0:5000:1000"))
    assert nemesis(bug, "slow-storage")[0].node == "app1"  # deferred to the holder
    assert "mutual-exclusion" in violated(bug)
    fast = run(scenario("zoo-fixed-lease"))
    assert "mutual-exclusion" not in violated(fast)
    twin = run(scenario("zoo-correct", "slow-storage:0:5000:1000"))  # a 5 s lease outlasts it
    assert "mutual-exclusion" not in violated(twin)


def test_a_delayed_renewal_reaches_redis_after_a_successor_acquired():
    faults = ("slow-storage:0:12000:2000:storage", "delay:0:9000:6000@renewal")
    bug = run(scenario("zoo-bare-pexpire", *faults))
    delay = nemesis(bug, "delay")[0]
    assert delay.node == "app1" and delay.time > 1000.0  # at the watchdog's first renewal
    successor = next(e for e in lock_effects(bug) if e.request == "app2/req1"
                     and e.effect == "set")
    stale = [e for e in lock_effects(bug) if e.request == "app1/req0"
             and e.effect == "expire" and e.time > successor.time]
    assert stale and stale[0].before == successor.after  # it renewed app2's lease
    assert "foreign-renewal" in violated(bug)
    twin = run(scenario("zoo-correct-renewed", *faults))
    assert not [e for e in lock_effects(twin) if e.request == "app1/req0"
                and e.time > 5000.0]  # the checked renewal changed nothing
    assert "foreign-release" not in violated(twin)


def test_a_pause_at_a_lease_fraction_strikes_by_redis_ttl():
    result = run(scenario("zoo-fixed-lease", "slow-storage:0:5000:1000",
                          "pause:0:2000@lease=0.5"))
    grant = next(e for e in lock_effects(result) if e.effect == "set")
    pause = nemesis(result, "pause")[0]
    assert abs(pause.time - (grant.time + 0.5 * grant.ttl_ms)) < 1.0
    # a lease that is never half run down while held: no strike
    quick = run(scenario("zoo-fixed-lease", "pause:0:2000@lease=0.5"))
    assert not nemesis(quick, "pause")


def test_a_pause_between_the_check_and_the_write_holds_the_write():
    """One synchronous step reads the stock's reply, checks it and sends the commit: the
    pause falls inside it, and the write leaves only when the pause ends."""
    result = run(scenario("zoo-correct", "pause:0:6000@write"))
    h = result.history
    pause, resume = nemesis(result, "pause")[0], nemesis(result, "resume")[0]
    read = next(o for o in h.filter(process="app1/req0", f="read") if o.type == "ok")
    issue = [o for o in h.filter(process="app1/req0", f="issue")]
    assert pause.time == read.time == issue[0].time  # after the check, in the same step
    assert issue[-1].type == "ok" and issue[-1].time > resume.time
    # the 5 s lease ran out meanwhile: a successor read the same stock, one update is lost
    assert "stock-conservation" in violated(result)
    again = run(scenario("zoo-correct", "pause:0:6000@write", seed=2))
    assert nemesis(again, "pause")[0].time == next(
        o for o in again.history.filter(process="app1/req0", f="read") if o.type == "ok").time


def test_a_redis_restart_loses_the_lock_and_serves_nothing_while_down():
    result = run(scenario("zoo-correct", "slow-storage:0:5000:1000", "redis-restart:50:300"))
    assert [e.effect for e in result.effects if e.request is None and e.key == LOCK_KEY] \
        == ["lost"]
    assert all(not 50.0 < t < 350.0 for t, *_ in result.redis_log)
    assert [o.f for o in nemesis(result, "crash") + nemesis(result, "restart")] == \
        ["crash", "restart"]


def test_triggered_runs_replay_exactly():
    s = scenario("zoo-bare-pexpire", "slow-storage:0:12000:2000:storage",
                 "delay:0:9000:6000@renewal", "lost-reply:0@cmd=3")
    again = Scenario.from_dict(s.to_dict())
    assert run(s).trace_hash == run(again).trace_hash


def test_the_exhaustive_explorer_permutes_around_an_aimed_fault():
    crash = (parse_fault("crash:0@cmd=2"),)
    bug = exhaust(tiny("zoo-setnx-pexpire", faults=crash), depth=6)
    # whichever request acts first is struck after its 2nd command: when that was the
    # winning SET NX, the lock is immortal
    assert bug.covered and 0 < bug.violations.get("immortal-lock", 0) < bug.runs
    for finding in bug.findings[:3]:
        assert run(finding.scenario).trace_hash == finding.trace_hash
    twin = exhaust(tiny("zoo-correct", faults=crash), depth=6)
    assert twin.covered and "immortal-lock" not in twin.violations


def test_swarms_of_aimed_faults_reach_the_window_times_never_do():
    from sim.search.explore import Job, run_schedule

    def found(lock: str, kinds: tuple[str, ...]) -> list[int]:
        return [i for i in range(150)
                if "immortal-lock" in run_schedule(Job(lock, kinds, 1, i)).violated]

    aimed, timed = found("zoo-setnx-pexpire", ("aimed",)), found("zoo-setnx-pexpire", ("crash",))
    assert len(aimed) > len(timed)  # a crash at a uniform time almost never hits the gap
    assert not found("zoo-correct", ("aimed",))
