"""``--handler`` with a plain ``def``: the sync tier on the command line, and its real replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli.main import main

PAUSED = ["--handler", "tests.threads.handlers:fresh_lock", "--servers", "2", "--vus", "5",
          "--users", "30", "--fault", "pause:20:6000:holder"]


def test_run_picks_the_sync_tier_and_finds_the_pause_bug(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *PAUSED, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["deterministic"] is True
    assert {"mutual-exclusion", "held-until-release"} <= set(data["violated"])
    assert data["libraries"]["greenlet"] and data["libraries"]["python-redis-lock"]
    assert any("LockNotOwnedError" in e["error"] for e in data["library_errors"])
    assert main(["run", *PAUSED, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["trace_hash"] == data["trace_hash"]


def test_escapes_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--handler", "tests.threads.handlers:real_thread", "--users", "2"]) == 2
    err = capsys.readouterr().err
    assert "escaped the simulation: thread" in err and err.count("\n") == 1
    assert main(["run", "--handler", "tests.threads.handlers:shared_lock", "--users", "2"]) == 2
    assert "def shared_lock(redis, db, user)" in capsys.readouterr().err


def test_check_shrinks_and_replay_reproduces(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--handler", "tests.threads.handlers:fresh_lock", "--schedules", "20",
                 "--faults", "pause", "--out", str(tmp_path), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1
    cx = next(c for c in summary["counterexamples"] if c["property"] == "mutual-exclusion")
    assert "LockNotOwnedError" in cx["story"]
    saved = json.loads(Path(cx["file"]).read_text())
    assert saved["scenario"]["handler"] == "tests.threads.handlers:fresh_lock"
    assert main(["replay", cx["file"]]) == 0
    assert "same trace hash" in capsys.readouterr().out


@pytest.mark.real_redis
def test_the_pause_counterexample_reproduces_on_real_redis(tmp_path: Path) -> None:
    """Same library code, real threads, real sockets, SIGSTOP for the pause."""
    from sim.aio.real_replay import replay_handler_real
    from sim.aio.search import explore_handler
    from sim.search import counterexample

    found = explore_handler("tests.threads.handlers:fresh_lock", ["gc-pause"], 1, 20)
    index, small, run, verdict = found["mutual-exclusion"]
    path = counterexample.save(counterexample.Counterexample(
        small, "mutual-exclusion", run.trace_hash, verdict.story, verdict.witness,
        {"index": index}), tmp_path)
    payload = replay_handler_real(path)
    assert payload["simulated"]["valid"] is False
    assert payload["reproduced"], payload["real"]["summary"]
    assert "held-until-release" in payload["real"]["violated"]


def test_the_fixture_judges_a_sync_handler(locksim_handler: object) -> None:
    bad = locksim_handler("tests.threads.handlers:renewing", servers=2,  # type: ignore[operator]
                          vus=5, requests=30, faults=["pause:20:6000:holder"])
    assert not bad.holds("mutual-exclusion")
    assert "NotAcquired" in bad.story("held-until-release")
    good = locksim_handler("tests.threads.handlers:renewing",  # type: ignore[operator]
                           servers=2, vus=5, requests=30)
    assert good.violated == []
