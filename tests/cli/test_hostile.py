"""Hostile input through every door of the command line: exit 2, one line, nothing changed.

Hypothesis mutates real counterexample and scenario files (a field replaced by
any JSON value, a field dropped, the bytes truncated or replaced), picks extreme
numbers for numeric flags, unwritable output paths and flags that mean nothing
in the mode given. Whatever it builds, locksim must answer with an exit status
of 0, 1 or 2, never a traceback, and on 2 with exactly one line on stderr; and
no file that was already on disk may change.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "properties" / "regressions").glob("*.json"))
COUNTEREXAMPLE = json.loads(SEEDS[0].read_text())
SMALL_SCENARIO = {"requests": 3, "vus": 2, "servers": 2}

HOSTILE_NUMBERS = st.sampled_from(
    ["-5", "0", "-0", "1e400", "nan", "inf", "-inf", "1.5", "x", "", "9" * 30, "0x10", "1_0"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20)
    | st.sampled_from([math.nan, math.inf, -1.0, 0.5, 1e308]) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=2),
    max_leaves=4,
)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def judge(argv: list[str], folder: Path) -> None:
    before = snapshot(folder)
    code, out, err = run_cli(argv)
    shown = f"locksim {' '.join(argv)}\nstdout: {out[-500:]}\nstderr: {err[-800:]}"
    assert "Traceback" not in out + err, shown
    assert code in (0, 1, 2), f"exit {code}: {shown}"
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, f"exit 2 with {len(lines)} stderr lines: {shown}"
    after = snapshot(folder)
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert not changed, f"changed {changed}: {shown}"


def mutated(base: dict[str, Any], data: st.DataObject) -> bytes:
    how = data.draw(st.sampled_from(["replace", "drop", "truncate", "bytes", "nest"]))
    text = json.dumps(base)
    if how == "truncate":
        return text.encode()[: data.draw(st.integers(0, len(text) - 1))]
    if how == "bytes":
        return data.draw(st.binary(max_size=64))
    doc = json.loads(text)
    target = doc
    if how == "nest" and isinstance(doc.get("scenario"), dict):
        target = doc["scenario"]
    key = data.draw(st.sampled_from(sorted(target)))
    if how == "drop":
        del target[key]
    else:
        target[key] = data.draw(JSON_VALUES)
    return json.dumps(doc, allow_nan=True).encode()


@SETTINGS
@given(data=st.data())
def test_a_mutated_counterexample_file(tmp_path_factory: Any, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("cx")
    path = folder / "cx.json"
    path.write_bytes(mutated(COUNTEREXAMPLE, data))
    command = data.draw(st.sampled_from([
        ["replay", str(path)], ["show", str(path)], ["replay", str(path), "--json"],
        ["regress", "add", str(path), "--dir", str(folder / "seeds")]]))
    judge(command, folder)


@SETTINGS
@given(data=st.data())
def test_a_mutated_scenario_file(tmp_path_factory: Any, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("sc")
    path = folder / "scenario.json"
    path.write_bytes(mutated(SMALL_SCENARIO, data))
    command = data.draw(st.sampled_from([
        ["run", "--scenario", str(path), "--json"],
        ["check", "--exhaustive", "--scenario", str(path), "--depth", "2", "--max-runs", "4",
         "--out", str(folder / "out")]]))
    judge(command, folder)


NUMERIC = {
    "run": ["--servers", "--users", "--vus", "--ttl", "--stock", "--seed", "--wait-timeout",
            "--rate"],
    "check": ["--schedules", "--seed", "--workers"],
    "show": ["--width"],
}


@SETTINGS
@given(data=st.data())
def test_a_hostile_number_in_a_flag(tmp_path_factory: Any, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("num")
    command = data.draw(st.sampled_from(sorted(NUMERIC)))
    flag = data.draw(st.sampled_from(NUMERIC[command]))
    value = data.draw(HOSTILE_NUMBERS)
    if command == "run":
        argv = ["run", "--users", "3", "--vus", "2", flag, value, "--json"]
        if flag == "--rate":
            argv += ["--load", "open"]
    elif command == "check":
        argv = ["check", "--lock", "seed", "--schedules", "20", flag, value, "--out",
                str(folder / "out"), "--workers", "1"] if flag != "--workers" else [
            "check", "--schedules", "20", flag, value, "--out", str(folder / "out")]
    else:
        shutil.copy(SEEDS[0], folder / "cx.json")
        argv = ["show", str(folder / "cx.json"), flag, value]
    judge(argv, folder)


def test_unwritable_outputs_are_refused_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    shutil.copy(SEEDS[0], tmp_path / "cx.json")
    cx = str(tmp_path / "cx.json")
    under_a_file = str(blocker / "x")
    for argv in (
        ["show", cx, "-o", str(blocker / "d.svg")],
        ["run", "--users", "3", "--monitor-log", under_a_file],
        ["check", "--schedules", "50", "--out", str(blocker)],
        ["check", "--exhaustive", "--depth", "2", "--graph", under_a_file],
        ["regress", "add", cx, "--dir", str(blocker)],
    ):
        code, out, err = run_cli(argv)
        assert code == 2, (argv, out, err)
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert "Traceback" not in out + err
    assert blocker.read_text() == "keep me"


def test_options_that_mean_nothing_here_are_refused(tmp_path: Path) -> None:
    for argv in (
        ["run", "--users", "3", "--rate", "50"],  # --rate without --load open
        ["run", "--users", "3", "--time-scale", "0.5"],  # without --real-redis
        ["check", "--schedules", "5", "--graph", str(tmp_path / "g.graphml")],  # no --exhaustive
        ["check", "--exhaustive", "--max-runs", "0"],
    ):
        code, _, err = run_cli(argv)
        assert code == 2, (argv, err)
        assert len(err.strip().splitlines()) == 1, (argv, err)


TEXT_DOORS = {
    # the doors of this round: topologies, design parameters, strategies, handlers, triggers
    "--redis": st.sampled_from(["redlock:0", "redlock:-1", "redlock:x", "sentinel:99",
                                "replicas:", "single:2", "", "redlock:3:3"]),
    "--persistence": st.sampled_from(["rdb:0", "rdb:-5", "rdb:nan", "aof", "", "rdb:"]),
    "--restart-delay": HOSTILE_NUMBERS,
    "--lock-param": st.sampled_from(["ttl_ms=-1", "ttl_ms=nan", "ttl_ms", "=5", "ttl_ms=1e400",
                                     "poll_ms=[1]", "nope=1", "ttl_ms={}"]),
    "--handler": st.sampled_from(["nosuch", "nosuch:fn", "os:system", ":", "examples:",
                                  "examples.coupon_handler:nope", "sim.cli.main:main"]),
    "--fault": st.builds(lambda head, body, trig: f"{head}:{body}{trig}",
                         st.sampled_from(["pause", "crash", "lost-reply", "slow-storage",
                                          "redis-restart", "partition", "clock", "delay"]),
                         st.sampled_from(["0:100", "nan:1", "-1:5", "0:1e400", "1:2:3:4:5",
                                          "0:100:redis9", "0:100:app1/redis2", "", "0"]),
                         st.sampled_from(["", "@cmd=0", "@lease=0", "@lease=1.5", "@bogus",
                                          "@cmd=2", "@renewal", "@write", "@"])),
}


@SETTINGS
@given(data=st.data())
def test_a_hostile_value_at_this_rounds_doors(tmp_path_factory: Any, data: st.DataObject) -> None:
    """``run`` and ``check`` take each new option's nonsense in one line: exit 2 (or a run)."""
    folder = tmp_path_factory.mktemp("door")
    flag = data.draw(st.sampled_from(sorted(TEXT_DOORS)))
    value = data.draw(TEXT_DOORS[flag])
    if data.draw(st.booleans()) and flag != "--fault":
        argv = ["check", "--schedules", "3", "--workers", "1", "--out", str(folder / "out"),
                flag, value]
    else:
        argv = ["run", "--users", "3", "--vus", "2", "--json", flag, value]
    judge(argv, folder)


def test_an_endless_input_file_is_refused_without_filling_the_memory(tmp_path: Path) -> None:
    """``/dev/zero`` as a counterexample, a scenario or a capture: read up to a cap, then one
    line (before the cap, ``replay /dev/zero`` read until the kernel killed it)."""
    for argv in (["replay", "/dev/zero"], ["run", "--scenario", "/dev/zero"],
                 ["check", "--scenario", "/dev/zero", "--schedules", "2", "--workers", "1",
                  "--out", str(tmp_path / "out")],
                 ["monitor", "analyze", "/dev/zero"]):
        code, _, err = run_cli(argv)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1, (argv, code, err)
        assert "larger than" in lines[0], lines


def test_an_empty_value_in_a_sweep_axis_is_refused(tmp_path: Path) -> None:
    """``--vus 1,,2`` is a typo, not the grid (1, 2): silently dropping a value is a wrong
    answer to the question asked."""
    for flag, value in (("--vus", "1,,2"), ("--ttl", "2000,"), ("--replica-lag", ",5")):
        code, _, err = run_cli(["sweep", flag, value, "--seeds", "1",
                                "--out", str(tmp_path / "out")])
        assert code == 2 and "an empty value" in err, (flag, value, err)
    assert not (tmp_path / "out").exists()


# An independent hostile sweep (889 cases) found these doors: each is refused in one line,
# exit 2, where before it ran on (a silent wrong answer) or was an internal error (exit 3).
REFUSED = [
    (["run", "--redis-latency", "lognormal:1e300:1e300"], "out of range"),  # OverflowError
    (["run", "--ttl", "99999999999999999999999"], "at most"),  # ran, then "VIOLATED"
    (["run", "--fault", "pause:1e99:1e99"], "at most"),  # "never struck"
    (["run", "--restart-delay", "1e23"], "at most"),
    (["run", "--down-after", "1e99"], "at most"),
    (["check", "--properties", "", "--schedules", "3"], "empty name"),  # judged all
    (["check", "--faults", ",,", "--schedules", "3"], "empty name"),  # meant no faults
    (["check", "--faults", "pause,", "--schedules", "3"], "empty name"),
    (["sweep", "--gc-rate", "nan", "--seeds", "1"], "numbers from 0"),
    (["sweep", "--cs", "1e99", "--seeds", "1"], "numbers from 0"),
    (["sweep", "--sentinels", "-1", "--seeds", "1"], "at least 1"),  # was ignored
    (["sweep", "--x", "", "--seeds", "1"], "--x"),
    (["replay", "cx.json", "--real-redis", "--time-scale", "1e99"], "at most 1000"),  # hung
    (["run", "--real-redis", "--redis-url", "redis://127.0.0.1:99999"], "host and port"),
    (["run", "--scenario", "deep.json"], "nests too deeply"),  # RecursionError
    (["replay", "deep.json"], "nests too deeply"),
    (["run", "--import", "exits_on_import"], "SystemExit"),  # exit 0, no output
    (["run", "--handler", "exits_on_import:f"], "SystemExit"),
    (["run", "--import", "not_a_design", "--lock", "not-a-design"], "not a lock design"),
    (["run", "--handler", "broken_handler:no_args"], "must be an async function"),
    (["run", "--handler", "broken_handler:agen"], "must be an async function"),
    (["run", "--handler", "broken_handler:raises", "--servers", "1", "--users", "3",
      "--vus", "2"], "raised on every request"),  # "every property held"
    (["run", "--monitor-log", "/dev/full", "--users", "3", "--vus", "2"],
     "No space left"),  # internal error
]


@pytest.mark.parametrize(("argv", "says"), REFUSED, ids=lambda v: " ".join(v)[:60]
                         if isinstance(v, list) else None)
def test_a_door_the_independent_sweep_found_is_refused_in_one_line(
        argv: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000)
    shutil.copy(SEEDS[0], tmp_path / "cx.json")
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(0)\n")
    (tmp_path / "not_a_design.py").write_text(
        "from models.locks import register\nclass X: pass\n"
        "register('not-a-design', lambda **p: X())\n")
    (tmp_path / "broken_handler.py").write_text(
        "async def no_args():\n    return 1\n"
        "async def agen(redis, db, user):\n    yield 1\n"
        "async def raises(redis, db, user):\n    raise ValueError('boom')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _out, err = run_cli([*argv, *(["--out", str(tmp_path / "o")]
                                        if argv[0] in ("check", "sweep") else [])])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and says in lines[0], (argv, code, err[-600:])
    assert not (tmp_path / "o").exists()


def test_sweep_takes_its_sentinel_settings_instead_of_ignoring_them() -> None:
    from sim.sweep import Grid

    grid = Grid(topology=("sentinel:2",), sentinels=5, sentinel_quorum=3, vus=(2,),
                strategy=("polling",), seeds=1)
    point = grid.points()[0]
    scenario = grid.scenario(point, 1)
    assert (scenario.sentinels, scenario.sentinel_quorum) == (5, 3)


def test_a_relative_redis_server_path_is_the_callers(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``--redis-server ./redis-server`` means the one here, though the server runs in a
    directory of its own (it was "cannot start ... No such file")."""
    from sim.real.server import RedisServer, default_redis_server

    shutil.copy(default_redis_server(), tmp_path / "my-redis")
    monkeypatch.chdir(tmp_path)
    server = RedisServer("./my-redis")
    assert server.binary == tmp_path / "my-redis"
    with server:
        assert server.client().ping()
