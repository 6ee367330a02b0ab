"""The house rules, checked by reading imports rather than by trusting docstrings.

* ``random`` lives in one module: the run's chooser (one source of choices).
* Real clocks, sockets, signals, processes and redis-py are the outside world:
  only ``sim/real/``, the command line (``sim/cli/``) and the asyncio tier
  (``sim/aio/``, which runs real library code, asyncio and, in ``sim/aio/threads/``,
  threaded, and patches those for a run) touch them.
* SimPy is the simulator's kernel: only ``sim/world/`` imports it.
* ``models/`` is pure: it imports nothing from ``sim``.
* The wings build on each other in one direction (``WINGS`` below).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

OUTSIDE = {"time", "signal", "socket", "asyncio", "subprocess", "threading", "redis", "ctypes",
           "selectors", "uuid", "atexit"}

# what each wing may import from sim (besides itself and models)
WINGS: dict[str, set[str]] = {
    "runtime": set(),
    "world": {"runtime"},
    "real": {"runtime"},
    "search": {"runtime", "world"},
    "sweep": {"runtime", "world", "search"},
    "monitor": {"runtime", "world"},
    "views": {"runtime", "world", "search", "monitor"},
    "compare": {"runtime", "world", "real", "search", "views"},
    "aio": {"runtime", "world", "search", "real", "compare"},
    "cli": {"runtime", "world", "real", "search", "sweep", "monitor", "views", "compare", "aio"},
}


def modules() -> list[Path]:
    return sorted(p for top in ("models", "sim") for p in (ROOT / top).rglob("*.py"))


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def wing(path: Path) -> str | None:
    parts = path.relative_to(ROOT).parts
    if parts[0] != "sim" or (len(parts) == 2 and parts[1] == "__init__.py"):
        return None
    return parts[1].removesuffix(".py")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_keeps_the_house_rules(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    top = {name.split(".")[0] for name in imports(path)}
    here = wing(path)
    if "random" in top:
        assert rel == "sim/runtime/chooser.py", f"{rel} imports random: draw from the Chooser"
    outside = top & OUTSIDE
    if outside:
        assert here in ("real", "cli", "aio"), \
            f"{rel} imports {sorted(outside)}: only sim/real, sim/cli, sim/aio"
    if "simpy" in top:
        assert here == "world", f"{rel} imports simpy: only sim/world"
    if rel.startswith("models/"):
        assert "sim" not in top, f"{rel} imports sim: models/ is pure"
        return
    if here is None:
        return
    used = {name.split(".")[1] for name in imports(path)
            if name.startswith("sim.") and len(name.split(".")) > 1}
    allowed = WINGS[here] | {here}
    assert used <= allowed, f"{rel} ({here}) imports sim.{sorted(used - allowed)}"


def test_every_wing_is_known() -> None:
    wings = {wing(p) for p in modules()} - {None}
    assert wings <= set(WINGS), sorted(wings - set(WINGS))
