"""The corpus baseline: which public bug classes today's checkers find, and how fast.

For every design in ``models.locks.zoo`` (and ``polling``, the built-in
reference), run ``locksim check``'s schedules one by one (the very
``sim.search.explore`` functions, one worker) until the budget is spent, and
report per design: the properties found, the schedules and seconds to the
first find, the size of the shrunk counterexample, and its *own find*: a
property found that the reference lock does not show (the bug class itself,
not the generic lease-outlived-by-a-pause harm every unfenced design has). A correct twin's
finding is a *false alarm* only when the reference lock (``polling``, the same
lease without the bug) does not show that property too: an unfenced lease
violates mutual exclusion under a pause longer than its TTL (K1), whatever
the design, and that is a true finding, not noise.

``python -m benchmarks.corpus --schedules 20000 --seconds 60``
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from models.checkers import PRIORITY
from models.faults import FAULTS
from models.locks.zoo import BUGGY, CORRECT
from sim.search.explore import Job, run_schedule, schedule
from sim.search.shrink import shrink

REFERENCE = "polling"
DEFAULT_JSON = Path("benchmarks") / "corpus.json"


@dataclass
class Row:
    """One design's measurement."""

    lock: str
    bug_class: str
    correct: bool
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


def measure(lock: str, bug: str, correct: bool, seed: int, schedules: int, seconds: float,
            shrink_budget: int) -> Row:
    row = Row(lock, bug, correct)
    kinds = tuple(FAULTS)
    started = time.perf_counter()
    for index in range(schedules):
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            break
        outcome = run_schedule(Job(lock, kinds, seed, index))
        row.schedules = index + 1
        for prop in outcome.violated:
            row.first.setdefault(prop, (index + 1, round(time.perf_counter() - started, 3)))
    row.seconds = round(time.perf_counter() - started, 3)
    if row.found and shrink_budget:
        prop = row.found[0]
        small = shrink(schedule(lock, kinds, seed, row.first[prop][0] - 1), prop, shrink_budget)
        row.shrunk[prop] = {"faults": len(small.faults), "requests": small.requests}
    return row


def table(rows: list[Row]) -> str:
    head = (f"{'design':22} {'bug class':44} {'shrunk':8} {'own find':19} {'false alarm':12} "
            "found (first: schedules/s)")
    lines = [head, "-" * len(head)]
    for r in rows:
        found = ", ".join(f"{p} ({r.first[p][0]}/{r.first[p][1]:.1f}s)" for p in r.found) or "-"
        shrunk = "; ".join(f"{v['faults']}f{v['requests']}r" for v in r.shrunk.values()) or "-"
        alarm = (", ".join(r.false_alarms) or "none") if r.correct else ""
        own = "" if r.correct else (", ".join(r.specific) or "MISSED")
        lines.append(f"{r.lock:22} {r.bug_class[:44]:44} {shrunk:8} {own:19} {alarm:12} {found}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schedules", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=60.0, help="per design")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shrink-budget", type=int, default=60)
    ap.add_argument("--only", nargs="*", help="design names (default: all)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    ap.add_argument("--table", type=Path, help="re-print the table of a written JSON and stop")
    args = ap.parse_args(argv)
    if args.table:
        data = json.loads(args.table.read_text())
        old = [Row(**{k: v for k, v in r.items() if k != "found"}) for r in data["rows"]]
        ref = set(old[0].first)
        for r in old[1:]:
            beyond = [p for p in r.found if p not in ref]
            r.false_alarms, r.specific = (beyond, []) if r.correct else ([], beyond)
        print(f"budget: {data['budget']}")
        print(table(old))
        return 0
    designs = [(REFERENCE, "reference: built-in polling (redis-py Lock)", True)]
    designs += [(n, b, False) for n, (b, _) in BUGGY.items()]
    designs += [(n, b, True) for n, (b, _) in CORRECT.items()]
    if args.only:
        designs = [d for d in designs if d[0] in args.only or d[0] == REFERENCE]
    rows: list[Row] = []
    for lock, bug, correct in designs:
        row = measure(lock, bug, correct, args.seed, args.schedules, args.seconds,
                      args.shrink_budget)
        rows.append(row)
        print(f"{lock}: {row.schedules} schedules in {row.seconds:.1f} s, found {row.found}",
              flush=True)
    reference = set(rows[0].found)
    for r in rows[1:]:
        beyond = [p for p in r.found if p not in reference]
        if r.correct:
            r.false_alarms = beyond
        else:
            r.specific = beyond
    print()
    print(table(rows))
    budget = {"schedules": args.schedules, "seconds_per_design": args.seconds, "workers": 1,
              "seed": args.seed, "faults": list(FAULTS)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(
        {"budget": budget, "rows": [asdict(r) | {"found": r.found} for r in rows]}, indent=1))
    print(f"\nwritten {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
