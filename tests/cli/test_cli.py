"""The command line: the main job's output, JSON, and one clear line for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from models.faults import Crash, Pause
from sim.cli.main import main, parse_fault

SMALL = ["--users", "40", "--vus", "10"]


def test_run_prints_the_reports_table_and_verdicts(capsys):
    assert main(["run", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "report (table 7.1)" in out and "SET NX attempts" in out
    assert "mutual-exclusion" in out and "trace" in out


def test_run_json_is_complete_and_deterministic(capsys):
    main(["run", *SMALL, "--json"])
    first = json.loads(capsys.readouterr().out)
    main(["run", *SMALL, "--json"])
    second = json.loads(capsys.readouterr().out)
    assert first["trace_hash"] == second["trace_hash"]
    assert first["metrics"]["issued"] == 40
    assert {v["property"] for v in first["verdicts"]} >= {"mutual-exclusion", "no-lost-wakeup"}


def test_a_violation_exits_1_and_tells_the_story(capsys):
    code = main(["run", "--fault", "pause:3000:6000:holder", "--wait-timeout", "1000",
                 "--users", "500"])
    out = capsys.readouterr().out
    assert code == 1
    assert "VIOLATED" in out and "stock-conservation" in out


@pytest.mark.parametrize("argv, words", [
    (["run", "--lock", "nope"], "unknown lock 'nope'"),
    (["run", "--fault", "pause:abc"], "cannot read fault"),
    (["run", "--properties", "mutual-exclusion,bogus"], "unknown property bogus"),
    (["run", "--servers", "0"], "servers must be at least 1"),
    (["run", "--scenario", "/nonexistent/s.json"], "cannot read scenario"),
    (["run", "--redis-latency", "weird:1"], "unknown distribution"),
])
def test_bad_input_is_one_line_and_exit_2(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err and "Traceback" not in err


def test_malformed_scenario_file(tmp_path, capsys):
    bad = tmp_path / "s.json"
    bad.write_text("{not json")
    assert main(["run", "--scenario", str(bad)]) == 2
    assert "is not JSON" in capsys.readouterr().err
    bad.write_text(json.dumps({"servers": 2, "colour": "red"}))
    assert main(["run", "--scenario", str(bad)]) == 2
    assert "unknown scenario field(s): colour" in capsys.readouterr().err
    bad.write_text(json.dumps({"faults": [{"kind": "meteor", "at_ms": 1}]}))
    assert main(["run", "--scenario", str(bad)]) == 2
    assert "unknown fault kind 'meteor'" in capsys.readouterr().err


def test_scenario_file_round_trip(tmp_path, capsys):
    from models.scenario import Scenario

    sc = Scenario(requests=30, vus=5, faults=(Pause(100.0, 50.0, "app1"),))
    path = tmp_path / "s.json"
    path.write_text(sc.to_json())
    assert Scenario.from_dict(json.loads(path.read_text())) == sc
    assert main(["run", "--scenario", str(path), "--json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["scenario"]["requests"] == 30


def test_parse_fault_forms():
    assert parse_fault("pause:10:20") == Pause(10.0, 20.0, "holder")
    assert parse_fault("crash:5:app2") == Crash(5.0, None, "app2")
    assert parse_fault("crash:5:100:app1") == Crash(5.0, 100.0, "app1")


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "sim.cli.main", "run", *SMALL, "--json"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["completed_requests"] == 40


def test_a_users_own_lock_plugs_in(capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    assert main(["run", "--import", "examples.polling_lock", "--lock", "my-polling",
                 *SMALL, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["scenario"]["lock"] == "my-polling"
    assert payload["metrics"]["issued"] == 40
    assert main(["run", "--import", "no_such_module_here"]) == 2
    assert "cannot import no_such_module_here" in capsys.readouterr().err
