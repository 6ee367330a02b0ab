"""Random exploration: many small schedules from one seed, each reproducible by its id.

Swarm style: every schedule enables a random subset of the allowed fault
kinds at random intensities, so rare mixes get tried. A schedule is a pure
function of (lock, kinds, seed, index); workers receive only those and
rebuild it, so 1 worker, N workers and any other machine find the same
violating ids. Passing schedules keep nothing but their verdict.
"""

from __future__ import annotations

import gc
import json
import os
import random
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.faults import KNOWN_NAMES, Fault, swarm_fault
from models.faults import kind as fault_kind
from models.scenario import Scenario, ScenarioError

FAULT_KINDS = KNOWN_NAMES
"""Every spelling ``--faults`` accepts (``models.faults.FAULTS``'s names, then old ones)."""
COUNTEREXAMPLE_KIND = "locksim-counterexample"
COUNTEREXAMPLE_VERSION = 1


def _fault(name: str, rng: random.Random, node: str) -> Fault:
    """One swarm draw; the ranges are the kind's, declared in ``models.faults``."""
    return swarm_fault(name, rng, node)


def schedule(lock: str, kinds: Sequence[str], seed: int, index: int) -> Scenario:
    """Schedule ``index`` of exploration ``seed``: a small world with a swarm fault mix."""
    # an old spelling and the name seed the same schedules: ids survive renames
    seeded = ",".join(fault_kind(k).swarm_seed_name for k in kinds)
    rng = random.Random(f"locksim:{lock}:{seeded}:{seed}:{index}")
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


Job = tuple[str, tuple[str, ...], int, int, tuple[str, ...] | None, bool, bool]
"""(lock, fault kinds, seed, index, properties, run twice, hash every schedule):
all a worker needs."""


def run_schedule(job: Job) -> Outcome:
    """Worker entry point: rebuild schedule ``index`` from its id and judge it."""
    from models.checkers import check_all
    from sim.world import run

    lock, kinds, seed, index, properties, twice, hashes = job
    scenario = schedule(lock, kinds, seed, index)
    result = run(scenario)
    if twice:
        again = run(scenario)
        if again.trace_hash != result.trace_hash:
            return Outcome(index, ("determinism",), result.trace_hash)
    verdicts = check_all(result.history, list(properties) if properties else None)
    violated = tuple(v.property for v in verdicts if v.valid is False)
    keep = hashes or twice or bool(violated)
    return Outcome(index, violated, result.trace_hash if keep else None)


def explore(lock: str, kinds: Sequence[str], seed: int, schedules: int,
            properties: Sequence[str] | None = None, workers: int | None = None,
            check_determinism: bool = False,
            progress: Callable[[int], None] | None = None,
            dask: str | None = None, imports: Sequence[str] = (),
            hashes: bool = False) -> list[Outcome]:
    """Run schedules 0..n-1; results in index order whatever the worker count.

    ``hashes``: keep every schedule's trace hash, not only the violating ones'.
    ``dask``: a scheduler address, or ``local`` for a LocalCluster of ``workers``
    processes (``imports``: modules the workers import to register user locks)."""
    jobs: list[Job] = [(lock, tuple(kinds), seed, i, tuple(properties) if properties else None,
                        check_determinism, hashes) for i in range(schedules)]
    if dask:
        from sim.search.dask_pool import explore_dask

        return explore_dask(dask, jobs, workers, progress, imports)
    workers = workers or os.cpu_count() or 1
    results: list[Outcome] = []
    if workers == 1:
        for job in jobs:
            results.append(run_schedule(job))
            if progress:
                progress(1)
    else:
        # Forked workers share the parent's heap page by page until written;
        # frozen, the parent's objects are never walked by the workers' GC,
        # so those pages are not copied (5-6% of a 2-worker run after a big run).
        gc.collect()  # garbage from earlier runs would be frozen (and copied) too
        gc.freeze()
        try:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                chunk = max(1, schedules // (workers * 8))
                for outcome in pool.map(run_schedule, jobs, chunksize=chunk):
                    results.append(outcome)
                    if progress:
                        progress(1)
        finally:
            gc.unfreeze()
    return sorted(results, key=lambda o: o.index)


# -- shrinking ---------------------------------------------------------------------


def _violates(scenario: Scenario, prop: str) -> bool:
    from models.checkers import check_all
    from sim.world import run

    try:
        verdicts = check_all(run(scenario).history, [prop])
    except ScenarioError:
        return False
    return any(v.valid is False for v in verdicts)


def _candidates(sc: Scenario) -> Iterable[Scenario]:
    """Smaller variants, biggest cut first: fewer faults, fewer requests, shorter faults."""
    for i in range(len(sc.faults)):
        yield sc.with_(faults=sc.faults[:i] + sc.faults[i + 1:])
    if sc.requests > 1:
        for i in range(sc.requests):
            arrivals = sc.arrivals_ms[:i] + sc.arrivals_ms[i + 1:]
            if arrivals and arrivals[0] > 0.0:
                arrivals = (0.0, *arrivals[1:])
            yield sc.with_(requests=sc.requests - 1, vus=sc.requests - 1, arrivals_ms=arrivals)
    for i, f in enumerate(sc.faults):
        duration = getattr(f, "duration_ms", None)
        if duration and duration > 100.0:
            shorter = type(f)(**{**_fields(f), "duration_ms": round(duration / 2, 3)})
            yield sc.with_(faults=(*sc.faults[:i], shorter, *sc.faults[i + 1:]))


def _fields(f: Fault) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(f)


def shrink(scenario: Scenario, prop: str, budget: int = 200) -> Scenario:
    """Greedy delta debugging: keep any smaller variant that still violates ``prop``."""
    current = scenario
    runs = 0
    improved = True
    while improved and runs < budget:
        improved = False
        for candidate in _candidates(current):
            runs += 1
            if _violates(candidate, prop):
                current = candidate
                improved = True
                break
            if runs >= budget:
                break
    return current


# -- counterexample files -----------------------------------------------------------


class CounterexampleError(ValueError):
    """A counterexample file that cannot be used; the message is one line."""


def counterexample(scenario: Scenario, prop: str, trace_hash: str, story: str,
                   origin: dict[str, Any]) -> dict[str, Any]:
    from sim import __version__

    return {
        "kind": COUNTEREXAMPLE_KIND,
        "format": COUNTEREXAMPLE_VERSION,
        "locksim": __version__,
        "lock": scenario.lock,
        "property": prop,
        "scenario": scenario.to_dict(),
        "trace_hash": trace_hash,
        "story": story,
        "origin": origin,
    }


def write_json(path: Path, data: Any) -> Path:
    """Write through a temporary file and a rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def read_json(path: Path, error: type[Exception] = ValueError, what: str = "") -> Any:
    """Parse a JSON file; any failure is ``error`` with one line saying why."""
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise error(f"cannot read {what + ' ' if what else ''}{path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from None


def write_counterexample(data: dict[str, Any], directory: Path) -> Path:
    name = f"{data['lock']}-{data['property']}-{data['trace_hash'][:12]}.json"
    return write_json(directory / name, data)


def save_counterexample(scenario: Scenario, prop: str, origin: dict[str, Any],
                        directory: Path) -> tuple[Path, str]:
    """Run a violating scenario once more, judge ``prop``, write its file:
    (path, trace hash). The story and hash are the run's, never a copy."""
    from models.checkers import check_all
    from sim.world import run

    result = run(scenario)
    verdict = next(v for v in check_all(result.history, [prop]))
    data = counterexample(scenario, prop, result.trace_hash, verdict.story, origin)
    return write_counterexample(data, directory), result.trace_hash


def read_counterexample(path: Path) -> tuple[dict[str, Any], Scenario]:
    data = read_json(path, CounterexampleError)
    if not isinstance(data, dict) or data.get("kind") != COUNTEREXAMPLE_KIND:
        raise CounterexampleError(f"{path} is not a locksim counterexample")
    if data.get("format") != COUNTEREXAMPLE_VERSION:
        raise CounterexampleError(
            f"{path} has counterexample format {data.get('format')!r}; "
            f"this locksim reads format {COUNTEREXAMPLE_VERSION}")
    for key in ("property", "scenario", "trace_hash"):
        if key not in data:
            raise CounterexampleError(f"{path} lacks the field {key!r}")
    try:
        scenario = Scenario.from_dict(data["scenario"])
    except ScenarioError as exc:
        raise CounterexampleError(f"{path}: {exc}") from None
    return data, scenario
