"""A process's end (a crash, the run's horizon): its coroutines are closed inside the run.

Left to the garbage collector they ran their ``finally`` blocks at a moment the run did
not choose (a lock's release sent by a dead process, redis-py's disconnect with no
running loop) and printed ``coroutine ... was never awaited``.
"""

from __future__ import annotations

import gc
import warnings

from models.faults import DEFAULT_KINDS
from sim.aio import check_determinism
from sim.aio.runner import UNSUPPORTED
from sim.aio.search import handler_schedule

KINDS = [k for k in DEFAULT_KINDS if k not in UNSUPPORTED]  # what `check --handler` draws


def test_crashed_processes_leave_no_coroutine_behind() -> None:
    # schedule 8: the holder crashes inside its own callback, is restarted twice
    scenario = handler_schedule("examples.coupon_handler:handle", KINDS, 1, 8)
    assert sum(f.kind == "crash" for f in scenario.faults) >= 2
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", RuntimeWarning)
        _run, same = check_determinism(scenario)
        gc.collect()
    assert same.same, str(same)
    assert [str(w.message) for w in seen if issubclass(w.category, RuntimeWarning)] == []
