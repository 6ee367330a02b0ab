"""A command's entry in the model's table: handler, arity and flags."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.redis.model import RedisModel
    from models.redis.reply import Reply

Handler = Callable[["RedisModel", list[bytes]], "Reply"]


@dataclass(frozen=True, slots=True)
class Command:
    """Redis's arity convention: ``n`` exactly n words, ``-n`` at least n."""

    name: str
    handler: Handler
    arity: int
    noscript: bool = False  # refused inside EVAL
    pubsub: bool = False  # allowed while the client is in subscribed mode

    def arity_ok(self, argc: int) -> bool:
        return argc == self.arity if self.arity > 0 else argc >= -self.arity


def table(*commands: Command) -> dict[bytes, Command]:
    return {c.name.encode(): c for c in commands}
