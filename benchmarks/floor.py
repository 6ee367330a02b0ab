"""The floor: the cheapest request/reply loop SimPy can run.

Client processes send a request to a server through a timeout; the server
answers through a callback and another timeout; the client wakes on an
event. Nothing is modelled, so its round trips per second bound what any
simulator on this kernel, on this machine, can do; the simulator's figures
are read as fractions of it.
"""

from __future__ import annotations

import time

import simpy


def round_trips_per_second(trips: int = 200_000, clients: int = 100) -> float:
    """Round trips per wall second of ``clients`` processes doing ``trips`` in all."""
    env = simpy.Environment()
    done = 0

    def serve(reply: simpy.Event) -> None:
        back = env.timeout(0.1)
        back.callbacks.append(lambda _ev: reply.succeed())

    def client():  # type: ignore[no-untyped-def]
        nonlocal done
        while done < trips:
            reply = env.event()
            request = env.timeout(0.1)
            request.callbacks.append(lambda _ev, r=reply: serve(r))
            yield reply
            done += 1

    for _ in range(clients):
        env.process(client())
    started = time.perf_counter()
    env.run()
    return done / (time.perf_counter() - started)
