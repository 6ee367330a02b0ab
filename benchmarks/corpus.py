"""The corpus baseline: which public bug classes today's checkers find, and how fast.

For every design in ``models.locks.zoo`` (and ``polling``, the built-in
reference) and every search strategy (``swarm``, ``pct``), run ``locksim
check``'s schedules one by one (the very ``sim.search.explore`` functions, one
worker) until the budget is spent, and report per design and strategy: the
properties found, the schedules and seconds to the first find, the size of the
shrunk counterexample (faults, requests), and its *own find*: a
property found that the reference lock does not show (the bug class itself,
not the generic lease-outlived-by-a-pause harm every unfenced design has). A correct twin's
finding is a *false alarm* only when the reference lock (``polling``, the same
lease without the bug) does not show that property too: an unfenced lease
violates mutual exclusion under a pause longer than its TTL (K1), whatever
the design, and that is a true finding, not noise.

Schedules are independent of the design (same ids, same workload and swarm
fault plan for every lock), so the reference and a design meet the same ones.

``python -m benchmarks.corpus --schedules 20000 --seconds 60`` (``--strategies
swarm`` for one; ``--table benchmarks/corpus.json`` re-prints a written run)
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from models.checkers import PRIORITY
from models.faults import DEFAULT_KINDS
from models.locks.zoo import BUGGY, CORRECT, ENVIRONMENT_CAUSES, EXPECTED, claims
from sim.search.explore import STRATEGIES, Job, plan, run_schedule
from sim.search.shrink import shrink

REFERENCE = "polling"
DEFAULT_JSON = Path("benchmarks") / "corpus.json"


@dataclass
class Row:
    """One design's measurement."""

    lock: str
    bug_class: str
    correct: bool
    strategy: str = "swarm"
    schedules: int = 0
    seconds: float = 0.0
    first: dict[str, tuple[int, float]] = field(default_factory=dict)  # prop -> (n, s)
    shrunk: dict[str, dict[str, int]] = field(default_factory=dict)
    false_alarms: list[str] = field(default_factory=list)
    specific: list[str] = field(default_factory=list)  # found, and not by the reference

    @property
    def found(self) -> list[str]:
        rank = {p: i for i, p in enumerate(PRIORITY)}
        return sorted(self.first, key=lambda p: rank.get(p, 99))

    @property
    def headline(self) -> str | None:
        """The property the row is about: its own find, else its first-ranked find."""
        own = self.specific or self.false_alarms
        return own[0] if own else (self.found[0] if self.found else None)


def measure(lock: str, bug: str, correct: bool, seed: int, schedules: int, seconds: float,
            shrink_budget: int, strategy: str = "swarm", expect: str | None = None) -> Row:
    """Run schedules until the budget is spent, or (``expect``) its property is found."""
    row = Row(lock, bug, correct, strategy)
    kinds = DEFAULT_KINDS
    started = time.perf_counter()
    for index in range(schedules):
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            break
        outcome = run_schedule(Job(lock, kinds, seed, index, strategy=strategy))
        row.schedules = index + 1
        for prop, cause in zip(outcome.violated, outcome.causes, strict=False):
            if correct and cause in ENVIRONMENT_CAUSES:
                continue  # Redis lost its data (the fence counter): not the design's
            row.first.setdefault(prop, (index + 1, round(time.perf_counter() - started, 3)))
        if expect is not None and expect in row.first:
            break
    row.seconds = round(time.perf_counter() - started, 3)
    return row


def shrink_row(row: Row, seed: int, budget: int) -> None:
    """Shrink the first schedule violating the row's headline property (cause kept)."""
    prop = row.headline
    if prop is None or not budget:
        return
    index = row.first[prop][0] - 1
    small = shrink(plan(Job(row.lock, DEFAULT_KINDS, seed, index, strategy=row.strategy)),
                   prop, budget)
    row.shrunk[prop] = {"faults": len(small.faults), "requests": small.requests}


def judge(rows: list[Row], seed: int | None = None) -> None:
    """Own finds and false alarms, by the bug class: a buggy design's own find is the
    property that names its class (``models.locks.zoo.EXPECTED``); a correct design's
    false alarm is any bug-class property it claims (``claims``) that fired."""
    del seed  # kept for --table --reshrink callers
    for r in rows:
        if r.correct:
            r.false_alarms, r.specific = [p for p in r.found if p in claims(r.lock)], []
        else:
            own = EXPECTED.get(r.bug_class)
            r.false_alarms, r.specific = [], [own] if own in r.first else []


def table(rows: list[Row]) -> str:
    head = (f"{'design':22} {'strategy':8} {'property':30} {'first (n / s)':16} {'shrunk':7} "
            f"{'false alarm':12} {'schedules':>9} bug class")
    lines = [head, "-" * len(head)]
    for r in rows:
        prop = r.headline
        first = f"{r.first[prop][0]} / {r.first[prop][1]:.1f}" if prop else "-"
        shown = prop or ("-" if r.correct or r.lock == REFERENCE else "MISSED")
        if prop and not r.correct and not r.specific:
            shown = f"MISSED ({EXPECTED.get(r.bug_class, '?')})"
        shrunk = "; ".join(f"{v['faults']}f{v['requests']}r" for v in r.shrunk.values()) or "-"
        alarm = (", ".join(r.false_alarms) or "none") if r.correct else ""
        lines.append(f"{r.lock:22} {r.strategy:8} {shown[:30]:30} {first:16} {shrunk:7} "
                     f"{alarm[:12]:12} {r.schedules:9} {r.bug_class[:40]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schedules", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=60.0, help="per design")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shrink-budget", type=int, default=60)
    ap.add_argument("--only", nargs="*", help="design names (default: all)")
    ap.add_argument("--holdout", action="store_true",
                    help="measure tests/quality/holdout.py instead: a second implementation "
                    "of every bug class, kept out of the corpus")
    ap.add_argument("--strategies", default=",".join(STRATEGIES),
                    help="comma-separated search strategies (default: all)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    ap.add_argument("--table", type=Path, help="re-print the table of a written JSON and stop")
    ap.add_argument("--reshrink", action="store_true",
                    help="with --table: judge and shrink every row's find again (the "
                    "shrinker changed) and write the JSON back")
    args = ap.parse_args(argv)
    if args.table:
        data = json.loads(args.table.read_text())
        old = [Row(**{k: v for k, v in r.items() if k != "found"}) for r in data["rows"]]
        if args.reshrink:  # else the JSON's own judgement stands
            judge(old, data["budget"]["seed"])
            for row in old:
                row.shrunk = {}
                shrink_row(row, data["budget"]["seed"], args.shrink_budget)
            data["rows"] = [asdict(r) | {"found": r.found} for r in old]
            args.table.write_text(json.dumps(data, indent=1))
        print(f"budget: {data['budget']}")
        print(table(old))
        return 0
    designs = [(REFERENCE, "reference: built-in polling (redis-py Lock)", True)]
    if args.holdout:
        from tests.quality.holdout import HOLDOUT

        designs = [(n, BUGGY[sibling][0], False) for n, (sibling, _) in HOLDOUT.items()]
        if args.json == DEFAULT_JSON:
            args.json = Path("benchmarks") / "holdout.json"
    else:
        designs += [(n, b, False) for n, (b, _) in BUGGY.items()]
        designs += [(n, b, True) for n, (b, _) in CORRECT.items()]
    if args.only:
        designs = [d for d in designs if d[0] in args.only or d[0] == REFERENCE]
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        ap.error(f"--strategies: known are {', '.join(STRATEGIES)}")
    rows: list[Row] = []
    for lock, bug, correct in designs:
        for strategy in strategies:
            row = measure(lock, bug, correct, args.seed, args.schedules, args.seconds,
                          args.shrink_budget, strategy,
                          None if correct else EXPECTED.get(bug))
            rows.append(row)
            print(f"{lock} [{strategy}]: {row.schedules} schedules in {row.seconds:.1f} s, "
                  f"found {row.found}", flush=True)
    judge(rows, args.seed)
    for row in rows:
        shrink_row(row, args.seed, args.shrink_budget)
    print()
    print(table(rows))
    budget = {"schedules": args.schedules, "seconds_per_design": args.seconds, "workers": 1,
              "seed": args.seed, "faults": list(DEFAULT_KINDS), "strategies": strategies}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(
        {"budget": budget, "rows": [asdict(r) | {"found": r.found} for r in rows]}, indent=1))
    print(f"\nwritten {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
