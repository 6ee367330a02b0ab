"""Texts that differ between Redis versions, kept in one place.

The model speaks the dialect of the server it is compared with; the
conformance suite reads the real server's version and builds the model for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.redis.reply import ReplyError, wrong_arity


@dataclass(frozen=True, slots=True)
class Dialect:
    """Version-dependent behaviour of one Redis release family."""

    version: tuple[int, int]

    @property
    def modern(self) -> bool:
        """Redis 7.0 and later."""
        return self.version >= (7, 0)

    def unknown_command(self, argv: list[bytes]) -> ReplyError:
        name = argv[0].decode(errors="replace")[:128]
        args = ""
        for raw in argv[1:]:
            if len(args) >= 128:
                break
            text = raw.decode(errors="replace")[: 128 - len(args)]
            args += f"'{text}' " if self.modern else f"`{text}`, "
        if self.modern:
            return ReplyError(f"ERR unknown command '{name}', with args beginning with: {args}")
        return ReplyError(f"ERR unknown command `{name}`, with args beginning with: {args}")

    def invalid_expire(self, command: str) -> ReplyError:
        if self.modern:
            return ReplyError(f"ERR invalid expire time in '{command}' command")
        return ReplyError(f"ERR invalid expire time in {command}")

    def subscribed_context(self, command: str) -> ReplyError:
        allowed = (
            "(P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE" if self.modern else "(P)SUBSCRIBE / (P)UNSUBSCRIBE"
        )
        return ReplyError(
            f"ERR Can't execute '{command}': only {allowed} / PING / QUIT / RESET "
            "are allowed in this context"
        )

    def mset_arity(self, command: str) -> ReplyError:
        """MSET/MSETNX with a key but no value: 6.2 names MSET for both."""
        if self.modern:
            return wrong_arity(command)
        return ReplyError("ERR wrong number of arguments for MSET")

    @property
    def expire_takes_options(self) -> bool:
        """EXPIRE/PEXPIRE NX|XX|GT|LT arrived in 7.0."""
        return self.modern

    @property
    def set_get_with_nx(self) -> bool:
        """``SET ... NX GET`` is a syntax error before 7.0."""
        return self.modern


def dialect_for(version: tuple[int, ...]) -> Dialect:
    """The dialect for a server version such as (6, 2, 14) or (7, 0, 15)."""
    major_minor = (int(version[0]), int(version[1]) if len(version) > 1 else 0)
    return Dialect(major_minor)
