"""Fingerprints of many runs, to prove a speed change left every result alone.

For each lock and schedule: the trace hash, every verdict (property, valid,
summary, witness, story), and a digest of the ground-truth log (effects and
request spans). ``--out FILE`` writes them; ``--against FILE`` compares and
prints the first differences (exit 1 if any).

    PYTHONPATH=. python -m benchmarks.fingerprint --out before.json
    PYTHONPATH=. python -m benchmarks.fingerprint --against before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

LOCKS = ("seed", "polling", "redisson", "zoo-unconditional-del", "zoo-no-ttl",
         "zoo-get-compare-del")
KINDS = ("pause", "delay", "partition", "clock", "crash")
REPORT_HASH = "ab5be1fdbfdd51d4b70fa12e01b5476f10ad5bb4320ad9965ef0f4576ca1d538"


def _digest(items: Sequence[object]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for item in items:
        h.update(repr(item).encode())
        h.update(b"\n")
    return h.hexdigest()


def fingerprint(lock: str, kinds: Sequence[str], seed: int, index: int) -> dict[str, str]:
    """One schedule's trace hash, verdicts and ground-truth log, as short strings."""
    from models.checkers import check_all
    from sim.search.explore import schedule
    from sim.world import run

    result = run(schedule(lock, tuple(kinds), seed, index))
    verdicts = check_all(result.history, truth=result)
    return {"trace": result.trace_hash,
            "verdicts": _digest([(v.property, v.valid, v.summary, v.witness, v.story)
                                 for v in verdicts]),
            "violated": ",".join(v.property for v in verdicts if v.valid is False),
            "effects": _digest(result.effects), "requests": _digest(result.requests)}


def collect(locks: Sequence[str], kinds: Sequence[str], schedules: int,
            seed: int = 1) -> dict[str, dict[str, str]]:
    import models.locks.zoo  # noqa: F401  (registers the zoo)

    return {f"{lock}/{i}": fingerprint(lock, kinds, seed, i)
            for lock in locks for i in range(schedules)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fingerprint",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=300)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--against", type=Path)
    args = parser.parse_args(argv)
    from models.scenario import Scenario
    from sim.world import run

    report = run(Scenario()).trace_hash
    print(f"report scenario trace hash {report} "
          f"({'as pinned' if report == REPORT_HASH else 'CHANGED'})")
    prints = collect(LOCKS, KINDS, args.schedules)
    violated = sum(1 for p in prints.values() if p["violated"])
    print(f"{len(prints)} schedules fingerprinted, {violated} with a violation")
    if args.out:
        args.out.write_text(json.dumps({"report": report, "runs": prints}, indent=1) + "\n")
    if args.against:
        old = json.loads(args.against.read_text())
        diffs = [f"report: {old['report']} -> {report}"] if old["report"] != report else []
        both = [key for key in prints if key in old["runs"]]
        for key in both:
            was, now = old["runs"][key], prints[key]
            diffs += [f"{key} {field}: {was[field]} -> {now.get(field)}"
                      for field in was if was[field] != now.get(field)]
        for line in diffs[:40]:
            print(line)
        print(f"{len(diffs)} differences in {len(both)} schedules against {args.against}")
        if not both:
            diffs.append("nothing in common")
        return 1 if diffs else 0
    return 0 if report == REPORT_HASH else 1


if __name__ == "__main__":
    sys.exit(main())
