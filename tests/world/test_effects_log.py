"""RedisNode's ground-truth log: who changed which key, and the trace hash untouched."""

from models.checkers import check_all
from models.faults import DEFAULT_KINDS
from models.scenario import Scenario
from sim.search.explore import schedule
from sim.world import run


def test_effects_are_attributed_to_requests_and_leave_the_hash_alone():
    r = run(Scenario())
    assert r.trace_hash == "ab5be1fdbfdd51d4b70fa12e01b5476f10ad5bb4320ad9965ef0f4576ca1d538"
    locks = [e for e in r.effects if e.key.startswith("lock:")]
    assert locks and all(e.request is None or e.request.startswith("app") for e in locks)
    sets = [e for e in locks if e.effect == "set"]
    assert all(e.before is None and e.after is not None and e.ttl_ms for e in sets)
    assert {e.request for e in r.requests} >= {e.request for e in sets}


def test_plain_del_is_caught_as_foreign_release():
    import models.locks.zoo  # noqa: F401  (registers the corpus)
    from sim.search.shrink import first_violation

    index, _ = first_violation("zoo-unconditional-del", DEFAULT_KINDS, 1, 200, "foreign-release")
    r = run(schedule("zoo-unconditional-del", DEFAULT_KINDS, 1, index))
    v = check_all(r.history, ["foreign-release"], truth=r)[0]
    assert v.valid is False and "DEL" in v.story


def test_without_a_log_the_ground_truth_checkers_have_no_evidence():
    r = run(Scenario())
    assert {v.valid for v in check_all(r.history, ["foreign-release", "immortal-lock"])} == {None}
