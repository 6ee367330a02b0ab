"""Never a traceback: Ctrl-C stops check, sweep and check --dask local at once with one
line and exit 130, keeping what ran; and pool workers die with their parent however
it dies. Every wait is bounded; the machine may be loaded, so the waits for startup
are generous while the ones under test are the issue's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux signals")

STOP_S = 2.0  # the bound from SIGINT to exit
GONE_S = 5.0  # from the parent's death to the last worker's
STARTUP_S = 60.0  # a loaded 2-core machine imports slowly

CHECK = ["check", "--schedules", "10000000", "--workers", "2", "--out", "cx"]
SWEEP = ["sweep", "--workers", "2", "--seeds", "50", "--out", "sw"]


def start(args: list[str], cwd: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """``locksim ARGS`` in its own session (a process group to signal, as a terminal does)."""
    err = cwd / "stderr.txt"
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli.main", *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=err.open("wb"),
                            start_new_session=True)
    return proc, err


def workers_of(proc: subprocess.Popen[bytes], n: int) -> list[psutil.Process]:
    """Wait until ``proc`` has ``n`` worker processes (python children that compute)."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "locksim exited before its workers started"
        kids = [k for k in psutil.Process(proc.pid).children(recursive=True)
                if "resource_tracker" not in " ".join(_cmdline(k))]
        if len(kids) >= n and all(_ignores_sigint(k.pid) for k in kids):
            return kids  # started (a pool's initializer or Dask's spawn wrapper ran)
        time.sleep(0.2)
    raise AssertionError(f"no {n} workers after {STARTUP_S} s")


def _ignores_sigint(pid: int) -> bool:
    """Workers ignore SIGINT (Ctrl-C reaches the whole group; the parent handles it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    return False


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def gone(p: psutil.Process) -> bool:
    try:
        return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def interrupt(args: list[str], cwd: Path, workers: int, after_s: float = 3.0,
              sig: signal.Signals = signal.SIGINT) -> tuple[float, str]:
    """Start, wait for the workers and ``after_s`` more, Ctrl-C (to the group, as a terminal
    does) or ``sig`` to the parent alone (``kill PID``); (seconds to exit, stderr)."""
    proc, err = start(args, cwd)
    try:
        kids = workers_of(proc, workers)
        time.sleep(after_s)
        sent = time.monotonic()
        if sig == signal.SIGINT:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"locksim ignored {sig.name} for 30 s")
        took = time.monotonic() - sent
        assert proc.returncode == (130 if sig == signal.SIGINT else 128 + sig)
        deadline = time.monotonic() + GONE_S
        while not all(gone(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(gone(k) for k in kids), "a worker outlived the interrupted run"
        print(f"{args[0]}: exit {took:.2f} s after SIGINT")
        return took, err.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_ctrl_c_stops_check_with_one_line_and_saves_what_ran(tmp_path: Path) -> None:
    took, err = interrupt(CHECK, tmp_path, 2)
    line = one_line(err)
    assert line.startswith("locksim: interrupted: ") and "of 10,000,000 schedules run" in line
    assert took < STOP_S
    # the seed lock under gc-pause fails within the first hundred schedules
    assert "counterexample(s) saved to cx" in line and list((tmp_path / "cx").iterdir())


def test_sigterm_stops_check_as_ctrl_c_does_and_saves_what_ran(tmp_path: Path) -> None:
    """``kill PID`` (a CI timeout, a supervisor): before, the default action killed the
    parent at once, nothing saved and two workers left defunct; now exit 143."""
    took, err = interrupt(CHECK, tmp_path, 2, sig=signal.SIGTERM)
    line = one_line(err)
    assert line.startswith("locksim: interrupted: ") and took < STOP_S
    assert "counterexample(s) saved to cx" in line and list((tmp_path / "cx").iterdir())


def test_ctrl_c_stops_sweep_with_one_line_and_the_rows_done(tmp_path: Path) -> None:
    took, err = interrupt(SWEEP, tmp_path, 2)
    line = one_line(err)
    assert line.startswith("locksim: interrupted: ") and "runs done" in line
    assert took < STOP_S
    rows = (tmp_path / "sw" / "runs.csv").read_text().splitlines()
    assert rows  # a header at least, then whatever finished


def test_ctrl_c_stops_check_on_a_local_dask_cluster(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    took, err = interrupt([*CHECK, "--dask", "local"], tmp_path, 2, after_s=4.0)
    line = one_line(err)
    assert line.startswith("locksim: interrupted: ") and "schedules run" in line
    assert took < STOP_S


def test_ctrl_c_while_the_dask_cluster_starts_stops_it_too(tmp_path: Path) -> None:
    """The parent keeps its Ctrl-C while Dask spawns workers (they are born deaf to it)."""
    pytest.importorskip("distributed")
    took, err = interrupt([*CHECK, "--dask", "local"], tmp_path, 1, after_s=0.0)
    line = one_line(err)
    assert line.startswith("locksim: interrupted")
    assert took < STOP_S


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("args", [CHECK, SWEEP, [*CHECK, "--dask", "local"]],
                         ids=["check", "sweep", "dask"])
def test_workers_die_with_their_parent(tmp_path: Path, how: signal.Signals,
                                       args: list[str]) -> None:
    if "--dask" in args:
        pytest.importorskip("distributed")
    proc, _ = start(args, tmp_path)
    kids: list[psutil.Process] = []
    try:
        kids = workers_of(proc, 2)
        time.sleep(1.0)
        proc.send_signal(how)  # the parent alone, as kill(1) or the OOM killer would
        proc.wait(timeout=30)
        deadline = time.monotonic() + GONE_S
        while not all(gone(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = [k.pid for k in kids if not gone(k)]
        assert not alive, f"workers {alive} outlived their parent"
    finally:
        for k in kids:  # only if the test failed: leave no stray worker behind
            if not gone(k):
                k.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
