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

from sim.server import RedisServer, ServerStartError, find_redis_servers

pytestmark = pytest.mark.real_redis


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie child of ours counts as gone once reaped elsewhere
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
            if state == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("binary", find_redis_servers() or [None],
                         ids=lambda b: b.name if b else "none")
def test_start_ping_stop_each_binary(binary):
    if binary is None:
        pytest.fail("no redis-server found") if os.environ.get("CI") else pytest.skip("none")
    with RedisServer(binary) as server:
        assert server.client().ping()
        assert server.version[0] >= 6
        pid = server.pid
    assert _gone(pid)


def test_two_servers_are_independent(redis_servers):
    a, b = redis_servers(2)
    assert a.port != b.port
    a.client().set("k", "a")
    assert b.client().get("k") is None


def test_bound_to_loopback_only_and_no_persistence(redis_servers):
    (server,) = redis_servers()
    client = server.client()
    assert client.config_get("bind")["bind"] == "127.0.0.1"
    assert client.config_get("save")["save"] == ""
    assert client.config_get("appendonly")["appendonly"] == "no"


def test_kill_then_restart_on_the_same_port_loses_data(redis_servers):
    (server,) = redis_servers()
    port = server.port
    server.client().set("k", "v")
    server.kill()
    assert not server.running
    server.restart()
    assert server.port == port
    assert server.client().get("k") is None


def test_pause_freezes_and_resume_thaws(redis_servers):
    (server,) = redis_servers()
    client = server.client(socket_timeout=0.3)
    client.set("k", "v")
    server.pause()
    try:
        with pytest.raises(redis_py.TimeoutError):
            client.get("k")
    finally:
        server.resume()
    assert server.client().get("k") == b"v"


def test_stop_is_idempotent_and_stops_a_paused_server(redis_servers):
    (server,) = redis_servers()
    pid = server.pid
    server.pause()
    server.stop()
    server.stop()
    assert _gone(pid)


def test_bogus_binary_is_one_clear_line(tmp_path):
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'Redis server v=7.0.0 sha=0'\nexit 0\n")
    fake.chmod(0o755)
    with pytest.raises(ServerStartError) as info:
        RedisServer(fake, start_timeout=2).start()
    assert "\n" not in str(info.value)
    with pytest.raises(ServerStartError) as info:
        RedisServer(tmp_path / "missing")
    assert "\n" not in str(info.value)


def test_exception_inside_with_block_stops_the_server():
    pid = None
    with pytest.raises(RuntimeError), RedisServer() as server:
        pid = server.pid
        raise RuntimeError("boom")
    assert pid is not None and _gone(pid)


CHILD = textwrap.dedent("""
    import signal, sys, time
    # as in a terminal: Ctrl-C raises KeyboardInterrupt (a parent started in the
    # background may have left SIGINT ignored, which children inherit)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {root!r})
    from sim.server import RedisServer
    s = RedisServer().start()
    print(s.pid, flush=True)
    time.sleep(60)
""")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM],
                         ids=["sigkill", "ctrl-c", "sigterm"])
def test_server_dies_with_its_parent_on_every_exit_path(how):
    root = str(Path(__file__).resolve().parents[1])
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(root=root)],
                             stdout=subprocess.PIPE, text=True)
    try:
        pid = int(child.stdout.readline())
        os.kill(pid, 0)  # the server runs
        child.send_signal(how)
        child.wait(timeout=10)
        assert _gone(pid), f"redis-server {pid} outlived its parent after {how.name}"
    finally:
        if child.poll() is None:
            child.kill()
