"""The simulator: SimPy virtual time, a modelled network, Redis node and app servers."""

from sim.world.world import RunResult, World, run

__all__ = ["RunResult", "World", "run"]
