"""Contention and risk studies: grids of scenarios, statistics, plots."""

from sim.sweep.grid import AXES, LABELS, Grid, SweepError, grid_from_dict, varying
from sim.sweep.plots import log_ticks, plot, write_plots
from sim.sweep.runner import run_point, run_rows, runs, sweep
from sim.sweep.stats import mean_ci, summarize, t95, wilson

__all__ = ["AXES", "LABELS", "Grid", "SweepError", "grid_from_dict", "log_ticks", "mean_ci",
           "plot", "run_point", "run_rows", "runs", "summarize", "sweep", "t95", "varying",
           "wilson", "write_plots"]
