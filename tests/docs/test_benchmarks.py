"""The benchmark suite's code runs and reports every figure (tiny sizes; no timing asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.suite import main

FIGURES = (
    "floor: SimPy request/reply loop",
    "report scenario: wall time",
    "report scenario: simulated time",
    "report scenario: speed-up over real time",
    "report scenario: Redis commands/s",
    "report scenario: 7 checkers",
    "report scenario: lock programs + history alone",
    "report scenario: its events alone",
    "report scenario: best speed-up with a free network and Redis model",
    "small exploration, 1 core",
    "GC-pause coupon rule: find + shrink",
    "2 workers over 1 worker",
)


def test_tiny_suite_writes_every_figure(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    assert main(["--sizes", "tiny", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    names = [f["name"] for f in data["figures"]]
    for name in FIGURES:
        assert name in names
    assert any(n.startswith("peak memory, ") for n in names)
    assert all(f["value"] > 0 for f in data["figures"])
    targets = [f for f in data["figures"] if f["target"]]
    assert len(targets) == 6 and all(isinstance(f["passed"], bool) for f in targets)
    rate = next(f for f in data["figures"] if f["name"] == "report scenario: Redis commands/s")
    assert rate["vs_floor"] == rate["value"] / data["floor_round_trips_per_second"]
    assert data["shrink"]["property"] in ("stock-conservation", "no-over-issue",
                                          "no-duplicate-issue")
    assert "figures written to" in capsys.readouterr().out
