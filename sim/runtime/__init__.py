"""What both worlds share: the run's chooser, the load, the wake-one semaphore.

Nothing here reads a real clock, opens a socket or imports SimPy: the
simulator (``sim.world.world``) and the real driver (``sim.real``) both build on it.
"""
