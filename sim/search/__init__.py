"""Finding counterexamples: random swarms, Dask, exhaustive search, Hypothesis, shrinking."""
