"""locksim's machinery around the pure models: both worlds, search, studies, views, the CLI.

The wings, in the order they build on each other (``tests/unit/test_layers.py``
checks the arrows): ``runtime`` (what both worlds share) -> ``world`` (the SimPy
simulator) | ``real`` (real redis-server and worker processes) -> ``search`` |
``sweep`` | ``monitor`` -> ``compare`` | ``views`` -> ``cli``.

The names below are the public entry points, imported lazily so that
``import sim`` stays cheap for worker processes.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("locksim")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_PUBLIC = {
    "Scenario": "models.scenario",
    "run": "sim.world",
    "World": "sim.world",
    "RunResult": "sim.world",
    "scenarios": "sim.search.strategies",
    "assert_holds": "sim.search.strategies",
    "explore": "sim.search.explore",
    "run_real": "sim.real.cluster",
    "Grid": "sim.sweep",
    "sweep": "sim.sweep",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    return getattr(import_module(module), name)
