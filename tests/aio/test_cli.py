"""``--handler`` on the command line: run, check, replay; escapes and bad specs exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli.main import main

SHARED = ["--handler", "examples.coupon_handler:handle_shared", "--servers", "1", "--vus", "5",
          "--users", "30", "--fault", "pause:20:6000:holder"]


def test_run_finds_the_shared_token_bug_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", *SHARED, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["deterministic"] is True
    assert {"foreign-release", "owner-only-release", "held-until-release"} <= set(
        data["violated"])
    assert data["libraries"]["redis"]
    assert data["scenario"]["handler"] == "examples.coupon_handler:handle_shared"


def test_run_without_faults_holds(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--handler", "examples.coupon_handler:handle", "--vus", "5",
                 "--users", "20"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "every property held" in out and "deterministic" in out


def test_escape_and_bad_specs_are_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--handler", "tests.aio.handlers:sleeps", "--users", "2"]) == 2
    err = capsys.readouterr().err
    assert "escaped the simulation: sleep" in err and err.count("\n") == 1
    assert main(["run", "--handler", "nope", "--users", "2"]) == 2
    assert "MODULE:FUNCTION" in capsys.readouterr().err


def test_check_shrinks_and_replay_reproduces(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cx"
    code = main(["check", "--handler", "examples.coupon_handler:handle", "--schedules", "20",
                 "--faults", "pause",
                 "--out", str(out), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1
    props = {c["property"] for c in summary["counterexamples"]}
    assert "mutual-exclusion" in props
    cx = next(c for c in summary["counterexamples"] if c["property"] == "mutual-exclusion")
    assert "LockNotOwnedError" in cx["story"]
    assert Path(cx["file"]).name.startswith("examples.coupon_handler.handle-mutual-exclusion-")
    saved = json.loads(Path(cx["file"]).read_text())
    assert saved["scenario"]["handler"] == "examples.coupon_handler:handle"
    assert len(saved["scenario"]["faults"]) <= 2
    assert main(["replay", cx["file"]]) == 0
    assert "same trace hash" in capsys.readouterr().out


@pytest.mark.parametrize("argv, text", [
    (["run", "--handler", "examples.coupon_handler:handle", "--lock", "seed"], "--lock"),
    (["run", "--handler", "examples.coupon_handler:handle", "--real-redis", "--fault",
      "clock:10:500:app1"], "clock shim"),
    (["check", "--handler", "examples.coupon_handler:handle", "--exhaustive"], "--exhaustive"),
    (["check", "--handler", "examples.coupon_handler:handle", "--faults", "bogus"],
     "unknown fault kind"),
    (["check", "--handler", "examples.coupon_handler:handle", "--faults", "pause,lost-reply"],
     "simulator-only"),
    (["run", "--handler", "examples.coupon_handler:handle", "--fault", "pause:0:100@cmd=1"],
     "simulator-only"),
])
def test_flags_that_mean_nothing_with_a_handler_are_refused(
        argv: list[str], text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and err.count("\n") == 1


def test_the_readmes_check_example_finds_the_shared_token_in_the_file_it_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """README "Checking your own library code": the check command, the file the replay line
    names, and what it finds (kept honest here: a budget or file name that drifts fails)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    command = next(line for line in readme.splitlines()
                   if line.startswith(".venv/bin/locksim check --handler"))
    replay = next(line for line in readme.splitlines()
                  if line.startswith(".venv/bin/locksim replay cx/examples."))
    args = command.split()[1:]
    args[args.index("--out") + 1] = str(tmp_path / "cx")
    assert main([*args, "--json"]) == 1
    found = {c["property"]: c for c in json.loads(capsys.readouterr().out)["counterexamples"]}
    assert {"owner-only-release", "foreign-release", "mutual-exclusion"} <= set(found)
    named = tmp_path / "cx" / Path(replay.split()[-1]).name
    assert named.exists(), sorted(p.name for p in (tmp_path / "cx").iterdir())
    assert main(["replay", str(named)]) == 0
    assert "reproduced, same trace hash" in capsys.readouterr().out
