"""Every door of the CLI: one meaning per exit status, checks before work, honest outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sim.cli import check as check_cli
from sim.cli.main import EXIT_CODES, build_parser
from tests.cli.test_hostile import SEEDS, run_cli

ROOT = Path(__file__).resolve().parents[2]
STOCK = ROOT / "properties" / "regressions" / "seed-stock-conservation-ae1360565f1b.json"
WAKEUP = ROOT / "properties" / "regressions" / "seed-no-lost-wakeup-ba63eee74b43.json"


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- 1. exit codes ------------------------------------------------------------------------


def test_help_lists_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    text = build_parser().format_help()
    for code, meaning in EXIT_CODES:
        assert f"{code}  {meaning}" in text
    assert [c for c, _ in EXIT_CODES] == [0, 1, 2, 3]
    readme = (ROOT / "README.md").read_text()
    assert "## Exit codes" in readme


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["--version"])
    assert code == 0 and out.startswith("locksim ")


def test_an_internal_error_is_one_line_naming_a_log(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    def boom(args: object) -> int:
        raise RuntimeError("the model fell over\nsecond line")

    monkeypatch.setattr(check_cli, "validate_args", boom)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code, _, err = run_cli(["check", "--schedules", "1"])
    line = one_line(err)
    assert code == 3
    assert line.startswith("locksim: internal error: RuntimeError: the model fell over")
    assert "rerun with --debug" in line
    log = Path(line.split("details in ")[1].split(";")[0])
    assert "Traceback" in log.read_text() and "RuntimeError" in log.read_text()
    code, _, err = run_cli(["--debug", "check", "--schedules", "1"])
    assert code == 3 and "Traceback" in err


@pytest.mark.parametrize("argv, prog", [
    (["run", "--servers", "x"], "locksim run"),
    (["check", "--bogus-flag"], "locksim"),
    (["regress", "add"], "locksim regress add"),
    (["monitor", "analyze"], "locksim monitor analyze"),
    (["show"], "locksim show"),
])
def test_argparse_errors_are_one_line_exit_2(argv: list[str], prog: str) -> None:
    code, _, err = run_cli(argv)
    line = one_line(err)
    assert code == 2 and line.startswith(f"{prog}: error:") and "--help" in line


# -- 2. every door validated before any work -----------------------------------------------


@pytest.mark.parametrize("argv, words", [
    (["run", "--ttl", "-5"], "ttl_ms"),
    (["run", "--ttl", "0"], "ttl_ms"),
    (["run", "--stock", "-5"], "stock"),
    (["run", "--wait-timeout", "nan"], "wait_timeout_ms"),
    (["run", "--rate", "inf", "--load", "open"], "rate_rps"),
    (["run", "--rate", "50"], "--rate needs --load open"),
    (["run", "--redis-url", "redis://localhost"], "--redis-url needs --real-redis"),
    (["run", "--redis-server", "/bin/true"], "--redis-server needs --real-redis"),
    (["check", "--workers", "-2"], "--workers"),
    (["check", "--workers", "0"], "--workers"),
    (["check", "--schedules", "0"], "--schedules"),
    (["check", "--schedules", "-1"], "--schedules"),
    (["check", "--exhaustive", "--max-runs", "0"], "--max-runs"),
    (["check", "--exhaustive", "--depth", "0"], "--depth"),
    (["check", "--depth", "3"], "--depth needs --exhaustive"),
    (["check", "--levels", "0,1000"], "--levels needs --exhaustive"),
    (["check", "--max-runs", "3"], "--max-runs needs --exhaustive"),
    (["check", "--scenario", "s.json"], "cannot read scenario s.json"),
    (["check", "--exhaustive", "--dask", "local"], "--dask means nothing with --exhaustive"),
    (["show", str(STOCK), "--width", "0"], "--width"),
    (["replay", str(STOCK), "--time-scale", "0.5"], "--time-scale needs --real-redis"),
    (["replay", str(STOCK), "--real-redis", "--time-scale", "0"], "--time-scale"),
    (["replay", str(STOCK), "--real-redis", "--time-scale", "-1"], "--time-scale"),
    (["replay", str(STOCK), "--real-redis", "--time-scale", "nan"], "--time-scale"),
    (["sweep", "--workers", "0"], "--workers"),
    (["sweep", "--seeds", "0"], "--seeds"),
])
def test_bad_flags_are_refused_in_one_line(argv: list[str], words: str) -> None:
    code, _, err = run_cli(argv)
    assert code == 2
    assert words in one_line(err)


def test_outputs_are_checked_before_work(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("keep")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    cx = tmp_path / "cx.json"
    shutil.copy(STOCK, cx)
    for argv in (
        ["show", str(cx), "-o", str(folder)],  # a folder where a file is meant
        ["show", str(cx), "-o", str(blocker / "x.svg")],
        ["run", "--monitor-log", str(folder)],
        ["check", "--out", str(blocker)],  # a file where a folder is meant
        ["check", "--exhaustive", "--graph", str(folder)],
        ["regress", "add", str(cx), "--dir", str(blocker)],
        ["sweep", "--out", str(blocker)],
    ):
        code, _, err = run_cli(argv)
        assert code == 2, (argv, err)
        one_line(err)
    assert blocker.read_text() == "keep" and not any(folder.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder", "cx.json"]


@pytest.mark.parametrize("extra", [
    ["--fault", "pause:10:50:holder", "--ttl", "700"],
    ["--load", "open", "--rate", "50", "--lock", "polling", "--fault", "crash:5:app2"],
    ["--redis-latency", "uniform:0.05:0.15", "--subscribe", "before", "--wait-timeout", "30",
     "--fault", "clock:1:-20:0.01:app1", "--fault", "delay:0:9:2:redis"],
])
def test_what_run_json_prints_run_scenario_accepts(tmp_path: Path, extra: list[str]) -> None:
    code, out, err = run_cli(["run", "--users", "5", "--vus", "2", *extra, "--json"])
    assert code in (0, 1), err
    first = json.loads(out)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(first["scenario"]))
    code, out, err = run_cli(["run", "--scenario", str(path), "--json"])
    assert code in (0, 1), err
    assert json.loads(out)["trace_hash"] == first["trace_hash"]


# -- 3. list -------------------------------------------------------------------------------


def test_list_reads_the_registries() -> None:
    from models.checkers import CHECKERS
    from models.faults import FAULTS
    from models.locks import LOCKS

    code, out, _ = run_cli(["list", "--json"])
    data = json.loads(out)
    assert code == 0
    assert {i["name"] for i in data["locks"]} == set(LOCKS)
    assert [i["spec"] for i in data["faults"]] == [k.spec for k in FAULTS.values()]
    assert {i["name"] for i in data["properties"]} == set(CHECKERS)
    assert all(i["doc"] for section in data.values() for i in section)
    assert [i["name"] for i in data["topologies"]] == ["single", "redlock:N", "replicas:N",
                                                      "sentinel:N"]
    code, out, _ = run_cli(["list"])
    assert code == 0 and "pause:AT:DURATION[:NODE]" in out and "mutual-exclusion" in out
    help_text = " ".join(build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
                         .choices["run"].format_help().split())
    for k in FAULTS.values():
        assert k.spec in help_text


# -- 4. regress add verifies before it writes ----------------------------------------------


def test_regress_add_keeps_only_what_replays(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    cx = tmp_path / STOCK.name
    shutil.copy(STOCK, cx)
    code, _, err = run_cli(["regress", "add", str(cx), "--dir", str(seeds)])
    assert code == 0, err
    kept = json.loads((seeds / STOCK.name).read_text())
    assert kept["expect"] == "violated"
    # the stated verdict must be the replay's
    code, _, err = run_cli(["regress", "add", str(cx), "--dir", str(seeds), "--expect", "holds"])
    assert code == 2 and "--force" in one_line(err)  # an existing seed expects violated
    code, _, err = run_cli(["regress", "add", str(cx), "--dir", str(tmp_path / "other"),
                            "--expect", "holds"])
    assert code == 1 and "did not reproduce" in err
    assert not (tmp_path / "other" / STOCK.name).exists()
    # a file whose hash does not replay is refused
    doc = json.loads(STOCK.read_text())
    doc["trace_hash"] = "0" * 64
    cx.write_text(json.dumps(doc))
    code, _, err = run_cli(["regress", "add", str(cx), "--dir", str(tmp_path / "third")])
    assert code == 1 and "did not reproduce" in err
    assert not (tmp_path / "third").exists()
    # --force replaces a seed with a different expectation, only once it replays
    shutil.copy(STOCK, cx)
    doc = json.loads(STOCK.read_text())
    doc["expect"] = "holds"
    (seeds / STOCK.name).write_text(json.dumps(doc))
    code, _, err = run_cli(["regress", "add", str(cx), "--dir", str(seeds)])
    assert code == 2
    code, _, err = run_cli(["regress", "add", str(cx), "--dir", str(seeds), "--force"])
    assert code == 0, err
    assert json.loads((seeds / STOCK.name).read_text())["expect"] == "violated"


# -- 5. outputs that were wrong --------------------------------------------------------------


def test_replay_tells_where_and_when_a_deferred_fault_struck() -> None:
    code, out, _ = run_cli(["replay", str(WAKEUP), "--json"])
    struck = json.loads(out)["faults"][0]
    assert struck["aimed_at"] == "holder" and struck["node"].startswith("app")
    assert struck["time_ms"] > struck["scheduled_ms"]
    code, out, _ = run_cli(["replay", str(WAKEUP)])
    assert code == 0
    flat = " ".join(out.split())
    assert f"at {struck['time_ms']:.3f} ms: {struck['node']} pauses" in flat
    assert "deferred to the next acquire" in flat


def test_publish_counts_redis_commands_and_dashes_for_designs_that_never_publish() -> None:
    _, out, _ = run_cli(["run", "--users", "30", "--vus", "5", "--json"])
    assert json.loads(out)["publish_commands"] == 30
    _, out, _ = run_cli(["run", "--users", "30", "--vus", "5", "--lock", "polling", "--json"])
    assert json.loads(out)["publish_commands"] is None
    _, out, _ = run_cli(["run", "--users", "30", "--vus", "5", "--lock", "polling"])
    row = next(line for line in out.splitlines() if "PUBLISH on release" in line)
    assert row.rstrip(" │").endswith("-")


def test_run_lists_its_faults_and_one_verdict_line() -> None:
    _, out, _ = run_cli(["run", "--users", "30", "--vus", "5", "--fault", "pause:100:300"])
    flat = " ".join(out.split())
    assert "faults injected: at 100.460 ms: app1 pauses" in flat
    assert "verdict: every property held" in flat
    _, out, _ = run_cli(["run", "--users", "30", "--vus", "5"])
    assert "a fault-free run proves little" in " ".join(out.split())
    assert "fault-free" in " ".join(build_parser()._subparsers._group_actions[0]  # type: ignore
                                    .choices["check"].format_help().split())


def test_a_users_lock_travels_with_its_counterexample(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from models.scenario import Scenario
    from sim.search import counterexample

    monkeypatch.chdir(ROOT)
    assert check_cli.replay_hint("f.json", ["examples.polling_lock"]) == \
        "locksim replay f.json --import examples.polling_lock"
    import examples.polling_lock  # noqa: F401  registers my-polling

    cx = counterexample.record(Scenario(lock="my-polling", requests=3, vus=2),
                               "mutual-exclusion", {}, imports=("examples.polling_lock",))
    path = counterexample.save(cx, tmp_path)
    assert json.loads(path.read_text())["imports"] == ["examples.polling_lock"]
    from models.locks import LOCKS

    monkeypatch.delitem(LOCKS, "my-polling")
    monkeypatch.delitem(__import__("sys").modules, "examples.polling_lock")
    code, out, err = run_cli(["replay", str(path), "--json"])  # imports it by itself
    assert code == 1, err  # the property holds: nothing to reproduce, but it ran
    assert json.loads(out)["same_trace"] is True


def test_a_file_from_a_newer_locksim_is_warned_about_in_one_line(tmp_path: Path) -> None:
    doc = json.loads(STOCK.read_text())
    doc["locksim"] = "99.0.0"
    path = tmp_path / "cx.json"
    path.write_text(json.dumps(doc))
    code, _, err = run_cli(["replay", str(path)])
    assert code == 0
    assert one_line(err).startswith("locksim: warning:") and "newer" in err


def test_seeds_exist() -> None:
    assert SEEDS


def test_check_hints_the_import_a_users_lock_needs(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run_cli(["check", "--import", "examples.polling_lock", "--lock",
                              "my-polling", "--schedules", "30", "--workers", "1", "--json",
                              "--max-counterexamples", "1", "--out", str(tmp_path)])
    assert code == 1, err
    written = json.loads(out)["counterexamples"]
    assert written
    for w in written:
        assert w["replay"].endswith("--import examples.polling_lock")
        assert json.loads(Path(w["file"]).read_text())["imports"] == ["examples.polling_lock"]


@pytest.mark.parametrize("argv", [
    ["check", "--schedules", "9" * 30],
    ["check", "--workers", "9" * 12],
    ["sweep", "--seeds", "9" * 12],
    ["sweep", "--requests", "9" * 20, "--seeds", "1"],
])
def test_absurd_sizes_are_refused_not_attempted(argv: list[str], tmp_path: Path) -> None:
    code, _, err = run_cli([*argv, "--out", str(tmp_path / "o")])
    assert code == 2
    one_line(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a Linux /proc")
def test_paths_that_permission_bits_call_writable_are_tried(tmp_path: Path) -> None:
    """Root passes every access() check; /proc refuses new files all the same."""
    cx = tmp_path / "cx.json"
    shutil.copy(STOCK, cx)
    for argv in (
        ["show", str(cx), "-o", "/proc/locksim-x.svg"],
        ["run", "--monitor-log", "/proc/locksim-x.log"],
        ["check", "--schedules", "5", "--out", "/proc/locksim-x/dir"],
        ["regress", "add", str(cx), "--dir", "/proc/locksim-x"],
    ):
        code, _, err = run_cli(argv)
        assert code == 2, (argv, err)
        assert "cannot be written" in one_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cx.json"]
