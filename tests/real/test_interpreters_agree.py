"""One interpreter, two hosts: the same programs give the same histories.

Each program of ``tests.real.driver_programs`` runs once in the simulator
(``World.spawn``) and once in a real worker against a real redis-server; their
program ops must match in order, type, function and value, and their times
(from the first op) agree within ``TOLERANCE_MS``."""

from __future__ import annotations

import asyncio

import pytest

import tests.real.driver_programs as programs
from models.scenario import Scenario
from sim.real.cluster import Cluster
from sim.world.world import World

CORPUS = ["pubsub", "spawn_cancel", "storage", "every_effect"]
TOLERANCE_MS = 150.0  # real scheduling jitter on a loaded 2-core machine (a cold worker start)


@pytest.fixture(scope="module")
def binary(redis_server_binaries):
    return redis_server_binaries[0]


def _ops(history):
    ops = [op for op in history if op.process not in ("storage", "nemesis")]
    t0 = ops[0].time if ops else 0.0
    return [(op.process, op.type, op.f, op.value) for op in ops], [op.time - t0 for op in ops]


def _simulated(name: str):
    world = World(Scenario(requests=0, stock=10))
    world.spawn("app1", "p", getattr(programs, name)())
    return _ops(world.run_until(10_000))


def _real(binary, name: str):
    async def go():
        cluster = Cluster(Scenario(servers=1, requests=0, stock=10), redis_server=binary)
        try:
            await cluster.start()
            await cluster.run_program("app1", "p", f"tests.real.driver_programs:{name}")
            await asyncio.sleep(0.3)
            return _ops(cluster.history())
        finally:
            cluster.close()

    return asyncio.run(go())


@pytest.mark.parametrize("name", CORPUS)
def test_same_history_in_both_worlds(binary, name):
    (sim_ops, sim_times), (real_ops, real_times) = _simulated(name), _real(binary, name)
    assert sim_ops == real_ops
    assert all(abs(a - b) <= TOLERANCE_MS for a, b in zip(sim_times, real_times, strict=True)), (
        list(zip(sim_ops, sim_times, real_times, strict=True)))
