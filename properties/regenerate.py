"""Re-derive the regression seeds from their origin, and every file name the docs cite.

A regression seed is a counterexample ``locksim check`` wrote: the first
schedule of (seed, fault kinds) violating its property, shrunk. When what a
schedule id means changes (the explorer's draws, the fault kinds' ranges),
the kept files still replay (their scenario is in them) but no longer are
what ``check`` writes, and the README's commands name files ``check`` no
longer makes. This re-runs each seed's origin, rewrites the seed, and replaces
the old file names (and the README's "schedule N" of the find benchmark) in
every tracked text file. One command, from the repository root:

    .venv/bin/python properties/regenerate.py            # --dry-run: print only
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "properties" / "regressions"
SEARCH = 20_000
"""Schedules searched for the first violation (``check``'s ids, so any budget that
reaches it finds the same one)."""
TEXT = ("*.py", "*.md", "*.ipynb", "*.txt", "*.toml", "*.cfg")
_FIND_ROW = re.compile(r"met \(schedule \d+, shrunk to \d+ fault\(?s?\)?, \d+ requests?\)")


def regenerate(path: Path, dry: bool) -> tuple[str, str]:
    """(old name, new name) of one seed, rewritten from its origin unless ``dry``."""
    from sim.search import counterexample
    from sim.search.shrink import first_violation, shrink_schedule

    cx = counterexample.load(path)
    origin = dict(cx.origin)
    kinds = tuple(origin.get("faults", ()))
    seed = int(origin.get("seed", 1))
    index = first_violation(cx.lock, kinds, seed, SEARCH, cx.property)[0]
    found = shrink_schedule(cx.lock, kinds, seed, index, cx.property)
    fresh = counterexample.record(found, cx.property,
                                  {**origin, "seed": seed, "index": index, "faults": list(kinds)},
                                  imports=cx.imports)
    if cx.expect is not None:
        fresh = fresh.expecting(cx.expect)
    if not dry:
        if fresh.name != path.name:
            path.unlink()
        counterexample.save(fresh, path.parent)
    return path.name, fresh.name


def find_row() -> str:
    """The README's find-and-shrink row, as ``benchmarks.suite`` measures it."""
    from sim.search.shrink import find, first_violation

    rules = ("no-over-issue", "stock-conservation", "no-duplicate-issue")
    index, _prop = first_violation("seed", ("gc-pause",), 1, 100_000, rules)
    small = find("seed", ("gc-pause",), 1, 100_000, rules)
    faults = f"{len(small.faults)} fault" + ("s" if len(small.faults) != 1 else "")
    return f"met (schedule {index}, shrunk to {faults}, {small.requests} requests)"


def tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files", *TEXT], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    return [ROOT / name for name in out if not name.startswith("properties/regressions/")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="print the renames, write nothing")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    renames = [regenerate(p, args.dry_run) for p in sorted(FOLDER.glob("*.json"))]
    row = find_row()
    for old, new in renames:
        print(f"{old} -> {new}")
    print(f"README find row: {row}")
    if args.dry_run:
        return 0
    for path in tracked():
        text = path.read_text()
        changed = text
        for old, new in renames:
            changed = changed.replace(old, new)
        if path.name == "README.md":
            changed = _FIND_ROW.sub(row, changed)
        if changed != text:
            path.write_text(changed)
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
