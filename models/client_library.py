"""What a client library does when its Redis connection breaks: a parameter of the client.

A node restart or a failover drops every connection. All the libraries
modelled reconnect (through Sentinel when there is one); they differ in
what they do with the rest:

- ``redis-py`` (the default, today's behaviour): its PubSub resubscribes on
  reconnect; a command whose connection broke fails with a connection error
  (no resend; the caller decides).
- ``ioredis``: resubscribes too, and keeps unanswered commands to send them
  again once connected (``enableOfflineQueue`` and
  ``autoResendUnfulfilledCommands``, both on by default), so a ``SET NX``
  sent just before a failover can still take the lock on the new master.
- ``bare``: reconnects only; subscriptions are gone, nothing is resent.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClientLibrary:
    """One library's reconnect behaviour."""

    name: str
    resubscribe: bool
    resend: bool


CLIENT_LIBRARIES: dict[str, ClientLibrary] = {c.name: c for c in (
    ClientLibrary("redis-py", resubscribe=True, resend=False),
    ClientLibrary("ioredis", resubscribe=True, resend=True),
    ClientLibrary("bare", resubscribe=False, resend=False),
)}
