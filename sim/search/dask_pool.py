"""Shipping exploration to Dask: a LocalCluster or a scheduler address.

A job is only a ``Job`` (lock, kinds, seed, index, what to check); every worker
rebuilds its schedules from those ids (``sim.search.explore.schedule``), so Dask
finds exactly the violating ids one process finds. Jobs travel in small batches,
because one Dask task per 1 ms schedule would cost more in scheduling than
in simulation.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sim.search.explore import Interrupted, Job, Outcome, run_range

LOCAL = ("local", "localcluster")


class DaskError(RuntimeError):
    """Dask is missing or its scheduler cannot be reached; the message is one line."""


def run_batch(job: Job, start: int, stop: int, imports: Sequence[str] = (),
              initializer: Callable[[], None] | None = None) -> list[Outcome]:
    """Worker entry point: import the user's lock modules, then judge schedules
    ``start..stop-1`` of ``job``'s kind (one template travels, not a job each)."""
    global _initialized
    if initializer is not None and not _initialized:
        initializer()
        _initialized = True
    for name in imports:
        importlib.import_module(name)
    return run_range(job, start, stop)


_initialized = False


def _quiet() -> None:
    """Shutting a cluster down mid-work makes distributed log a page of worker and
    comm errors: nothing a Ctrl-C'd user should read."""
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


@contextlib.contextmanager
def dask_client(address: str, workers: int | None = None,
                start: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
                ) -> Iterator[Any]:
    """A client for ``address`` (``local``: a LocalCluster of ``workers`` processes,
    started inside ``start()``, e.g. one that keeps Ctrl-C from the workers)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise DaskError("Dask is not installed: pip install 'dask[distributed]'") from None
    with contextlib.ExitStack() as stack:
        try:
            if address.lower() in LOCAL:
                with start() if start is not None else contextlib.nullcontext():
                    try:
                        cluster = stack.enter_context(LocalCluster(
                            n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                            processes=True, dashboard_address=None,
                            silence_logs=logging.ERROR))
                    except KeyboardInterrupt:
                        _abandon_half_started()
                        raise
                client = stack.enter_context(Client(cluster))
            else:
                if "://" not in address:
                    address = "tcp://" + address
                client = stack.enter_context(Client(address, timeout="5s"))
        except (OSError, TimeoutError, ValueError, MemoryError) as exc:
            # MemoryError: something that is not a scheduler answered (an HTTP proxy)
            raise DaskError(f"cannot reach the Dask scheduler at {address}: "
                            f"{type(exc).__name__}: {exc}") from None
        try:
            yield client
        except BaseException:
            _quiet()
            if address.lower() in LOCAL:
                _kill_workers(cluster)
            raise


def _abandon_half_started() -> None:
    """Ctrl-C while a LocalCluster starts: kill what it spawned and take it off Dask's
    exit hook, which would otherwise try a graceful close and print a traceback."""
    _quiet()
    from distributed.deploy.spec import SpecCluster

    for cluster in list(SpecCluster._instances):
        _kill_workers(cluster)
        cluster.shutdown_on_close = False
        SpecCluster._instances.discard(cluster)


def _kill_workers(cluster: Any) -> None:
    """Kill a LocalCluster's worker processes before closing it: a graceful close
    waits for running batches and takes over a second; nothing of theirs is kept."""
    for nanny in list(getattr(cluster, "workers", {}).values()):
        proc = getattr(getattr(getattr(nanny, "process", None), "process", None),
                       "_process", None)
        with contextlib.suppress(Exception):
            proc.kill()  # type: ignore[union-attr]


def explore_dask(address: str, job: Job, schedules: int, workers: int | None = None,
                 progress: Callable[[int], None] | None = None,
                 imports: Sequence[str] = (),
                 initializer: Callable[[], None] | None = None,
                 start: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
                 ) -> list[Outcome]:
    """Run schedules 0..n-1 of ``job``'s kind on Dask; outcomes in index order, like
    ``explore``. A few batches are in flight at a time, so Ctrl-C finds little to
    cancel and ``Interrupted`` carries what finished."""
    from dask.distributed import as_completed

    results: list[Outcome] = []
    try:
        with dask_client(address, workers, start) as client:
            slots = max(1, sum(client.nthreads().values()))
            size = max(1, min(32, schedules // (slots * 8) or 1))  # ~0.1 s of work each
            starts = iter(range(0, schedules, size))

            def submit(first: int) -> Any:
                return client.submit(run_batch, job, first, min(first + size, schedules),
                                     tuple(imports), initializer, pure=False)

            futures = as_completed([submit(s) for s in itertools.islice(starts, slots * 4)])
            for future in futures:
                batch = future.result()
                results.extend(batch)
                if progress:
                    progress(len(batch))
                first = next(starts, None)
                if first is not None:
                    futures.add(submit(first))
    except KeyboardInterrupt:  # also one pressed while the cluster started
        _quiet()
        raise Interrupted(sorted(results, key=lambda o: o.index), schedules) from None
    return sorted(results, key=lambda o: o.index)
