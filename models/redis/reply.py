"""Reply values of the Redis model, shaped as redis-py decodes RESP2.

redis-py turns a bulk string and a status line alike into ``bytes``; the model
keeps the distinction in the type (``Status`` is a ``bytes`` subclass, so it
still compares equal to ``b"OK"``) because Lua sees the two differently.
An error is a value, never raised: a command's failure is part of its reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


class Status(bytes):
    """A RESP simple string (``+OK``): equal to its bytes, distinct in type."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Status({bytes(self)!r})"


class SetReply(list):  # type: ignore[type-arg]
    """A RESP3 set reply (``~``, SMEMBERS): a list to RESP2 readers, Lua and
    comparisons; only the RESP3 wire tells it apart."""

    __slots__ = ()


OK = Status(b"OK")
PONG = Status(b"PONG")
QUEUED = Status(b"QUEUED")


@dataclass(frozen=True, slots=True)
class ReplyError:
    """A RESP error line without its leading ``-`` (``"ERR syntax error"``)."""

    message: str

    @property
    def code(self) -> str:
        """The first word, as Redis uses it for the error class (ERR, WRONGTYPE...)."""
        return self.message.split(" ", 1)[0]

    def __str__(self) -> str:
        return self.message


class _Blocked:
    """Sentinel reply: the client is now blocked (BLPOP) until served or timed out."""

    _instance: _Blocked | None = None

    def __new__(cls) -> _Blocked:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "BLOCKED"

    def __reduce__(self) -> str:
        return "BLOCKED"


BLOCKED = _Blocked()

Reply = Union[bytes, Status, int, None, list, ReplyError, _Blocked]  # noqa: UP007

# Error lines shared by many commands, spelled as Redis spells them.
WRONGTYPE = ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value")
SYNTAX = ReplyError("ERR syntax error")
NOT_INTEGER = ReplyError("ERR value is not an integer or out of range")
OVERFLOW = ReplyError("ERR increment or decrement would overflow")
NOSCRIPT = ReplyError("NOSCRIPT No matching script. Please use EVAL.")


def wrong_arity(name: str) -> ReplyError:
    """The arity error, which names the command in lower case."""
    return ReplyError(f"ERR wrong number of arguments for '{name.lower()}' command")
