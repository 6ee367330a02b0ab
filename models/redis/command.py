"""A command's entry in the model's table: handler, arity and flags."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from models.redis.reply import ReplyError, wrong_arity

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
    immediate: bool = False  # runs at once inside MULTI (MULTI, EXEC, DISCARD, WATCH)
    # a container's subcommands and their arities: 7.x judges them before running
    # (so inside MULTI at queue time, and from scripts)
    subcommands: dict[bytes, int] | None = None

    def arity_ok(self, argc: int) -> bool:
        return argc == self.arity if self.arity > 0 else argc >= -self.arity

    def subcommand_error(self, argv: list[bytes]) -> ReplyError | None:
        """7.x's ``commandCheckExistence``/``commandCheckArity`` for a container."""
        subs = self.subcommands
        if subs is None or len(argv) < 2:
            return None
        arity = subs.get(argv[1].lower())
        if arity is None:
            shown = argv[1].decode(errors="replace")[:128]
            return ReplyError(f"ERR unknown subcommand '{shown}'. Try {self.name.upper()} HELP.")
        argc = len(argv)
        if argc != arity if arity > 0 else argc < -arity:
            return wrong_arity(f"{self.name}|{argv[1].lower().decode()}")
        return None


def table(*commands: Command) -> dict[bytes, Command]:
    return {c.name.encode(): c for c in commands}
