"""Parse Redis MONITOR output exactly as redis-server prints it.

Each line is ``<unix seconds>.<micros> [<db> <client>] "ARG" "ARG" ...`` where
the client is ``ip:port`` (``[ipv6]:port``), ``lua`` for a command a script
ran, or ``unix:/path``; every argument is quoted by ``sdscatrepr`` (``\\"``
``\\\\`` ``\\n`` ``\\r`` ``\\t`` ``\\a`` ``\\b`` and ``\\xHH``, the rest printable
ASCII). Over the socket each line is a status reply (``+...\\r\\n``) and the
first is ``+OK``; ``redis-cli MONITOR`` prints them without the ``+``.
Both are read. Redis stamps every line when it prints it, so a script's lua
lines come just after its EVAL, with slightly later times.

Pasted captures (reports, tickets) are tolerated: blank lines and ``#``
comments are skipped, a quoted argument may run over several physical lines
(a script pasted with real newlines; they become ``\\n``), and a line that
starts with blanks and a quote continues the previous command (a soft wrap).
Anything else is a ``BadLine`` with its line number, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sim.monitor.log import quote

_HEADER = re.compile(r"\+?(\d{1,12})\.(\d{1,6}) \[(\d+) (.*?)\] (?=\")")
_ARG = re.compile(r'"((?:[^"\\]|\\[\s\S])*)"(?:[ \t]+|\Z)')
_OPEN = re.compile(r'"(?:[^"\\]|\\[\s\S])*\\?\Z')
_WRAP = re.compile(r'[ \t]+"')
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|[\s\S])")
_SIMPLE = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b",
           b'"': b'"', b"\\": b"\\"}
MAX_JOINED = 500  # physical lines one pasted argument may span


@dataclass(frozen=True, slots=True)
class MonitorLine:
    """One command as MONITOR showed it; ``client`` is ``ip:port``, ``lua`` or ``unix:...``."""

    time_us: int  # unix time in microseconds, exact as printed
    db: int
    client: str
    argv: tuple[bytes, ...]
    line: int = 0  # the physical line it starts on (1-based); 0 when built in code

    @property
    def time(self) -> float:
        """Unix time in seconds (a float: for display; use ``time_us`` to compute)."""
        return self.time_us / 1_000_000

    @property
    def is_lua(self) -> bool:
        return self.client == "lua"

    @property
    def command(self) -> str:
        """The command's name in lower case (``set``, ``eval``...)."""
        return self.argv[0].decode("latin-1").lower() if self.argv else ""

    @property
    def host(self) -> str:
        """The client's host without its port (``lua`` and ``unix:...`` as they are)."""
        if self.client == "lua" or self.client.startswith("unix:") or ":" not in self.client:
            return self.client
        return self.client.rsplit(":", 1)[0]

    def render(self) -> str:
        """The line as redis-cli prints it (``parse(line.render())`` gives it back)."""
        return (f"{self.time_us // 1_000_000}.{self.time_us % 1_000_000:06d} "
                f"[{self.db} {self.client}] " + " ".join(quote(a) for a in self.argv))


@dataclass(frozen=True, slots=True)
class BadLine:
    """A physical line that is not part of any MONITOR command, and why."""

    line: int
    reason: str
    text: str  # the start of the line, for the error message


@dataclass(frozen=True, slots=True)
class Capture:
    """What a text holds: its commands in order, the lines that are not, and
    how many physical lines were joined to read pasted commands."""

    lines: tuple[MonitorLine, ...]
    bad: tuple[BadLine, ...] = ()
    joined: int = 0


def _unescape(body: str) -> bytes:
    raw = body.encode("utf-8")
    if b"\\" not in raw:
        return raw

    def one(m: re.Match[bytes]) -> bytes:
        code = m.group(1)
        if len(code) == 3:
            return bytes([int(code[1:], 16)])
        if code in _SIMPLE:
            return _SIMPLE[code]
        raise ValueError(f"unknown escape \\{code.decode('latin-1')}")

    return _ESCAPE.sub(one, raw)


def _scan(text: str) -> tuple[list[bytes], str | None, bool]:
    """The quoted arguments of ``text``: (args, error or None, ended inside a quote)."""
    args: list[bytes] = []
    pos, end = 0, len(text)
    while pos < end:
        m = _ARG.match(text, pos)
        if m is None:
            if _OPEN.match(text, pos):
                return args, None, True
            return args, f"expected a quoted argument at column {pos + 1}", False
        try:
            args.append(_unescape(m.group(1)))
        except ValueError as exc:
            return args, str(exc), False
        pos = m.end()
    return args, None, False


def _time_us(seconds: str, fraction: str) -> int:
    return int(seconds) * 1_000_000 + int(fraction.ljust(6, "0"))


def _physical_lines(source: str | bytes | Iterable[str | bytes]) -> list[str]:
    if isinstance(source, bytes):
        source = decode(source)
    if isinstance(source, str):
        rows = source.split("\n")
        if rows and rows[-1] == "":
            rows.pop()
    else:
        rows = [decode(r) if isinstance(r, bytes) else r for r in source]
        rows = [piece for r in rows for piece in r.rstrip("\n").split("\n")]
    return [r[:-1] if r.endswith("\r") else r for r in rows]


def decode(raw: bytes) -> str:
    """MONITOR output is ASCII; a pasted file may be UTF-8; anything else is latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_capture(source: str | bytes | Iterable[str | bytes]) -> Capture:
    """Read a capture: its text, raw bytes from the socket, or an iterable of lines."""
    rows = _physical_lines(source)
    lines: list[MonitorLine] = []
    bad: list[BadLine] = []
    joined = 0
    i, n = 0, len(rows)
    while i < n:
        row = rows[i]
        stripped = row.strip()
        if not stripped or stripped.startswith("#") or stripped in ("OK", "+OK"):
            i += 1
            continue
        head = _HEADER.match(row)
        if head is None:
            bad.append(BadLine(i + 1, "not a MONITOR line", row[:80]))
            i += 1
            continue
        text, j = row[head.end():], i
        while True:
            args, error, still_open = _scan(text)
            if error is None and still_open and j + 1 < n and j - i < MAX_JOINED \
                    and not _HEADER.match(rows[j + 1]):
                j += 1
                text += "\n" + rows[j]
                continue
            if error is None and not still_open and j + 1 < n and _WRAP.match(rows[j + 1]):
                j += 1
                text += " " + rows[j].lstrip(" \t")
                continue
            break
        if error is not None or still_open or not args:
            reason = error or ("a quote is never closed" if still_open else "no arguments")
            bad.append(BadLine(i + 1, reason, row[:80]))
            i += 1  # resume right after the bad line: the next ones may be fine
            continue
        seconds, fraction, db, client = head.groups()
        lines.append(MonitorLine(_time_us(seconds, fraction), int(db), client, tuple(args),
                                 i + 1))
        joined += j - i
        i = j + 1
    return Capture(tuple(lines), tuple(bad), joined)


def parse(source: str | bytes | Iterable[str | bytes]) -> list[MonitorLine]:
    """The commands of a capture, in order; lines that do not parse are left out
    (``parse_capture`` says which and why)."""
    return list(parse_capture(source).lines)


__all__ = ["BadLine", "Capture", "MonitorLine", "decode", "parse", "parse_capture"]
