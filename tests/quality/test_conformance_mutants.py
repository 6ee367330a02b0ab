"""The test of the test: deliberately broken models must fail the conformance suite.

Each mutant breaks one thing a lock depends on. The same sequence strategy
and runner as the real suite must catch every one of them within a modest
budget; if a mutant survives, the suite is too weak to trust.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyFailure

from models.redis import RedisModel, sets, strings
from models.redis.command import Command
from models.redis.keys import cmd_del
from tests.real.conformance.harness import Mismatch, RealClients, run_sequence, sequences

pytestmark = pytest.mark.real_redis

BUDGET = 1000  # sequences per mutant before we call it a survivor (half the real budget)


class PxIgnored(RedisModel):
    """SET ... PX n behaves as if PX were not given."""

    def __init__(self, version):
        super().__init__(version)

        def cmd_set(m, argv):
            out, i = [], 0
            while i < len(argv):
                if i >= 3 and argv[i].upper() == b"PX" and i + 1 < len(argv):
                    i += 2
                    continue
                out.append(argv[i])
                i += 1
            return strings.cmd_set(m, out)

        self.commands = {**self.commands, b"set": Command("set", cmd_set, -3)}


class ScriptNotAtomic(RedisModel):
    """Time passes inside a script: each redis.call runs 30 ms after the previous."""

    def call(self, argv):
        self.ks.now += 30
        return super().call(argv)


class IncrDropsTtl(RedisModel):
    """INCR forgets the key's TTL."""

    def __init__(self, version):
        super().__init__(version)

        def cmd_incr(m, argv):
            reply = strings.cmd_incr(m, argv)
            if isinstance(reply, int):
                m.ks.persist(argv[1])
            return reply

        self.commands = {**self.commands, b"incr": Command("incr", cmd_incr, 2)}


class DelCountsAll(RedisModel):
    """DEL answers the number of keys named, not the number removed."""

    def __init__(self, version):
        super().__init__(version)

        def bad_del(m, argv):
            cmd_del(m, argv)
            return len(argv) - 1

        self.commands = {**self.commands, b"del": Command("del", bad_del, -2)}


class PublishToLateSubscribers(RedisModel):
    """PUBLISH reports one receiver too many (as if a late subscriber got it)."""

    def __init__(self, version):
        super().__init__(version)
        publish = self.commands[b"publish"].handler

        def bad_publish(m, argv):
            return publish(m, argv) + 1

        self.commands = {**self.commands, b"publish": Command("publish", bad_publish, 3)}


class ExecIgnoresWatch(RedisModel):
    """EXEC runs the transaction even when a watched key was written."""

    def watch_broken(self, client):
        return False


class ExpiryKeepsWatch(RedisModel):
    """A watched key expiring while watched does not fail the EXEC (touches still do)."""

    def watch_broken(self, client):
        return client in self._broken


class QueueErrorsIgnored(RedisModel):
    """A command refused while queueing does not make EXEC answer EXECABORT."""

    def _refuse(self, cmd, error):
        tx = self.transactions.get(self.client)
        flagged = tx.flagged if tx is not None else False
        out = super()._refuse(cmd, error)
        if tx is not None:
            tx.flagged = flagged
        return out


class SetnxAlwaysSets(RedisModel):
    """SETNX overwrites an existing key (answers 1 as if it were free)."""

    def __init__(self, version):
        super().__init__(version)

        def bad_setnx(m, argv):
            m.ks.put(argv[1], argv[2])
            m.touch(argv[1])
            return 1

        self.commands = {**self.commands, b"setnx": Command("setnx", bad_setnx, 3)}


class ClientIdsByFirstUse(RedisModel):
    """CLIENT ID numbers connections in the order they first ask, not connection order."""

    def connect(self, client):
        return 0

    def client_id(self, client):
        cid = self._client_ids.get(client)
        if not cid:
            cid = self._client_ids[client] = self._next_client_id
            self._next_client_id += 1
        return cid


class SremKeepsEmptySet(RedisModel):
    """SREM of the last member leaves an empty set behind (EXISTS 1, TYPE set)."""

    def __init__(self, version):
        super().__init__(version)

        def bad_srem(m, argv):
            s = m.ks.get(argv[1])
            if not isinstance(s, sets.RedisSet):
                return sets.cmd_srem(m, argv)
            removed = sum(1 for member in dict.fromkeys(argv[2:]) if member in s)
            for member in argv[2:]:
                s.members.pop(member, None)
            return removed

        self.commands = {**self.commands, b"srem": Command("srem", bad_srem, -3)}


class MsetnxSetsFreeKeys(RedisModel):
    """MSETNX sets the keys that are free even when another one exists (answers 0)."""

    def __init__(self, version):
        super().__init__(version)

        def bad_msetnx(m, argv):
            if len(argv) % 2 == 0:
                return strings.cmd_msetnx(m, argv)
            taken = False
            for i in range(1, len(argv), 2):
                if m.ks.get(argv[i]) is None:
                    m.ks.put(argv[i], argv[i + 1])
                    m.touch(argv[i])
                else:
                    taken = True
            return 0 if taken else 1

        self.commands = {**self.commands, b"msetnx": Command("msetnx", bad_msetnx, -3)}


MUTANTS = [PxIgnored, ScriptNotAtomic, IncrDropsTtl, DelCountsAll, PublishToLateSubscribers,
           ExecIgnoresWatch, ExpiryKeepsWatch, QueueErrorsIgnored, SetnxAlwaysSets,
           ClientIdsByFirstUse, SremKeepsEmptySet, MsetnxSetsFreeKeys]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.__name__)
def test_mutant_is_caught(mutant, default_conformance_server):
    server = default_conformance_server
    clients = RealClients(server.host, server.port)
    version = server.version
    tried = []

    @settings(max_examples=BUDGET, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(sequences())
    def conformance(seq):
        tried.append(len(seq))
        run_sequence(seq, clients, lambda: mutant(version))

    try:
        # a catch that timing (a loaded machine) does not let Hypothesis replay
        # is still a catch: the sequence showed a real difference once
        with pytest.raises((Mismatch, FlakyFailure)) as caught:
            conformance()
    finally:
        clients.close()
    if isinstance(caught.value, FlakyFailure):
        assert all(isinstance(e, Mismatch) for e in caught.value.exceptions)
    assert len(tried) < BUDGET
    print(f"{mutant.__name__}: caught by sequence {len(tried)} of at most {BUDGET}")
