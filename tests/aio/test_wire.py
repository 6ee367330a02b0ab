"""redis-py over the in-memory wire as over TCP: RESP2 and RESP3, pub/sub, BLPOP, timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from models.scenario import Scenario
from sim.aio import check_determinism


async def pubsub_and_blpop(redis: Any, db: Any, user: int) -> object:
    """Even users subscribe and block on a list; odd users publish and push."""
    if user % 2 == 0:
        ps = redis.pubsub()
        await ps.subscribe("ch")
        msg = None
        for _ in range(50):
            msg = await ps.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if msg:
                break
        await ps.unsubscribe("ch")
        await ps.aclose()
        got = await redis.blpop(["q"], timeout=1)
        empty = await redis.blpop(["nothing"], timeout=0.5)  # times out: nil after 0.5 s
        return ("sub", msg and msg["data"], got, empty)
    await asyncio.sleep(0.2)
    n = await redis.publish("ch", b"hello")
    await redis.rpush("q", b"item")
    return ("pub", n)


@pytest.mark.parametrize("protocol", [2, 3])
def test_pubsub_blpop_and_timeouts_work(protocol: int) -> None:
    sc = Scenario(servers=1, vus=2, requests=2, first_user=0,
                  client_params=(("protocol", protocol),))
    run, same = check_determinism(sc, pubsub_and_blpop)
    assert same.same
    answers = {op.process: op.value for op in run.result.history
               if op.f == "request" and op.type == "ok"}
    assert answers["app1/req1"] == ("pub", 1)
    assert answers["app1/req0"] == ("sub", "hello", ("q", "item"), None)
    blpops = [(t, argv) for t, _c, argv, _r in run.result.redis_log if argv[0] == b"BLPOP"]
    assert len(blpops) == 2
    end = next(op.time for op in run.result.history
               if op.process == "app1/req0" and op.type == "ok")
    assert end - blpops[1][0] >= 500.0  # the nil came when Redis's timeout ran out
