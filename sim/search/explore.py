"""Random exploration: many small schedules from one seed, each reproducible by its id.

Swarm style: every schedule enables a random subset of the allowed fault
kinds at random intensities, so rare mixes get tried. A schedule is a pure
function of (lock, kinds, seed, index); workers receive only those and
rebuild it, so 1 worker, N workers and any other machine find the same
violating ids. Passing schedules keep nothing but their verdict. Shrinking
is ``sim.search.shrink``; the file a violation becomes, ``sim.search.counterexample``.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

from models.faults import KNOWN_NAMES, Fault, Uniform, swarm_fault
from models.faults import kind as fault_kind
from models.scenario import Scenario
from sim.runtime.chooser import swarm_source

FAULT_KINDS = KNOWN_NAMES
"""Every spelling ``--faults`` accepts (``models.faults.FAULTS``'s names, then old ones)."""


def _fault(name: str, rng: Uniform, node: str) -> Fault:
    """One swarm draw; the ranges are the kind's, declared in ``models.faults``."""
    return swarm_fault(name, rng, node)


def schedule(lock: str, kinds: Sequence[str], seed: int, index: int) -> Scenario:
    """Schedule ``index`` of exploration ``seed``: a small world with a swarm fault mix."""
    # an old spelling and the name seed the same schedules: ids survive renames
    seeded = ",".join(fault_kind(k).swarm_seed_name for k in kinds)
    rng = swarm_source(f"locksim:{lock}:{seeded}:{seed}:{index}")
    enabled = [k for k in kinds if rng.random() < 0.5]
    if not enabled and kinds:
        enabled = [rng.choice(list(kinds))]
    faults: list[Fault] = []
    for kind in enabled:
        for _ in range(rng.randint(1, 2)):
            node = rng.choice(("holder", "holder", "app1", "app2"))
            faults.append(_fault(kind, rng, node))
    faults.sort(key=lambda f: f.at_ms)
    requests = rng.randint(2, 4)
    arrivals = sorted([0.0] + [round(rng.uniform(0.0, 9000.0), 3) for _ in range(requests - 1)])
    return Scenario(
        servers=2,
        requests=requests,
        vus=requests,
        load="scheduled",
        arrivals_ms=tuple(arrivals),
        lock=lock,
        stock=10,
        faults=tuple(faults),
        seed=rng.getrandbits(32),
        horizon_ms=60_000.0,
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """One schedule's verdict: the violated properties, and the trace hash when
    it was asked for or the schedule violated something (hashing a passing
    schedule costs a tenth of running it, and only tests read it)."""

    index: int
    violated: tuple[str, ...]
    trace_hash: str | None


@dataclass(frozen=True, slots=True)
class Job:
    """All a worker needs to judge one schedule: its id, and what to check."""

    lock: str
    kinds: tuple[str, ...]
    seed: int
    index: int
    properties: tuple[str, ...] | None = None
    twice: bool = False  # run it twice and compare trace hashes
    hashes: bool = False  # keep the trace hash even of a passing schedule


def run_schedule(job: Job) -> Outcome:
    """Worker entry point: rebuild schedule ``index`` from its id and judge it."""
    from models.checkers import check_all
    from sim.world import run

    scenario = schedule(job.lock, job.kinds, job.seed, job.index)
    result = run(scenario)
    if job.twice:
        again = run(scenario)
        if again.trace_hash != result.trace_hash:
            return Outcome(job.index, ("determinism",), result.trace_hash)
    verdicts = check_all(result.history, list(job.properties) if job.properties else None,
                         truth=result)
    violated = tuple(v.property for v in verdicts if v.valid is False)
    keep = job.hashes or job.twice or bool(violated)
    return Outcome(job.index, violated, result.trace_hash if keep else None)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C mid-exploration (or mid-sweep): what finished travels with it, so the
    command line can report and save it rather than lose it."""

    def __init__(self, done: list[Any], total: int) -> None:
        super().__init__(f"interrupted after {len(done)} of {total}")
        self.done = done
        self.total = total


def run_range(job: Job, start: int, stop: int) -> list[Outcome]:
    """Worker entry point for a chunk: schedules ``start..stop-1`` of ``job``'s kind.

    One template crosses the pipe rather than a ``Job`` per schedule."""
    return [run_schedule(replace(job, index=i)) for i in range(start, stop)]


def abandon(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: drop queued work and kill the workers mid-chunk (waiting for
    them, or for the queue, is what made Ctrl-C take a minute)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.terminate()
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(1.0)


def explore(lock: str, kinds: Sequence[str], seed: int, schedules: int,
            properties: Sequence[str] | None = None, workers: int | None = None,
            check_determinism: bool = False,
            progress: Callable[[int], None] | None = None,
            dask: str | None = None, imports: Sequence[str] = (),
            hashes: bool = False,
            initializer: Callable[[], None] | None = None,
            start_pool: Callable[[], AbstractContextManager[None]] | None = None,
            ) -> list[Outcome]:
    """Run schedules 0..n-1; results in index order whatever the worker count.

    ``hashes``: keep every schedule's trace hash, not only the violating ones'.
    ``dask``: a scheduler address, or ``local`` for a LocalCluster of ``workers``
    processes (``imports``: modules the workers import to register user locks).
    ``initializer``: run in each worker process first (the command line's makes
    workers die with it and ignore Ctrl-C); ``start_pool``: a context a Dask
    LocalCluster starts in (its workers start before any initializer). Ctrl-C
    raises ``Interrupted`` holding the outcomes finished so far."""
    template = Job(lock, tuple(kinds), seed, 0, tuple(properties) if properties else None,
                   check_determinism, hashes)
    if dask:
        from sim.search.dask_pool import explore_dask

        return explore_dask(dask, template, schedules, workers, progress, imports,
                            initializer, start_pool)
    workers = workers or os.cpu_count() or 1
    results: list[Outcome] = []
    if workers == 1:
        try:
            for i in range(schedules):
                results.append(run_schedule(replace(template, index=i)))
                if progress:
                    progress(1)
        except KeyboardInterrupt:
            raise Interrupted(results, schedules) from None
        return results
    # Forked workers share the parent's heap page by page until written;
    # frozen, the parent's objects are never walked by the workers' GC,
    # so those pages are not copied (5-6% of a 2-worker run after a big run).
    gc.collect()  # garbage from earlier runs would be frozen (and copied) too
    gc.freeze()
    # small chunks, few in flight: nothing big is queued when Ctrl-C comes, and
    # ten million schedules cost no memory up front
    chunk = max(1, min(64, schedules // (workers * 8)))
    starts = iter(range(0, schedules, chunk))
    pool = ProcessPoolExecutor(max_workers=workers, initializer=initializer)
    try:
        pending: set[Future[list[Outcome]]] = set()
        for start in itertools.islice(starts, workers * 4):
            pending.add(pool.submit(run_range, template, start, min(start + chunk, schedules)))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                batch = future.result()
                results.extend(batch)
                if progress:
                    progress(len(batch))
                following = next(starts, None)
                if following is not None:
                    pending.add(pool.submit(run_range, template, following,
                                            min(following + chunk, schedules)))
    except KeyboardInterrupt:
        abandon(pool)
        raise Interrupted(sorted(results, key=lambda o: o.index), schedules) from None
    except BaseException:
        abandon(pool)
        raise
    else:
        pool.shutdown()
    finally:
        gc.unfreeze()
    return sorted(results, key=lambda o: o.index)
