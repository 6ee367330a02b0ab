"""Shipping exploration to Dask: a LocalCluster or a scheduler address.

A job is only a ``Job`` (lock, kinds, seed, index, what to check); every worker
rebuilds its schedules from those ids (``sim.search.explore.schedule``), so Dask
finds exactly the violating ids one process finds. Jobs travel in batches,
because one Dask task per 1 ms schedule would cost more in scheduling than
in simulation.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sim.search.explore import Job, Outcome, run_schedule

LOCAL = ("local", "localcluster")


class DaskError(RuntimeError):
    """Dask is missing or its scheduler cannot be reached; the message is one line."""


def run_batch(jobs: Sequence[Job], imports: Sequence[str] = ()) -> list[Outcome]:
    """Worker entry point: import the user's lock modules, then judge each schedule."""
    for name in imports:
        importlib.import_module(name)
    return [run_schedule(job) for job in jobs]


@contextlib.contextmanager
def dask_client(address: str, workers: int | None = None) -> Iterator[Any]:
    """A client for ``address`` (``local``: a LocalCluster of ``workers`` processes)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise DaskError("Dask is not installed: pip install 'dask[distributed]'") from None
    with contextlib.ExitStack() as stack:
        try:
            if address.lower() in LOCAL:
                cluster = stack.enter_context(LocalCluster(
                    n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                    processes=True, dashboard_address=None, silence_logs=logging.ERROR))
                client = stack.enter_context(Client(cluster))
            else:
                if "://" not in address:
                    address = "tcp://" + address
                client = stack.enter_context(Client(address, timeout="5s"))
        except (OSError, TimeoutError, ValueError) as exc:
            raise DaskError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        yield client


def explore_dask(address: str, jobs: Sequence[Job], workers: int | None = None,
                 progress: Callable[[int], None] | None = None,
                 imports: Sequence[str] = ()) -> list[Outcome]:
    """Run ``jobs`` on Dask; outcomes in index order, like ``explore``."""
    from dask.distributed import as_completed

    results: list[Outcome] = []
    with dask_client(address, workers) as client:
        slots = max(1, sum(client.nthreads().values()))
        size = max(1, min(250, len(jobs) // (slots * 8) or 1))
        batches = [list(jobs[i:i + size]) for i in range(0, len(jobs), size)]
        futures = client.map(run_batch, batches, imports=tuple(imports), pure=False)
        for future in as_completed(futures):
            batch = future.result()
            results.extend(batch)
            if progress:
                progress(len(batch))
    return sorted(results, key=lambda o: o.index)
