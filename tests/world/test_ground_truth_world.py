"""Each bug class of the quality corpus, found in the simulated world by its own ground-truth
property, in a scenario with explicit faults; its correct twin passes the same scenario.

The fault times were found by hand from the fault-free run's command log (where
a design's commands land); each test asserts the log still has that shape, so a
change in timing fails loudly here rather than silently testing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import models.locks.zoo  # noqa: F401  (registers the corpus)
from models.checkers import GROUND_TRUTH, Verdicts, check_all
from models.dist import Dist
from models.faults import Clock, Crash, Delay, Fault, Pause
from models.locks.effect import TIMED_OUT, Call, Program, Record, Sleep, Token
from models.locks.held import Held
from models.locks.zoo._base import checked_release
from models.scenario import Scenario
from sim.world import RunResult, run

SLOW_STORAGE = Dist("const", 300.0)  # a critical section of ~1.2 s: it outlives a pause's end


def world(lock: str, faults: tuple[Fault, ...] = (), arrivals: tuple[float, ...] = (0.0, 100.0),
          **kw: Any) -> tuple[RunResult, Verdicts]:
    sc = Scenario(servers=2, requests=len(arrivals), vus=len(arrivals), load="scheduled",
                  arrivals_ms=arrivals, lock=lock, stock=10, faults=faults, horizon_ms=60_000.0,
                  **kw)
    r = run(sc)
    return r, check_all(r.history, truth=r)


def causes(vs: Verdicts) -> set[tuple[str, str]]:
    return {(v.property, v.cause) for v in vs.violated}


def ground_truth_violations(vs: Verdicts) -> set[str]:
    return {v.property for v in vs.violated if v.property in GROUND_TRUTH}


# (buggy design, its twin, scenario, the (property, cause) the bug must show)
CASES: dict[str, tuple[str, str, dict[str, Any], tuple[str, str]]] = {
    # the holder pauses past its TTL; B takes the lock; A's watchdog wakes while B holds
    "bare-pexpire": ("zoo-bare-pexpire", "zoo-correct-renewed",
                     {"faults": (Pause(5.0, 5400.0, "holder"),), "storage_latency": SLOW_STORAGE},
                     ("foreign-renewal", "re-timed-successor")),
    # the holder pauses past its TTL alone; its watchdog's script finds the key gone
    "extend-recreates": ("zoo-extend-recreates", "zoo-correct-renewed",
                         {"faults": (Pause(5.0, 5400.0, "holder"),), "arrivals": (0.0,),
                          "storage_latency": SLOW_STORAGE},
                         ("resurrected-lock", "re-created-after-expired")),
    # no fault at all: the 500 ms lease is shorter than a 1.2 s critical section
    "fixed-lease": ("zoo-fixed-lease", "zoo-correct-renewed",
                    {"storage_latency": SLOW_STORAGE, "lock_params": (("ttl_ms", 500),)},
                    ("lease-lapsed", "expired-while-working")),
    # no fault: the second request waits > TTL, its local-clock check skips every renewal
    "local-clock": ("zoo-local-clock", "zoo-correct-renewed",
                    {"storage_latency": Dist("const", 400.0), "arrivals": (0.0, 10.0),
                     "lock_params": (("ttl_ms", 1000),)},
                    ("lease-lapsed", "expired-while-working")),
    # the first SET's reply is 300 ms late (timeout 200 ms): it landed, the retry draws anew
    "retry-new-token": ("zoo-retry-new-token", "zoo-correct-retry",
                        {"faults": (Delay(1.0, 100.0, 300.0, "app1"),)},
                        ("orphaned-lock", "abandoned-token")),
    # SET NX lands at ~1.2 ms, PEXPIRE at ~1.5 ms: the server crashes in between
    "setnx-pexpire": ("zoo-setnx-pexpire", "zoo-correct",
                      {"faults": (Crash(1.3, None, "app1"),)},
                      ("immortal-lock", "no-ttl-after-crash")),
    # three requests; the last to draw its fence polls first after the first release
    "fence-before": ("zoo-fence-before", "zoo-correct-fenced",
                     {"storage_latency": SLOW_STORAGE, "arrivals": (0.0, 20.0, 110.0)},
                     ("fence-grant-order", "fence-below-earlier-grant")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_bug_is_found_as_itself_and_its_twin_passes(case):
    buggy, twin, kw, expected = CASES[case]
    _, bad = world(buggy, **kw)
    assert expected in causes(bad), [(v.property, v.cause, v.story) for v in bad.violated]
    # the bug class ranks before any downstream harm it causes
    assert (bad.violated[0].property, bad.violated[0].cause) == expected
    _, good = world(twin, **kw)
    assert ground_truth_violations(good) == set(), [v.story for v in good.violated]


def test_the_setnx_pexpire_window_is_where_the_crash_lands():
    r, _ = world("zoo-setnx-pexpire")
    lock = [e for e in r.effects if e.key.startswith("lock:") and e.request == "app1/req0"]
    assert [e.command for e in lock[:2]] == ["SET", "PEXPIRE"]
    assert lock[0].time < 1.3 < lock[1].time


def test_a_crash_outside_the_window_leaves_no_immortal_lock():
    _, vs = world("zoo-setnx-pexpire", faults=(Crash(1.6, None, "app1"),))
    assert "immortal-lock" not in {v.property for v in vs.violated}


def test_fence_order_is_judged_whether_or_not_the_storage_fences():
    kw = CASES["fence-before"][2]
    _, fencing = world("zoo-fence-before", **kw)
    # the storage refuses the rightful later holder: an availability failure of its own
    assert ("fenced-out-holder", "refused-sole-holder") in causes(fencing)
    _, plain = world("zoo-fence-before", fencing_storage=False, **kw)
    assert ("fence-grant-order", "fence-below-earlier-grant") in causes(plain)
    assert "fenced-out-holder" not in {v.property for v in plain.violated}
    for storage in (True, False):
        _, twin = world("zoo-correct-fenced", fencing_storage=storage, **kw)
        assert ground_truth_violations(twin) == set()


def test_a_pause_past_the_ttl_is_k1_not_a_lapse():
    """Correct renewing designs under a pause longer than the TTL: mutual-exclusion says it."""
    for lock in ("zoo-correct-renewed", "zoo-correct", "redisson", "polling"):
        _, vs = world(lock, faults=(Pause(5.0, 5400.0, "holder"),),
                      storage_latency=SLOW_STORAGE)
        assert "mutual-exclusion" in {v.property for v in vs.violated}, lock
        assert ground_truth_violations(vs) == set(), (lock, [v.story for v in vs.violated])


@pytest.mark.parametrize("lock", ["polling", "blpop", "redisson", "zoo-correct"])
def test_every_waiter_kind_gets_a_lock_freed_by_expiry(lock):
    """The holder's server crashes holding the lock: each waiter takes it once the TTL ends."""
    r, vs = world(lock, faults=(Crash(5.0, None, "app1"),), arrivals=(0.0, 1.0))
    lock_sets = [e for e in r.effects if e.key.startswith("lock:") and e.effect == "set"]
    assert [e.request for e in lock_sets][:1] == ["app1/req0"]  # the crash caught a holder
    assert {"no-stuck-waiter", "request-answered"}.isdisjoint(v.property for v in vs.violated)


def test_a_pub_sub_waiter_never_woken_after_an_expiry_is_stuck():
    """seed's known lost wake-up: expiry publishes nothing, so its waiter sleeps on."""
    _, vs = world("seed", faults=(Crash(5.0, None, "app1"),), arrivals=(0.0, 1.0))
    assert ("no-stuck-waiter", "waited-on-free-lock") in causes(vs)
    assert ("request-answered", "never-answered") in causes(vs)
    names = [v.property for v in vs.violated]
    assert names.index("no-stuck-waiter") < names.index("request-answered")


def test_the_log_names_a_refused_set_only_when_the_key_holds_the_requests_own_value():
    r, _ = world("zoo-retry-new-token", **CASES["retry-new-token"][2])
    refused = [e for e in r.effects if e.effect == "refused"]
    assert refused and all(e.before == e.after and e.wanted != e.before for e in refused)
    assert {e.request for e in refused} == {"app1/req0"}
    # heavy contention: every waiter is refused by someone else's key, none by its own
    busy, _ = world("polling", arrivals=tuple(float(i) for i in range(6)),
                    storage_latency=SLOW_STORAGE)
    assert busy.redis_counts["SET"] > 6 + 10  # sessions and acquires, then refused polls
    assert [e for e in busy.effects if e.effect == "refused"] == []


SET_NX_SCRIPT = "return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])"


@dataclass(frozen=True, slots=True)
class ScriptedRetry:
    """Another implementation of the retry class: the SET NX runs in a script, and a timed-out
    attempt retries with a new token (``same_token``: the fix)."""

    same_token: bool = False
    name: str = "scripted-retry"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        while True:
            reply = yield Call(("EVAL", SET_NX_SCRIPT, 1, key, token, 5000), 200.0)
            if reply == b"OK":
                break
            if reply is TIMED_OUT and not self.same_token:
                token = yield Token()
            elif (reply is not TIMED_OUT and self.same_token
                  and (yield Call(("GET", key))) == token.encode()):
                break  # our timed-out SET had landed after all
            yield Sleep(100.0)
        yield Record("ok", "acquire", (token, None, 5000))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from checked_release(held.key, held.token)


@pytest.mark.parametrize("same_token", [False, True])
def test_a_scripted_retry_with_a_new_token_is_an_orphan_too(same_token):
    sc = Scenario(servers=2, requests=2, vus=2, load="scheduled", arrivals_ms=(0.0, 100.0),
                  lock="zoo-correct", stock=10, faults=(Delay(1.0, 100.0, 300.0, "app1"),),
                  horizon_ms=60_000.0)
    r = run(sc, lock=ScriptedRetry(same_token))  # type: ignore[arg-type]
    refused = [e for e in r.effects if e.effect == "refused"]
    assert [e.command for e in refused][:1] == ["EVAL>SET"]
    vs = check_all(r.history, truth=r)
    found = ("orphaned-lock", "abandoned-token") in causes(vs)
    assert found is not same_token, [v.story for v in vs.violated]


def test_a_clock_jump_makes_a_local_clock_holder_skip_its_renewal():
    """A jump excuses nothing: timers and TTLs ignore it; only a design that trusts it lapses."""
    kw: dict[str, Any] = {"storage_latency": Dist("const", 2000.0), "arrivals": (0.0,)}
    jump = (Clock(100.0, 3000.0, 0.0, "app1"),)
    _, bad = world("zoo-local-clock", faults=jump, **kw)
    assert ("lease-lapsed", "expired-while-working") in causes(bad)
    _, calm = world("zoo-local-clock", **kw)  # the same work, no jump: it renews in time
    assert ground_truth_violations(calm) == set()
    _, twin = world("zoo-correct-renewed", faults=jump, **kw)
    assert ground_truth_violations(twin) == set()
