"""The sync tier: a team's real, unmodified sync lock code inside the simulated world.

Each simulated app server is the asyncio tier's process (``sim.aio.server``) whose
requests run in cooperative virtual threads (``scheduler``: greenlets resumed
only by its stepped loop); ``threading``, ``time.sleep`` and blocking sockets
are served by the run (``shims``, ``thread``, ``lock``, ``connection``); the
history comes from the same observation (``libraries``). ``sim.aio.run_handler``
runs a plain ``def handle(redis, db, user)`` here (``runner``).
"""

from sim.aio.threads.runner import SyncWorld, run_handler

__all__ = ["SyncWorld", "run_handler"]
