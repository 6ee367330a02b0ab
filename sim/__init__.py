"""The SimPy world that runs lock designs in virtual time, and the tools around it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("locksim")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
