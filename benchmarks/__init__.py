"""Speed benchmarks of the simulator and the explorer (not unit tests: nothing here asserts).

``python -m benchmarks [--quick] [--json PATH]`` prints a table and writes
JSON. Every throughput is reported beside a floor measured in the same run (a
minimal SimPy request/reply loop), so ratios survive a noisy machine.
"""
