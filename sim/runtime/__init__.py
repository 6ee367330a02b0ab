"""What both worlds share: the effect interpreter (loop), the chooser, the load, the semaphore.

Nothing here reads a real clock, opens a socket or imports SimPy: the
simulator (``sim.world.world``) and the real driver (``sim.real``) both build on it.
"""
