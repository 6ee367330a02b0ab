"""Peak memory of one exploration, in a fresh process so no other figure pollutes it.

``python -m benchmarks.peak_memory SCHEDULES`` prints one JSON line: the
resident-set peak (VmHWM, else ru_maxrss) after imports and after the schedules.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def _maxrss_mb() -> float:
    """This process's resident-set peak. VmHWM first: ru_maxrss survives exec on Linux,
    so a child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    schedules = int(args[0]) if args else 10_000
    from models.checkers import check_all  # noqa: F401  (imports count as baseline)
    from sim.search.explore import explore
    from sim.world import run  # noqa: F401

    baseline = _maxrss_mb()
    started = time.perf_counter()
    outcomes = explore("seed", ("gc-pause", "delay"), 1, schedules, workers=1)
    seconds = time.perf_counter() - started
    print(json.dumps({"schedules": len(outcomes), "baseline_mb": round(baseline, 1),
                      "peak_mb": round(_maxrss_mb(), 1), "seconds": round(seconds, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
