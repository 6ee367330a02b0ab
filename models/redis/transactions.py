"""MULTI/EXEC/DISCARD, WATCH/UNWATCH and CLIENT ID/SETNAME/GETNAME: per-connection state.

A client in MULTI has its commands queued (``+QUEUED``) and run back to back,
at one instant, by EXEC. A command refused while queueing (unknown, wrong
arity; on 7.x also a bad subcommand) flags the transaction and EXEC answers
EXECABORT. WATCH is optimistic locking: every write that changes a watched key
(``RedisModel.touch``, Redis's ``signalModifiedKey``), from any client or
script, and a watched key's deadline passing while it is watched, make EXEC
answer nil. Watching a key that has already expired is watching a missing key
(Redis 7.0's rule; 6.2 races its active expiry cycle here, see
docs/redis-model.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from models.redis.command import Command, table
from models.redis.reply import OK, Reply, ReplyError

if TYPE_CHECKING:
    from models.redis.model import RedisModel

EXECABORT = ReplyError("EXECABORT Transaction discarded because of previous errors.")


@dataclass(slots=True)
class Transaction:
    """A client between MULTI and EXEC: its queue, and whether queueing failed."""

    queue: list[tuple[Command, list[bytes]]] = field(default_factory=list)
    flagged: bool = False


def exec_abort(error: ReplyError) -> ReplyError:
    """``execCommandAbort``: EXEC itself refused (bad arity) discards the transaction."""
    text = error.message.split(" ", 1)[1] if error.code == "ERR" else error.message
    return ReplyError(f"EXECABORT Transaction discarded because of: {text}")


def cmd_multi(m: RedisModel, argv: list[bytes]) -> Reply:
    if m.client in m.transactions:
        return ReplyError("ERR MULTI calls can not be nested")
    m.transactions[m.client] = Transaction()
    return OK


def cmd_discard(m: RedisModel, argv: list[bytes]) -> Reply:
    if m.transactions.pop(m.client, None) is None:
        return ReplyError("ERR DISCARD without MULTI")
    m.unwatch(m.client)
    return OK


def cmd_exec(m: RedisModel, argv: list[bytes]) -> Reply:
    client = m.client
    tx = m.transactions.pop(client, None)
    if tx is None:
        return ReplyError("ERR EXEC without MULTI")
    dirty = m.watch_broken(client)
    m.unwatch(client)  # before running: EXEC's own writes do not break anything of ours
    if tx.flagged:
        return EXECABORT
    if dirty:
        return None
    m.in_exec = True
    try:
        return [cmd.handler(m, args) for cmd, args in tx.queue]
    finally:
        m.in_exec = False


def cmd_watch(m: RedisModel, argv: list[bytes]) -> Reply:
    if m.client in m.transactions:
        return ReplyError("ERR WATCH inside MULTI is not allowed")
    for key in argv[1:]:
        m.watch(m.client, key)
    return OK


def cmd_unwatch(m: RedisModel, argv: list[bytes]) -> Reply:
    m.unwatch(m.client)
    return OK


def _client_syntax(m: RedisModel, argv: list[bytes]) -> ReplyError:
    """6.2's ``addReplySubcommandSyntaxError``; 7.x answers from the table."""
    error = CLIENT.subcommand_error(argv) if m.dialect.modern else None
    if error is not None:
        return error
    shown = argv[1].decode(errors="replace")
    return ReplyError(
        f"ERR Unknown subcommand or wrong number of arguments for '{shown}'. Try CLIENT HELP.")


def cmd_client(m: RedisModel, argv: list[bytes]) -> Reply:
    sub, argc = argv[1].lower(), len(argv)
    if sub == b"id" and argc == 2:
        return m.client_id(m.client)
    if sub == b"getname" and argc == 2:
        return m.client_names.get(m.client)
    if sub == b"setname" and argc == 3:
        name = argv[2]
        if any(b < 0x21 or b > 0x7E for b in name):
            return ReplyError(
                "ERR Client names cannot contain spaces, newlines or special characters.")
        if name:
            m.client_names[m.client] = name
        else:
            m.client_names.pop(m.client, None)
        return OK
    return _client_syntax(m, argv)


CLIENT = Command("client", cmd_client, -2, noscript=True,
                 subcommands={b"id": 2, b"getname": 2, b"setname": 3})

COMMANDS = table(
    Command("multi", cmd_multi, 1, noscript=True, immediate=True),
    Command("exec", cmd_exec, 1, noscript=True, immediate=True),
    Command("discard", cmd_discard, 1, noscript=True, immediate=True),
    Command("watch", cmd_watch, -2, noscript=True, immediate=True),
    Command("unwatch", cmd_unwatch, 1, noscript=True),
    CLIENT,
)
