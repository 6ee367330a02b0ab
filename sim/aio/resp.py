"""RESP2/RESP3 on the simulated wire: requests parsed from client bytes, model replies encoded.

redis-py writes each command as an array of bulk strings; the Redis model
answers with Python values (``models.redis.reply``), which go back as the
bytes a real server would send, so the library's own parser reads them.
"""

from __future__ import annotations

from models.redis.reply import ReplyError, SetReply, Status


class RespError(ValueError):
    """Bytes a client wrote that are not a RESP command (a bug in the client or the shim)."""


def encode(reply: object, resp3: bool = False) -> bytes:
    """One reply as RESP2 bytes (nil as the null bulk string), or RESP3 (nil as ``_``)."""
    out: list[bytes] = []
    _encode(reply, out, resp3)
    return b"".join(out)


def encode_push(items: list[object], resp3: bool) -> bytes:
    """A pub/sub message or confirmation: a RESP2 array, or a RESP3 push."""
    if not resp3:
        return encode(items)
    out = [b">%d\r\n" % len(items)]
    for item in items:
        _encode(item, out, True)
    return b"".join(out)


def hello(protover: int, client_id: int, version: tuple[int, int],
          mode: str = "standalone") -> bytes:
    """The HELLO reply: the handshake redis-py 8 opens every connection with (RESP3 by
    default). The Redis model has no HELLO; the wire answers it, as a real server does
    (a Sentinel: mode and role ``sentinel``)."""
    role = b"sentinel" if mode == "sentinel" else b"master"
    fields: list[object] = [b"server", b"redis", b"version", b"%d.%d.0" % version,
                            b"proto", protover, b"id", client_id, b"mode", mode.encode(),
                            b"role", role, b"modules", []]
    if protover == 3:
        out = [b"%%%d\r\n" % (len(fields) // 2)]
        for item in fields:
            _encode(item, out, True)
        return b"".join(out)
    return encode(fields)


def _encode(reply: object, out: list[bytes], resp3: bool = False) -> None:
    if reply is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif isinstance(reply, Status):
        out.append(b"+" + bytes(reply) + b"\r\n")
    elif isinstance(reply, bytes):
        out.append(b"$%d\r\n%s\r\n" % (len(reply), reply))
    elif isinstance(reply, bool):
        out.append(b":1\r\n" if reply else b":0\r\n")
    elif isinstance(reply, int):
        out.append(b":%d\r\n" % reply)
    elif isinstance(reply, ReplyError):
        out.append(b"-" + reply.message.encode() + b"\r\n")
    elif isinstance(reply, list | tuple):  # SMEMBERS: a set (``~``) in RESP3, as Redis sends
        kind = b"~" if resp3 and isinstance(reply, SetReply) else b"*"
        out.append(b"%s%d\r\n" % (kind, len(reply)))
        for item in reply:
            _encode(item, out, resp3)
    elif isinstance(reply, dict):  # a map in RESP3 (Sentinel's states), flat pairs in RESP2
        out.append((b"%%%d\r\n" if resp3 else b"*%d\r\n") % (len(reply) * (1 if resp3 else 2)))
        for key, value in reply.items():
            _encode(key, out, resp3)
            _encode(value, out, resp3)
    elif isinstance(reply, str):
        data = reply.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    elif isinstance(reply, float):
        data = repr(reply).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    else:
        raise TypeError(f"no RESP encoding for {reply!r}")


class RequestParser:
    """Incremental: feed bytes as the client writes them, take whole commands out."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, ...]]:
        self._buf += data
        commands: list[tuple[bytes, ...]] = []
        while True:
            parsed = self._one()
            if parsed is None:
                return commands
            commands.append(parsed)

    def _one(self) -> tuple[bytes, ...] | None:
        buf = self._buf
        if not buf:
            return None
        if buf[:1] != b"*":
            raise RespError(f"a command must be a RESP array, got {bytes(buf[:20])!r}")
        end = buf.find(b"\r\n")
        if end < 0:
            return None
        n = int(buf[1:end])
        pos = end + 2
        argv: list[bytes] = []
        for _ in range(n):
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            if buf[pos:pos + 1] != b"$":
                raise RespError(f"a command argument must be a bulk string at byte {pos}")
            size = int(buf[pos + 1:end])
            start = end + 2
            if len(buf) < start + size + 2:
                return None
            argv.append(bytes(buf[start:start + size]))
            pos = start + size + 2
        del buf[:pos]
        return tuple(argv)
