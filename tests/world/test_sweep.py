"""Sweeps: grids, determinism across workers, statistics, and the ``locksim sweep`` command."""

from __future__ import annotations

import json
import math

import pytest

from models.dist import Dist
from sim.cli.main import main
from sim.sweep import Grid, SweepError, mean_ci, run_rows, summarize, sweep, wilson
from sim.sweep.gc import GcProcess

TINY = Grid(strategy=("seed", "blpop"), vus=(1, 8), requests=(24,), seeds=2)


def test_a_grid_is_every_combination_times_the_seeds():
    tasks = TINY.tasks()
    assert len(tasks) == TINY.size() == 2 * 2 * 2
    assert {(p["strategy"], p["vus"], s) for _, p, s in tasks} == {
        (st, v, s) for st in ("seed", "blpop") for v in (1, 8) for s in (1, 2)}


def test_same_grid_same_frame_with_any_number_of_workers():
    one = run_rows(TINY, workers=1)
    two = run_rows(TINY, workers=2)
    assert one == two
    assert [r["trace_hash"] for r in one] == [r["trace_hash"] for r in run_rows(TINY, 1)]


def test_summary_has_one_row_per_point_with_intervals():
    frame, summary = sweep(TINY, workers=1, progress=False)
    assert len(frame) == 8 and len(summary) == 4
    row = summary[(summary.strategy == "seed") & (summary.vus == 8)].iloc[0]
    assert row.runs == 2 and row.issued == 24
    assert row.attempts_per_success > 1  # a herd at 8 users
    assert row.throughput_rps_lo <= row.throughput_rps <= row.throughput_rps_hi
    assert row.violation == 0 and row.violation_hi > 0  # Wilson: 0 of 2 is not certainty


def test_critical_section_time_stretches_the_lock_hold():
    grid = Grid(strategy=("seed",), vus=(1,), requests=(10,), seeds=1, cs_ms=(6.8, 40.0))
    frame, _ = sweep(grid, workers=1, progress=False)
    short, long_ = frame.sort_values("cs_ms").latency_p50_ms
    assert long_ > short + 25


def test_gc_pauses_are_deterministic_and_hit_every_server():
    gc = GcProcess(2.0, Dist("exp", 100.0))
    a = gc.pauses(2, 10_000.0, seed=7)
    assert a == gc.pauses(2, 10_000.0, seed=7) and a != gc.pauses(2, 10_000.0, seed=8)
    assert {p.node for p in a} == {"app1", "app2"}
    assert 10 < len(a) < 80 and all(p.at_ms < 10_000.0 for p in a)
    assert GcProcess(0.0).pauses(2, 10_000.0, seed=7) == ()


def test_long_gc_pauses_and_a_short_ttl_break_mutual_exclusion():
    grid = Grid(strategy=("seed",), load="open", rate_rps=(60.0,), requests=(120,), seeds=3,
                ttl_ms=(300,), gc_rate=(2.0,), gc_pause=("const:1000",), vus=(1,))
    _, summary = sweep(grid, workers=1, progress=False)
    assert summary.mutual_exclusion.iloc[0] > 0


def test_wilson_and_t_intervals():
    p, lo, hi = wilson(0, 10)
    assert p == 0 and lo == 0 and 0.25 < hi < 0.35
    p, lo, hi = wilson(5, 10)
    assert lo < 0.5 < hi and abs((0.5 - lo) - (hi - 0.5)) < 1e-9
    mean, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and abs(hi - 2.0 - 4.303 / math.sqrt(3)) < 1e-9
    assert math.isnan(mean_ci([math.nan])[0])


@pytest.mark.parametrize("bad", [Grid(vus=()), Grid(strategy=("nope",)), Grid(ttl_ms=(0,)),
                                 Grid(gc_pause=("weird:1",)), Grid(seeds=0)])
def test_bad_grids_say_why(bad):
    with pytest.raises(SweepError):
        bad.validate()


def test_summarize_keeps_nan_metrics_of_a_lockless_design():
    frame, summary = sweep(Grid(strategy=("lua-atomic",), vus=(4,), requests=(12,), seeds=2),
                           workers=1, progress=False)
    assert math.isnan(summary.wait_p99_ms.iloc[0])
    assert summary.commands_per_coupon.iloc[0] == 2.0  # session SET + one script
    assert summarize(frame).equals(summary)


def test_sweep_command_writes_csv_json_and_plots(tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(["sweep", "--strategies", "seed,redisson", "--vus", "1,6", "--requests", "16",
                 "--seeds", "2", "--workers", "1", "--out", str(out), "--json"]) == 0
    files = {p.name for p in out.iterdir()}
    assert {"runs.csv", "summary.csv", "summary.json", "throughput_rps.png",
            "wait_p99_ms.png", "commands_per_coupon.png"} <= files
    assert (out / "throughput_rps.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((out / "summary.json").read_text())
    assert data["x"] == "vus" and len(data["summary"]) == 4
    assert len((out / "runs.csv").read_text().splitlines()) == 1 + 8
    assert json.loads(capsys.readouterr().out)["runs"] == 8


@pytest.mark.parametrize("argv", [["--vus", "1,x"], ["--strategies", "nope"],
                                  ["--ttl", "-5"], ["--gc-pause", "weird:1"], ["--x", "nope"],
                                  ["--workers", "0"]])
def test_sweep_command_bad_input_is_one_line_exit_2(argv, capsys, tmp_path):
    assert main(["sweep", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("locksim: error:") and "\n" not in err


def test_a_failover_sweep_rises_with_replica_lag_and_falls_with_down_after():
    """sentinel:2, the master dies at 50 ms: a lag past the holder's SET loses the lock."""
    from sim.sweep import Grid, sweep

    kw = dict(strategy=("polling",), vus=(2,), requests=(2,), topology=("sentinel:2",),
              ttl_ms=(5000,), cs_ms=(1000.0,), failover_at_ms=(50.0,), seeds=8)
    _, lag = sweep(Grid(replica_lag_ms=(10.0, 200.0), down_after_ms=(500.0,), **kw),
                   workers=1, progress=False)
    assert lag["mutual_exclusion"].iloc[0] == 0.0 and lag["mutual_exclusion"].iloc[1] >= 0.75
    assert (lag["mutual_exclusion_lo"] <= lag["mutual_exclusion"]).all()
    _, down = sweep(Grid(replica_lag_ms=(200.0,), down_after_ms=(100.0, 3000.0), **kw),
                    workers=1, progress=False)
    assert down["mutual_exclusion"].iloc[0] > down["mutual_exclusion"].iloc[1]
    again = sweep(Grid(replica_lag_ms=(200.0,), down_after_ms=(100.0, 3000.0), **kw),
                  workers=1, progress=False)[0]
    assert list(again["trace_hash"]) == list(sweep(Grid(
        replica_lag_ms=(200.0,), down_after_ms=(100.0, 3000.0), **kw), workers=1,
        progress=False)[0]["trace_hash"])


def test_sweep_refuses_bad_topology_options_in_one_line(capsys):
    from sim.cli.main import main

    for argv in (["--redis", "sentinel:0"], ["--replica-lag", "-1"], ["--failover", "x"],
                 ["--down-after", "1,-2"], ["--redis", "sentinel:2", "--persistence", "zz"]):
        assert main(["sweep", *argv, "--out", "/tmp/locksim-sweep-bad"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, (argv, err)
