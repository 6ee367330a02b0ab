"""Pub/sub bookkeeping: who is subscribed to what, and who a PUBLISH reaches.

Redis writes a published message into every subscriber's output buffer
during PUBLISH itself, so the receivers are exactly the clients subscribed at
that instant; a client that subscribes later never sees it. The model returns
the deliveries; carrying them over a connection is the simulator's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.redis.command import Command, table
from models.redis.reply import Reply

if TYPE_CHECKING:
    from models.redis.model import RedisModel


class PubSub:
    """Channel subscriptions, both ways round, in subscription order."""

    __slots__ = ("by_channel", "by_client")

    def __init__(self) -> None:
        self.by_channel: dict[bytes, dict[int, None]] = {}
        self.by_client: dict[int, dict[bytes, None]] = {}

    def channel_count(self, client: int) -> int:
        mine = self.by_client.get(client)
        return len(mine) if mine else 0

    def subscribe(self, client: int, channel: bytes) -> int:
        mine = self.by_client.setdefault(client, {})
        if channel not in mine:
            mine[channel] = None
            self.by_channel.setdefault(channel, {})[client] = None
        return len(mine)

    def unsubscribe(self, client: int, channel: bytes) -> int:
        mine = self.by_client.get(client, {})
        if channel in mine:
            del mine[channel]
            subs = self.by_channel[channel]
            del subs[client]
            if not subs:
                del self.by_channel[channel]
        if not mine:
            self.by_client.pop(client, None)
        return len(mine)

    def channels_of(self, client: int) -> list[bytes]:
        return list(self.by_client.get(client, ()))

    def receivers(self, channel: bytes) -> list[int]:
        return list(self.by_channel.get(channel, ()))

    def drop_client(self, client: int) -> None:
        for channel in self.channels_of(client):
            self.unsubscribe(client, channel)


def cmd_subscribe(m: RedisModel, argv: list[bytes]) -> Reply:
    """A list of confirmations, one per channel (Redis sends one reply each)."""
    return [
        [b"subscribe", ch, m.pubsub.subscribe(m.client, ch)] for ch in argv[1:]
    ]


def cmd_unsubscribe(m: RedisModel, argv: list[bytes]) -> Reply:
    """A list of confirmations; with no channel, every channel of the client."""
    channels = argv[1:] or m.pubsub.channels_of(m.client)
    if not channels:
        return [[b"unsubscribe", None, 0]]
    return [[b"unsubscribe", ch, m.pubsub.unsubscribe(m.client, ch)] for ch in channels]


def cmd_publish(m: RedisModel, argv: list[bytes]) -> Reply:
    receivers = m.pubsub.receivers(argv[1])
    for client in receivers:
        m.deliver(client, argv[1], argv[2])
    return len(receivers)


COMMANDS = table(
    Command("subscribe", cmd_subscribe, -2, noscript=True, pubsub=True),
    Command("unsubscribe", cmd_unsubscribe, -1, noscript=True, pubsub=True),
    Command("publish", cmd_publish, 3),
)
