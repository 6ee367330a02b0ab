"""Bounded exhaustive exploration: covers a tiny world, tells designs apart, replays findings."""

from __future__ import annotations

import json

import networkx as nx

from models.checkers import check_all
from sim.cli.main import main
from sim.search.exhaustive import exhaust, tiny
from sim.world import run


def test_the_seed_lock_loses_a_wakeup_and_every_finding_replays():
    found = exhaust(tiny("seed"), depth=8)
    assert found.covered
    assert found.runs <= 2 ** 8
    assert found.violations.get("no-lost-wakeup", 0) > 0
    for finding in found.findings[:5]:
        result = run(finding.scenario)
        assert result.trace_hash == finding.trace_hash
        violated = {v.property for v in check_all(result.history, truth=result) if v.valid is False}
        assert set(finding.violated) == violated


def test_subscribing_first_closes_the_gap_over_the_same_space():
    before = tiny("seed", lock_params=(("subscribe", "before"),))
    found = exhaust(before, depth=8)
    assert found.covered and found.runs > 50
    assert found.violations == {}


def test_the_graph_merges_equal_prefixes_and_is_deterministic():
    a = exhaust(tiny("seed", gap_ms=1.0), depth=8)
    b = exhaust(tiny("seed", gap_ms=1.0), depth=8)
    assert {k: v for k, v in a.as_dict().items() if k != "seconds"} == \
        {k: v for k, v in b.as_dict().items() if k != "seconds"}
    assert set(a.graph.nodes) == set(b.graph.nodes)
    assert nx.is_directed_acyclic_graph(a.graph)
    leaves = [n for n in a.graph if a.graph.out_degree(n) == 0]
    assert len(leaves) == a.outcomes
    # every run is a path from the start to its leaf
    assert all(nx.has_path(a.graph, "start", leaf) for leaf in leaves)


def test_a_budget_too_small_says_the_space_was_not_covered():
    found = exhaust(tiny("seed"), depth=10, max_runs=20)
    assert found.runs == 20 and not found.covered


def test_cli_writes_counterexample_and_graph(tmp_path, capsys):
    graph = tmp_path / "graph.json"
    code = main(["check", "--exhaustive", "--depth", "8", "--out", str(tmp_path / "cex"),
                 "--graph", str(graph), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["covered"] and out["violations"]["no-lost-wakeup"] > 0
    assert json.loads(graph.read_text())["nodes"]
    path = out["counterexamples"][0]["file"]
    assert main(["replay", path]) == 0
    assert main(["check", "--exhaustive", "--levels", "0,2000"]) == 2
    assert "--levels" in capsys.readouterr().err
