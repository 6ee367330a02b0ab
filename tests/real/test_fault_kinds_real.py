"""The new fault kinds on a real Redis: applied where they can be, refused in one line where not."""

from __future__ import annotations

import pytest

from models.faults import RedisRestart, SlowStorage, parse_fault
from models.scenario import Scenario
from sim.cli.main import main
from sim.real.cluster import Cluster, ClusterError, run_real

BOUNDED = {"lock_params": (("wait_timeout_ms", 500),), "horizon_ms": 30_000.0}


@pytest.fixture(scope="module")
def binary(redis_server_binaries):
    return redis_server_binaries[0]


@pytest.mark.parametrize("spec", ["lost-reply:0", "crash:0@cmd=2", "pause:0:100@lease=0.5",
                                  "delay:0:100:50@renewal", "slow-storage:0:100:50@write"])
def test_what_needs_the_simulator_is_refused_in_one_line(spec, capsys, binary):
    with pytest.raises(ClusterError) as exc:
        Cluster(Scenario(requests=1, faults=(parse_fault(spec),)), redis_server=binary)
    assert "\n" not in str(exc.value) and "simulator" in str(exc.value)
    code = main(["run", "--real-redis", "--redis-server", str(binary), "--users", "2",
                 "--fault", spec])
    err = capsys.readouterr().err
    assert code == 2 and "simulator" in err and "Traceback" not in err


def test_slow_storage_slows_the_database_on_a_real_run(binary):
    scenario = Scenario(requests=6, vus=2, faults=(SlowStorage(0.0, 60_000.0, 150.0, "storage"),),
                        **BOUNDED)
    result = run_real(scenario, redis_server=binary)
    assert result.history.filter(process="nemesis", f="slow-storage")
    reads = [p for p in result.history.pairs("read") if p.end is not None]
    assert reads and all(p.end - p.start >= 150.0 for p in reads), \
        [p.end - p.start for p in reads]
    assert result.completed == 6


def test_a_redis_restart_empties_it_and_it_comes_back(binary):
    arrivals = tuple(100.0 * i for i in range(8))
    scenario = Scenario(requests=8, vus=8, load="scheduled", arrivals_ms=arrivals,
                        faults=(RedisRestart(250.0, 200.0),), **BOUNDED)
    result = run_real(scenario, redis_server=binary)
    h = result.history
    crash, = h.filter(process="nemesis", f="crash")
    restart, = h.filter(process="nemesis", f="restart")
    assert crash.node == restart.node == "redis" and restart.time >= crash.time + 200.0
    later = [p for p in h.pairs("acquire") if p.start > restart.time and p.ok]
    assert later, "nobody acquired after Redis came back"
