"""Exploration: schedules by id, worker-count independence, counterexamples that replay."""

from __future__ import annotations

import json

from sim.cli.main import main
from sim.search.explore import explore, schedule


def _violating(outcomes):
    return [(o.index, o.violated) for o in outcomes if o.violated]


def test_a_schedule_is_a_pure_function_of_its_id():
    assert schedule("seed", ("gc-pause",), 1, 7) == schedule("seed", ("gc-pause",), 1, 7)
    assert schedule("seed", ("gc-pause",), 1, 7) != schedule("seed", ("gc-pause",), 1, 8)


def test_same_violations_with_one_worker_two_workers_and_dask():
    kinds = ["gc-pause", "delay", "crash"]
    one = explore("seed", kinds, 1, 300, workers=1, hashes=True)
    two = explore("seed", kinds, 1, 300, workers=2, hashes=True)
    on_dask = explore("seed", kinds, 1, 300, workers=2, dask="local", hashes=True)
    assert all(o.trace_hash for o in one)
    assert _violating(one) == _violating(two) == _violating(on_dask)
    assert [o.trace_hash for o in one] == [o.trace_hash for o in two]
    assert [o.trace_hash for o in one] == [o.trace_hash for o in on_dask]
    assert len(_violating(one)) > 10  # the seed lock does fail under these faults


def test_an_unreachable_dask_scheduler_is_one_line(capsys):
    code = main(["check", "--schedules", "5", "--dask", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("locksim: error: cannot reach the Dask scheduler")
    assert "\n" not in err


def test_check_finds_shrinks_and_replays(tmp_path, capsys):
    out = tmp_path / "cex"
    code = main(["check", "--lock", "seed", "--faults", "gc-pause", "--schedules", "200",
                 "--seed", "1", "--workers", "1", "--out", str(out), "--json",
                 "--check-determinism"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1
    assert summary["violations"].get("stock-conservation", 0) >= 1
    assert "determinism" not in summary["violations"]
    (cex,) = [c for c in summary["counterexamples"] if c["property"] == "stock-conservation"]
    assert cex["faults"] <= 3 and cex["requests"] <= 3
    assert main(["replay", cex["file"], "--json"]) == 0
    replay = json.loads(capsys.readouterr().out)
    assert replay["reproduced"] and replay["same_trace"]
    assert "lost update" in replay["story"]


def test_fenced_lock_keeps_the_coupon_rules(capsys):
    code = main(["check", "--lock", "seed-fenced", "--faults", "gc-pause", "--schedules", "200",
                 "--seed", "1", "--workers", "1", "--json",
                 "--properties", "no-over-issue,stock-conservation,no-duplicate-issue"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["violations"] == {}


def test_bad_counterexample_files_are_one_line(tmp_path, capsys):
    bad = tmp_path / "x.json"
    for text, words in (("{oops", "is not JSON"), ('{"kind": "other"}', "not a locksim"),
                        ('{"kind": "locksim-counterexample", "format": 99}', "format 99")):
        bad.write_text(text)
        assert main(["replay", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and "\n" not in err
    assert main(["check", "--faults", "meteor"]) == 2
    assert "unknown fault kind meteor" in capsys.readouterr().err


def test_show_draws_text_svg_and_html(tmp_path, capsys):
    from pathlib import Path

    seed = next((Path(__file__).resolve().parents[2] / "properties" / "regressions")
                .glob("seed-stock-conservation-*.json"))
    assert main(["show", str(seed)]) == 0
    out = capsys.readouterr().out
    assert "app1:" in out and "app2:" in out and "~" in out and "lost update" in out
    svg = tmp_path / "d.svg"
    assert main(["show", str(seed), "-o", str(svg)]) == 0
    import xml.dom.minidom

    xml.dom.minidom.parse(str(svg))
    page = tmp_path / "d.html"
    assert main(["show", str(seed), "-o", str(page)]) == 0
    assert "<svg" in page.read_text()
    assert main(["show", str(seed), "-o", str(tmp_path / "d.png")]) == 2
