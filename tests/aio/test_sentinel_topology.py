"""redis-py's Sentinel client over ``sentinel:N``: the simulated Sentinels name the master the
world's Sentinel has, so after a failover the library itself reconnects to the promoted
replica, and loses the lock the dead master had not replicated. Every scenario passes the
determinism self-check."""

from __future__ import annotations

from typing import Any

import pytest

from models.dist import Dist
from models.faults import parse_fault
from models.scenario import Scenario
from sim.aio import check_determinism
from sim.aio.runner import AioWorld, judge

FAILOVER = (parse_fault("failover:10"), parse_fault("pause:5:2500:holder"))
"""The master dies 10 ms in, the holder (which took the lock at ~2 ms) is frozen 2.5 s;
Sentinel promotes redis2 at 1010 ms (down-after 1000)."""


def scenario(lag: str, faults: tuple[Any, ...] = FAILOVER, **kw: Any) -> Scenario:
    base: dict[str, Any] = dict(servers=2, vus=2, requests=10, topology="sentinel:2",
                                down_after_ms=1000.0, replica_lag=Dist.parse(lag),
                                think=Dist.parse("const:300"), faults=faults)
    return Scenario(**{**base, **kw})


def judged(sc: Scenario, handler: Any) -> tuple[Any, dict[str, Any]]:
    run, same = check_determinism(sc, handler)
    assert same.same, str(same)
    return run, {v.property: v for v in judge(run)}


def lock_writes(run: Any) -> dict[str, list[float]]:
    """When a request's command changed the lock key, by node (not replication, expiry or
    a crash)."""
    out: dict[str, list[float]] = {}
    for e in run.result.effects:
        if str(e.key).startswith("lock:") and e.request is not None:
            out.setdefault(e.node, []).append(e.time)
    return out


def discovers(protocol: int) -> Any:
    """Asks the Sentinels where the master and the replicas are, and answers with that."""
    from redis.asyncio.sentinel import Sentinel

    async def handle(redis: Any, db: Any, user: int) -> str:
        sentinel = Sentinel([("sentinel1", 26379), ("localhost", 26380), ("127.0.0.1", 26381)],
                            sentinel_kwargs={"protocol": protocol})
        master = await sentinel.discover_master("mymaster")
        replicas = await sentinel.discover_slaves("mymaster")
        peers = await sentinel.sentinels[0].sentinel_sentinels("mymaster")
        await sentinel.aclose()
        return f"{master} {replicas} {len(peers)}"

    return handle


@pytest.mark.parametrize("protocol", [2, 3])
def test_the_sentinels_answer_what_the_worlds_sentinel_sees(protocol: int) -> None:
    sc = scenario("uniform:50:100", faults=(parse_fault("failover:10"),), requests=2,
                  load="scheduled", arrivals_ms=(0.0, 1500.0))
    run, _v = judged(sc, discovers(protocol))
    answers = [op.value for op in run.result.history if op.f == "request" and op.type == "ok"]
    # before: redis1 is master, redis2 and redis3 its replicas; after: redis2, and redis1 (dead for
    # longer than down-after) is filtered out as s_down; two other Sentinels each time
    assert answers == ["('redis1', 6379) [('redis2', 6379), ('redis3', 6379)] 2",
                       "('redis2', 6379) [('redis3', 6379)] 2"]


def test_failover_before_replication_lets_a_second_holder_in() -> None:
    run, v = judged(scenario("uniform:50:100"), "examples.coupon_handler:handle_sentinel")
    assert v["mutual-exclusion"].valid is False
    writes = lock_writes(run)
    # the holder's SET on redis1; after the failover every lock write is on redis2: the
    # library asked the Sentinels again and reached the promoted replica
    assert min(writes["redis2"]) > 1010.0 and max(writes["redis1"]) < 10.0
    assert sorted(writes) == ["redis1", "redis2"]
    story = v["mutual-exclusion"].story
    assert "app1/req0" in story and "app2/" in story


def test_with_replication_faster_than_the_crash_exclusion_holds() -> None:
    run, v = judged(scenario("uniform:0.1:1"), "examples.coupon_handler:handle_sentinel")
    assert v["mutual-exclusion"].valid is True and v["stock-conservation"].valid is True
    assert min(lock_writes(run)["redis2"]) > 1010.0  # it did move to the promoted node
    issued = [op for op in run.result.history
              if op.f == "request" and op.type == "ok" and op.value == "issued"]
    assert issued and min(op.time for op in issued) > 1010.0


def test_the_handlers_own_redis_is_a_sentinel_client(request: pytest.FixtureRequest) -> None:
    """Without a Sentinel of its own, the handler's ``redis`` finds the master through
    the Sentinels too: ``handle`` (a plain ``redis.lock``) gives the same verdicts."""
    from redis.asyncio.sentinel import SentinelConnectionPool

    world = AioWorld(scenario("uniform:50:100"), lambda *a: None)  # type: ignore[arg-type,return-value]
    request.addfinalizer(world.close)
    client = world.make_client(world.servers[0])
    assert isinstance(client.connection_pool, SentinelConnectionPool)
    assert client.connection_pool.service_name == "mymaster"
    routes = {addr: name for addr, (name, _node) in world.directory.addresses.items()}
    assert routes[("sentinel2", 26379)] == "sentinel2"
    assert routes[("127.0.0.1", 26381)] == "sentinel3"
    assert routes[("sentinel", 26379)] == "sentinel1"
    _run, v = judged(scenario("uniform:50:100"), "examples.coupon_handler:handle")
    assert v["mutual-exclusion"].valid is False
    _run, v = judged(scenario("uniform:0.1:1"), "examples.coupon_handler:handle")
    assert v["mutual-exclusion"].valid is True


def test_a_process_cut_from_the_sentinels_cannot_find_the_new_master() -> None:
    """``app2/sentinel`` cut for 4 s (the faults of the world's links apply to the
    Sentinels' too): app2's first Sentinel query times out and redis-py's Sentinel client
    (a plain ``Redis`` per Sentinel, with the shipped 10 retries) keeps retrying the first
    Sentinel until the cut heals. app2 never reaches redis2 while the holder is frozen,
    so the unreplicated lock is not taken twice."""
    cut = parse_fault("partition:0:4000:app2/sentinel")
    run, v = judged(scenario("uniform:50:100", faults=(*FAILOVER, cut)),
                    "examples.coupon_handler:handle_sentinel")
    assert v["mutual-exclusion"].valid is True
    app2 = [e.time for e in run.result.effects
            if e.request is not None and e.request.startswith("app2")]
    assert app2 and min(app2) > 4000.0
    first = next(op for op in run.result.history
                 if op.process == "app2/req1" and op.f == "request" and op.type != "invoke")
    assert first.time > 4000.0 and first.value == "issued"


def test_pooled_connections_stay_on_a_deposed_master_until_it_is_demoted() -> None:
    """``redis1/sentinel`` cut 3 s (down-after 500): Sentinel promotes redis2 at 500 ms,
    but redis-py asks the Sentinels only for a new connection, so both processes keep
    their pooled connections on the deposed redis1; when the cut heals redis1 is demoted,
    its READONLY reply becomes redis-py's ConnectionError("The previous master is now a
    slave"), and the next request reconnects through the Sentinels to redis2."""
    sc = Scenario(servers=2, vus=100, requests=16, topology="sentinel:2", down_after_ms=500.0,
                  load="open", rate_rps=4.0, replica_lag=Dist.parse("uniform:0.1:1"),
                  faults=(parse_fault("partition:0:3000:redis1/sentinel"),))
    run, v = judged(sc, "examples.coupon_handler:handle_sentinel")
    assert [p for p, x in v.items() if x.valid is False] == []
    writes = lock_writes(run)
    assert 500.0 < max(writes["redis1"]) < 3000.0 and min(writes["redis2"]) > 3000.0
    demoted = [op for op in run.result.history if op.f == "request" and op.type == "fail"]
    assert demoted and all("previous master is now a slave" in str(op.value) for op in demoted)


def asks_each_sentinel() -> Any:
    """What every Sentinel, asked on its own, names as master."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    async def handle(redis: Any, db: Any, user: int) -> str:
        said = []
        for host in ("sentinel1", "sentinel2", "sentinel3"):
            s = Redis(host=host, port=26379, socket_timeout=0.5, socket_connect_timeout=0.5,
                      retry=Retry(NoBackoff(), 0))
            try:
                said.append((await s.execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"))[0].decode())
            except Exception as exc:
                said.append(type(exc).__name__)
            await s.aclose()
        return " ".join(said)

    return handle


def test_each_sentinel_names_the_master_it_knows_and_is_cut_on_its_own_link() -> None:
    """sentinel3 cut from the other two (and from app1) while they fail redis1 over: the two
    name redis2, app1 cannot reach sentinel3; once the cut heals it has the new
    configuration, as a real Sentinel learns it from its peers' hellos."""
    cut = (parse_fault("failover:10"), parse_fault("partition:0:3000:sentinel3"),
           parse_fault("partition:0:3000:app1/sentinel3"))
    sc = scenario("uniform:0.1:1", faults=cut, servers=1, vus=1, requests=2,
                  load="scheduled", arrivals_ms=(1500.0, 3500.0))
    run, _v = judged(sc, asks_each_sentinel())
    answers = [op.value for op in run.result.history if op.f == "request" and op.type == "ok"]
    assert answers[0].split()[:2] == ["redis2", "redis2"]
    assert answers[0].split()[2] in ("TimeoutError", "ConnectionError")
    assert answers[1] == "redis2 redis2 redis2"
