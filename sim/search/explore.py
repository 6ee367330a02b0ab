"""Random exploration: many small schedules from one seed, each reproducible by its id.

Swarm style: every schedule enables a random subset of the allowed fault
kinds at random intensities, so rare mixes get tried. A schedule is a pure
function of (kinds, seed, index) drawn onto a template scenario (``SWARM``, or
the user's ``--scenario``): the lock is not in its seed, so schedule ``i`` is the
same workload and fault plan for a design and its fixed twin. Workers receive
only a small ``Job`` (ids and the template) and rebuild it, so 1 worker, N
workers and any other machine find the same violating ids. Passing schedules
keep nothing but their verdict (and the coverage goals they reached). Other
strategies (``sim.search.pct``) draw from the same ids; shrinking is
``sim.search.shrink``; the file a violation becomes, ``sim.search.counterexample``.
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

from models.faults import KNOWN_NAMES, Clock, Fault, Uniform, swarm_fault
from models.faults import kind as fault_kind
from models.scenario import Scenario
from sim.runtime.chooser import swarm_source

FAULT_KINDS = KNOWN_NAMES
"""Every spelling ``--faults`` accepts (``models.faults.FAULTS``'s names, then old ones)."""

STRATEGIES = ("swarm", "pct")
"""``check --strategy``: uniform swarms, or PCT-style priorities and event-placed faults."""

SWARM = Scenario(servers=2, requests=4, vus=4, load="scheduled", lock="seed", stock=10,
                 horizon_ms=60_000.0)
"""The template a schedule is drawn onto. ``requests`` is the most a schedule
draws (at least 2, or ``requests`` if fewer); its faults are in every schedule;
the rest (servers, stock, load, lock and params, storage, latencies) is kept."""

ARRIVALS_MS = 9000.0
"""Arrivals spread over this window (scheduled loads)."""


def _fault(name: str, rng: Uniform, node: str) -> Fault:
    """One swarm draw; the ranges are the kind's, declared in ``models.faults``."""
    return swarm_fault(name, rng, node)


def seed_text(strategy: str, kinds: Sequence[str], seed: int, index: int) -> str:
    """What a schedule's plan is seeded with: never the lock, so designs share schedules.

    An old spelling and the name of a fault kind seed the same schedules."""
    seeded = ",".join(fault_kind(k).swarm_seed_name for k in kinds)
    head = "locksim" if strategy == "swarm" else f"locksim-{strategy}"
    return f"{head}:{seeded}:{seed}:{index}"


def node_of(drawn: str, servers: int) -> str:
    """A drawn target on a template with ``servers`` servers (``app2`` of one is ``app1``)."""
    if drawn.startswith("app"):
        return f"app{(int(drawn[3:]) - 1) % servers + 1}"
    return drawn


def workload(rng: Any, template: Scenario, window_ms: float = ARRIVALS_MS) -> dict[str, Any]:
    """The requests and their arrivals, drawn onto ``template``: Scenario fields."""
    most = max(template.requests, 1)
    requests = rng.randint(min(2, most), most)
    arrivals = sorted([0.0] + [round(rng.uniform(0.0, window_ms), 3)
                               for _ in range(requests - 1)])
    if template.load == "scheduled":
        return {"requests": requests, "vus": requests, "arrivals_ms": tuple(arrivals)}
    return {"requests": requests, "vus": min(template.vus, requests), "arrivals_ms": ()}


def schedule(lock: str, kinds: Sequence[str], seed: int, index: int,
             template: Scenario | None = None) -> Scenario:
    """Schedule ``index`` of exploration ``seed``: a small world with a swarm fault mix.

    ``template`` (default ``SWARM``) shapes the world; ``lock`` names the design
    (its parameters come from the template when it is the template's lock)."""
    base = _base(lock, template)
    rng = swarm_source(seed_text("swarm", kinds, seed, index))
    enabled = [k for k in kinds if rng.random() < 0.5]
    if not enabled and kinds:
        enabled = [rng.choice(list(kinds))]
    faults: list[Fault] = list(base.faults)
    for kind in enabled:
        for _ in range(rng.randint(1, 2)):
            node = node_of(rng.choice(("holder", "holder", "app1", "app2")), base.servers)
            faults.append(_fault(kind, rng, node))
    faults.sort(key=lambda f: f.at_ms)
    shape = workload(rng, base)
    return base.with_(faults=tuple(faults), seed=rng.getrandbits(32), **shape)


def _base(lock: str, template: Scenario | None) -> Scenario:
    base = SWARM if template is None else template
    if lock != base.lock:
        base = base.with_(lock=lock, lock_params=())
    return base


def plan(job: Job) -> Scenario:
    """The scenario ``job`` names, by its strategy."""
    if job.strategy == "pct":
        from sim.search.pct import schedule as pct_schedule

        drawn = pct_schedule(job.lock, job.kinds, job.seed, job.index, job.template)
    else:
        drawn = schedule(job.lock, job.kinds, job.seed, job.index, job.template)
    return onto_nodes(drawn, seed_text(job.strategy, job.kinds, job.seed, job.index))


NODE_CLOCKS = 0.75
"""On several nodes, the share of drawn clock faults that strike a node's clock."""


def onto_nodes(scenario: Scenario, seeded: str) -> Scenario:
    """A schedule drawn for one Redis, placed on the template's several nodes.

    A fault drawn on ``redis`` strikes one node; three clock faults in four
    (``NODE_CLOCKS``) move from an app server to a node (Redis's own clock, which
    its TTLs follow) and take a node-sized step (``node_jump``); half the
    partitions and delays drawn on an app server cut or slow only its link to one
    node (``app1/redis3``: the partial partition Redlock's quorum must survive).
    ``failover`` and ``lag`` keep ``redis`` (the master, every replica). With
    Sentinel, half the partitions of a node cut only one of its links
    (``redis1/sentinel``, ``redis1/redis2``) and a quarter of an app server's
    only its link to Sentinel (``app1/sentinel``): the deposed-master shapes.
    The draws come from a source of their own, so a one-node schedule is untouched."""
    if scenario.topology == "single":
        return scenario
    topology = scenario.redis_topology()
    names = topology.names
    rng = swarm_source(seeded + ":nodes")
    faults: list[Fault] = []
    for f in scenario.faults:
        if fault_kind(f.kind).ha:
            faults.append(f)
            continue
        if f.node == "redis" or (f.kind == "clock" and rng.random() < NODE_CLOCKS):
            f = replace(f, node=names[rng.randint(0, len(names) - 1)])
            if isinstance(f, Clock):
                f = replace(f, offset_ms=node_jump(rng))
        elif f.kind in ("partition", "delay") and f.node.startswith("app") \
                and "/" not in f.node and rng.random() < 0.5:
            f = replace(f, node=f"{f.node}/{names[rng.randint(0, len(names) - 1)]}")
        if f.kind == "partition" and topology.has("sentinel"):
            f = replace(f, node=_link(f.node, names, rng))
        faults.append(f)
    return scenario.with_(faults=tuple(faults))


def _link(node: str, names: tuple[str, ...], rng: Any) -> str:
    """A partition of ``node``, or of one of its links (drawn; see ``onto_nodes``)."""
    if node in names and rng.random() < 0.5:
        others = [n for n in names if n != node]
        return f"{node}/{rng.choice([*others, 'sentinel'])}"
    if node.startswith("app") and "/" not in node and rng.random() < 0.25:
        return f"{node}/sentinel"
    return node


def node_jump(rng: Any) -> float:
    """A Redis node's clock step: forward three times in four (an NTP step, a VM
    resumed), 100 ms to 30 s log-uniformly. An app server's range (+-3 s) never
    reaches a lease of 3 s or more, and a node's forward step by about the TTL is
    what expires a holder's key early (measured: 0 of 762 node jumps >= 3000 ms in
    2000 redlock:3 schedules with the app range)."""
    size = 10.0 ** rng.uniform(2.0, 4.5)
    return round(size if rng.random() < 0.75 else -size, 3)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One schedule's verdict: the violated properties, and the trace hash when
    it was asked for or the schedule violated something (hashing a passing
    schedule costs a tenth of running it, and only tests read it). ``reached``:
    the coverage goals (``models.coverage``) the run reached, when asked."""

    index: int
    violated: tuple[str, ...]
    trace_hash: str | None
    reached: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()  # per violated property, its verdict's cause ("" if none)


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
    template: Scenario | None = None  # None: SWARM (a small frozen value either way)
    strategy: str = "swarm"
    coverage: bool = False  # record the coverage goals reached


def run_schedule(job: Job) -> Outcome:
    """Worker entry point: rebuild schedule ``index`` from its id and judge it."""
    from models.checkers import check_all
    from sim.world import run

    scenario = plan(job)
    result = run(scenario)
    if job.twice:
        again = run(scenario)
        if again.trace_hash != result.trace_hash:
            return Outcome(job.index, ("determinism",), result.trace_hash)
    verdicts = check_all(result.history, list(job.properties) if job.properties else None,
                         truth=result)
    bad = [v for v in verdicts if v.valid is False]
    violated = tuple(v.property for v in bad)
    keep = job.hashes or job.twice or bool(violated)
    reached: tuple[str, ...] = ()
    if job.coverage:
        from models.coverage import reached as goals_reached

        reached = goals_reached(result.history, result)
    return Outcome(job.index, violated, result.trace_hash if keep else None, reached,
                   tuple(str(getattr(v, "cause", "") or "") for v in bad))


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
            template: Scenario | None = None, strategy: str = "swarm",
            coverage: bool = False,
            ) -> list[Outcome]:
    """Run schedules 0..n-1; results in index order whatever the worker count.

    ``hashes``: keep every schedule's trace hash, not only the violating ones'.
    ``dask``: a scheduler address, or ``local`` for a LocalCluster of ``workers``
    processes (``imports``: modules the workers import to register user locks).
    ``initializer``: run in each worker process first (the command line's makes
    workers die with it and ignore Ctrl-C); ``start_pool``: a context a Dask
    LocalCluster starts in (its workers start before any initializer). Ctrl-C
    raises ``Interrupted`` holding the outcomes finished so far. ``template``:
    the world schedules are drawn onto (``SWARM``); ``strategy``: ``swarm`` or
    ``pct``; ``coverage``: record the coverage goals each schedule reached."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    job = Job(lock, tuple(kinds), seed, 0, tuple(properties) if properties else None,
              check_determinism, hashes, template, strategy, coverage)
    if dask:
        from sim.search.dask_pool import explore_dask

        return explore_dask(dask, job, schedules, workers, progress, imports,
                            initializer, start_pool)
    workers = workers or os.cpu_count() or 1
    results: list[Outcome] = []
    if workers == 1:
        try:
            for i in range(schedules):
                results.append(run_schedule(replace(job, index=i)))
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
            pending.add(pool.submit(run_range, job, start, min(start + chunk, schedules)))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                batch = future.result()
                results.extend(batch)
                if progress:
                    progress(len(batch))
                following = next(starts, None)
                if following is not None:
                    pending.add(pool.submit(run_range, job, following,
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
