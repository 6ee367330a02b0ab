"""The table 7.1 figures from a hand-built history, and the percentile method."""

from __future__ import annotations

import json

import pytest

from models.history import History, Recorder
from models.metrics import Metrics, metrics, percentile

K = "lock:coupon:issue:1"


def run_of_three() -> History:
    """Three requests on two nodes; req2 waits for req1, req3 waits for req2."""
    r = Recorder()

    def rec(t, proc, typ, f, value=None):
        r.record(t, proc, typ, f, value, proc.split("/")[0] if "/" in proc else "")

    rec(0, "storage", "ok", "init", 10)
    rec(1000, "app1/req1", "invoke", "request", 1)
    rec(1000, "app2/req2", "invoke", "request", 2)
    rec(1001, "app1/req1", "invoke", "acquire", K)
    rec(1001, "app1/req1", "invoke", "attempt", "a")
    rec(1001, "app2/req2", "invoke", "acquire", K)
    rec(1001, "app2/req2", "invoke", "attempt", "b")
    rec(1002, "app1/req1", "ok", "attempt", "a")
    rec(1002, "app1/req1", "ok", "acquire", ("a", None, 5000))
    rec(1002, "app2/req2", "fail", "attempt")
    rec(1002, "app2/req2", "invoke", "wait", K)
    rec(1003, "app2/req3", "invoke", "request", 3)
    rec(1003, "app2/req3", "invoke", "acquire", K)
    rec(1003, "app2/req3", "invoke", "attempt", "c")
    rec(1004, "app2/req3", "fail", "attempt")
    rec(1004, "app2/req3", "invoke", "wait", K)
    rec(1005, "app1/req1", "invoke", "issue", (1, None))
    rec(1006, "app1/req1", "ok", "issue")
    rec(1007, "app1/watchdog1", "invoke", "extend", "a")
    rec(1007.5, "app1/watchdog1", "ok", "extend", ("a", 1, 5000))
    rec(1008, "app1/req1", "invoke", "release", "a")  # held 1002 -> 1008: 6 ms
    rec(1009, "app1/req1", "ok", "release", ("a", 1))
    rec(1009, "app1/req1", "ok", "request", "issued")
    rec(1010, "app2/req2", "ok", "wait")
    rec(1010, "app2/req3", "ok", "wait")
    rec(1010, "app2/req2", "invoke", "attempt", "b")
    rec(1010, "app2/req3", "invoke", "attempt", "c")
    rec(1011, "app2/req2", "ok", "attempt", "b")
    rec(1011, "app2/req2", "ok", "acquire", ("b", None, 5000))  # waited 1001 -> 1011
    rec(1011, "app2/req3", "fail", "attempt")
    rec(1011, "app2/req3", "invoke", "wait", K)
    rec(1012, "nemesis", "info", "pause", 5.0)
    rec(1015, "app2/req2", "invoke", "issue", (2, None))
    rec(1016, "app2/req2", "ok", "issue")
    rec(1017, "app2/req2", "invoke", "release", "b")  # held 1011 -> 1017: 6 ms
    rec(1018, "app2/req2", "ok", "release", ("b", 1))
    rec(1018, "app2/req2", "ok", "request", "issued")
    rec(1019, "app2/req3", "ok", "wait")
    rec(1019, "app2/req3", "invoke", "attempt", "c")
    rec(1020, "app2/req3", "ok", "attempt", "c")
    rec(1020, "app2/req3", "ok", "acquire", ("c", None, 5000))  # waited 1003 -> 1020
    rec(1021, "app2/watchdog3", "invoke", "extend", "c")
    rec(1021, "app2/watchdog3", "ok", "extend", ("c", 0, 5000))
    rec(1022, "app2/req3", "invoke", "release", "c")  # held 1020 -> 1022: 2 ms
    rec(1022.5, "app2/req3", "ok", "release", ("c", 0))
    rec(1023, "nemesis", "info", "crash", None)
    rec(1025, "app2/req3", "ok", "request", "already-issued")
    return r.history().validate()


def test_figures_of_a_small_run():
    m = metrics(run_of_three())
    assert m.duration_ms == 25.0  # first request invoke 1000 -> last completion 1025
    assert (m.requests, m.requests_failed, m.issued) == (3, 0, 2)
    assert m.throughput_rps == pytest.approx(3 / 0.025)
    assert m.acquires == 3
    assert (m.hold_mean_ms, m.hold_min_ms, m.hold_max_ms) == (pytest.approx(14 / 3), 2.0, 6.0)
    # waits 1, 10, 17 ms: nearest rank p50 -> 2nd, p90 and p99 -> 3rd
    assert (m.wait_p50_ms, m.wait_p90_ms, m.wait_p99_ms, m.wait_max_ms) == (10.0, 17, 17, 17)
    assert m.attempts == 6 and m.attempts_per_success == 2.0
    assert m.publishes == 2  # no publish ops: the releases that returned 1
    assert m.acquires_by_node == {"app1": 1, "app2": 2}
    assert m.max_node_share_pct == pytest.approx(200 / 3)
    assert (m.extends_ok, m.extends_failed) == (1, 1)
    assert (m.crashes, m.pauses) == (1, 1)


def test_publish_ops_win_over_release_results():
    h = run_of_three()
    r = Recorder()
    for op in h:
        r.record(op.time, op.process, op.type, op.f, op.value, op.node)
    for t in (2000, 2001, 2002):
        r.record(t, "app1/req1", "ok", "publish", ("lock:release:coupon:issue:1", 2), "app1")
    assert metrics(r.history()).publishes == 3


def test_failed_and_unknown_requests_and_hold_pairs_by_process():
    r = Recorder()
    r.record(0, "app1/req1", "invoke", "request", 1, "app1")
    r.record(0, "app1/req1", "invoke", "acquire", K, "app1")
    r.record(1, "app1/req1", "ok", "acquire", ("a", 1, 100), "app1")
    r.record(2, "app1/req2", "invoke", "request", 2, "app1")
    r.record(3, "app1/req2", "invoke", "release", "zzz", "app1")  # another process: ignored
    r.record(4, "app1/req2", "fail", "release", None, "app1")
    r.record(5, "app1/req1", "info", "request", "crashed", "app1")
    r.record(9, "app1/req2", "fail", "request", "stale-fence", "app1")
    m = metrics(r.history())
    assert (m.requests, m.requests_failed, m.duration_ms) == (0, 2, 9.0)
    assert m.throughput_rps == 0.0 and m.hold_mean_ms is None and m.wait_max_ms == 1.0


def test_empty_history():
    m = metrics(History())
    assert m == Metrics()
    assert m.duration_ms == 0.0 and m.wait_p50_ms is None and m.attempts_per_success is None
    assert m.max_node_share_pct is None and m.acquires_by_node == {}


def test_as_dict_is_json_ready():
    d = metrics(run_of_three()).as_dict()
    assert json.loads(json.dumps(d)) == d
    for key in ("issued", "duration_ms", "throughput_rps", "hold_mean_ms", "hold_min_ms",
                "hold_max_ms", "attempts", "attempts_per_success", "publishes",
                "acquires_by_node", "wait_p50_ms", "wait_p99_ms"):
        assert key in d
    d["acquires_by_node"]["app9"] = 1  # a copy: the metrics stay as they were
    assert "app9" not in metrics(run_of_three()).acquires_by_node


def test_accepts_a_plain_list_of_ops():
    assert metrics(list(run_of_three())) == metrics(run_of_three())


def test_percentile_nearest_rank():
    data = [15, 20, 35, 40, 50]
    assert [percentile(data, p) for p in (5, 30, 40, 50, 100)] == [15, 20, 20, 35, 50]
    hundred = list(range(100, 0, -1))  # unsorted input is fine
    assert (percentile(hundred, 50), percentile(hundred, 90), percentile(hundred, 99)) == (
        50, 90, 99)
    assert percentile([7.5], 99) == 7.5
    assert percentile([], 50) is None
    for bad in (0, -1, 101):
        with pytest.raises(ValueError):
            percentile(data, bad)
