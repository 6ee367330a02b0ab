"""The asyncio tier: a team's real, unmodified asyncio lock code inside the simulated world.

Each simulated app server runs a virtual-time asyncio loop (``loop``) stepped by
the SimPy world; its connections are in-memory RESP pipes to the simulated
Redis node (``transport``); clocks, uuids and randomness are served by the run
(``shims``); what the tasks asked the library and got back becomes the history
(``observe``). ``run_handler`` is the entry point.
"""

from sim.aio.runner import HandlerError, check_determinism, load_handler, run_handler

__all__ = ["HandlerError", "check_determinism", "load_handler", "run_handler"]
