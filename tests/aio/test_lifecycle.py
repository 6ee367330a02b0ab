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


def test_a_finished_run_leaves_no_unclosed_connection_to_warn_about() -> None:
    """The processes' sockets end with the run: redis-py's connections (plain and
    Sentinel-managed, kept in its pools) must not warn "unclosed Connection" when
    collected after it."""
    from models.dist import Dist
    from models.faults import parse_fault
    from models.scenario import Scenario

    plain = handler_schedule("examples.coupon_handler:handle", KINDS, 1, 3)
    sentinel = Scenario(servers=2, vus=2, requests=6, topology="sentinel:2",
                        down_after_ms=1000.0, replica_lag=Dist.parse("uniform:50:100"),
                        faults=(parse_fault("failover:10"),),
                        handler="examples.coupon_handler:handle_sentinel")
    for scenario in (plain, sentinel):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", ResourceWarning)
            run, _same = check_determinism(scenario)
            del run, _same
            gc.collect()
        unclosed = [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]
        assert unclosed == [], unclosed[:3]
