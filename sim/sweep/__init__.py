"""Contention and risk studies: grids of scenarios, statistics, plots."""

from sim.sweep.grid import (
    AXES,
    LABELS,
    Grid,
    SweepError,
    log_ticks,
    mean_ci,
    plot,
    run_rows,
    runs,
    summarize,
    sweep,
    varying,
    wilson,
    write_plots,
)

__all__ = ["AXES", "LABELS", "Grid", "SweepError", "log_ticks", "mean_ci", "plot", "run_rows",
           "runs", "summarize", "sweep", "varying", "wilson", "write_plots"]
