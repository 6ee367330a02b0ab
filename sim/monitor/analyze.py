"""Analyse a Redis MONITOR capture of a lock: the field report's tables, computed.

API (one analyser for real captures and simulated runs alike)::

    from sim.monitor.analyze import analyze, parse
    report = analyze("capture.txt")            # a path (str without newline, or Path)
    report = analyze(raw_bytes_from_socket)    # or the text, or an iterable of lines,
    report = analyze(parse(text), lock_key="lock:coupon:issue:1", session_prefix="sess:")
    report.set_nx_attempts, report.publish, report.overlaps, report.as_dict()
    parse(text) -> list[MonitorLine]           # frozen (time_us, db, client, argv bytes)

``analyze`` raises ``MonitorError`` (one line) only when the input is not a
MONITOR capture at all; single bad lines are counted in ``report.bad_lines``.

How: the capture's top-level commands are replayed, at their own timestamps,
through the pure Redis model (``models.redis``), so whether a ``SET NX``
succeeded, which command deleted the lock and when its TTL ran out are
exact rather than guessed from text. The ``[0 lua]`` lines are the evidence
for what each script did: they are compared with the commands the model's
script ran (a disagreement means the capture did not start from an empty
lock, or the model is wrong), and when a capture holds lua lines but no EVAL
(``MONITOR | grep lua``) they alone give PUBLISH and releases (their DELs).
Assumption: the lock key is absent when the capture starts.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from models.redis import OK, RedisModel
from sim.monitor.parse import BadLine, Capture, MonitorLine, decode, parse, parse_capture

LOCK_KEY = "lock:coupon:issue:1"
SESSION_PREFIX = "sess:"
_SCRIPTS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")
_NOT_REPLAYED = ("subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
                 "sunsubscribe", "monitor")  # no keyspace effect; RESP3 clients may mix them


class MonitorError(Exception):
    """The input is not a MONITOR capture (or cannot be read): one line to print."""


@dataclass(frozen=True, slots=True)
class Hold:
    """One tenure of the lock key, from the command that set it to the one that ended it."""

    token: str
    client: str
    start_us: int
    end_us: int | None  # None: still held when the capture ends
    end: str  # release (by a command naming the token), expiry, deleted, overwritten, open

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_us is None else (self.end_us - self.start_us) / 1000.0


@dataclass(frozen=True, slots=True)
class Overlap:
    """Two holders at once: ``first`` lost the key without releasing it, ``second``
    acquired, and then ``first`` still acted on the lock with its token."""

    first_token: str
    first_client: str
    first_acquired_us: int
    first_lost_us: int
    first_lost_by: str  # expiry, deleted, overwritten
    second_token: str
    second_client: str
    second_acquired_us: int
    first_returned_us: int  # the first holder's next command naming its token
    first_command: str
    line: int  # where that command is in the capture

    def story(self) -> str:
        ms = lambda us: f"{(us - self.first_acquired_us) / 1000:.3f} ms"  # noqa: E731
        return (f"{self.first_client} acquired with token {self.first_token} at 0 ms; "
                f"its key was lost by {self.first_lost_by} at {ms(self.first_lost_us)}; "
                f"{self.second_client} acquired with {self.second_token} at "
                f"{ms(self.second_acquired_us)}; {self.first_client} still sent "
                f"{self.first_command.upper()} with its token at {ms(self.first_returned_us)} "
                f"(line {self.line})")


@dataclass(frozen=True)
class MonitorReport:
    """The report's tables from one capture; ``None`` where there is no sample."""

    source: str
    lock_key: str
    session_prefix: str
    commands_total: int = 0  # top-level command lines
    lua_lines: int = 0
    bad_count: int = 0
    bad_lines: tuple[BadLine, ...] = ()  # the first few, with line numbers
    joined_lines: int = 0  # physical lines joined into pasted commands
    first_s: float | None = None
    last_s: float | None = None
    duration_s: float = 0.0
    set_nx_attempts: int = 0
    set_nx_successes: int = 0
    success_rate: float | None = None  # successes / attempts
    attempts_per_success: float | None = None
    acquisitions: int = 0  # the key went from absent to held, by any command
    publish: int = 0  # top-level PUBLISH plus those run by scripts
    publish_top_level: int = 0
    publish_in_scripts: int = 0
    publish_evidence: str = "none"  # "lua lines" or "replay" (no lua lines captured)
    releases: int = 0
    expiries: int = 0
    deleted_by_others: int = 0  # deleted or overwritten by a command not naming the token
    held_at_end: int = 0
    hold_mean_ms: float | None = None  # acquire -> release by the owner; expiries apart
    hold_min_ms: float | None = None
    hold_max_ms: float | None = None
    acquires_by_client: dict[str, int] = field(default_factory=dict)
    acquires_by_host: dict[str, int] = field(default_factory=dict)
    overlaps: tuple[Overlap, ...] = ()
    sessions: int = 0  # distinct session keys SET
    session_sets: int = 0
    commands: dict[str, int] = field(default_factory=dict)  # top-level, by name
    lua_commands: dict[str, int] = field(default_factory=dict)
    scripts: int = 0  # top-level EVAL/EVALSHA lines
    scripts_checked: int = 0  # scripts whose lua lines were compared with the model's
    script_mismatches: tuple[tuple[int, str], ...] = ()  # (line, what differed), first few
    replay: str = "top-level"  # "lua lines": no EVAL lines; releases are the lua DELs
    replay_errors: int = 0
    holds: tuple[Hold, ...] = ()

    @property
    def mutual_exclusion(self) -> bool:
        return not self.overlaps

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; overlap witnesses carry their story."""
        out = asdict(self)
        out["bad_lines"] = [asdict(b) for b in self.bad_lines]
        out["overlaps"] = [dict(asdict(o), story=o.story()) for o in self.overlaps]
        out["script_mismatches"] = [{"line": n, "difference": d}
                                    for n, d in self.script_mismatches]
        out["holds"] = [dict(asdict(h), duration_ms=h.duration_ms) for h in self.holds]
        out["mutual_exclusion"] = self.mutual_exclusion
        return out


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)


class _Replay:
    """Runs the capture's commands through the model and watches the lock key."""

    def __init__(self, lock_key: bytes, db: int, version: tuple[int, int]) -> None:
        self.key = lock_key
        self.db = db
        self.version = version
        self.models: dict[int, RedisModel] = {}
        self.ids: dict[str, int] = {"lua": 0}
        self.holder: Hold | None = None
        self.holder_raw = b""  # the holder's token as bytes, to spot it in arguments
        self.holds: list[Hold] = []
        self.lost: dict[bytes, Hold] = {}  # lost without release, no successor yet
        self.superseded: dict[bytes, tuple[Hold, Hold]] = {}
        self.overlaps: list[Overlap] = []
        self.errors = 0

    def model(self, db: int) -> RedisModel:
        m = self.models.get(db)
        if m is None:
            m = self.models[db] = RedisModel(self.version)
            m.script_log = []
            if self.models:  # scripts are server-wide, keys per database
                m.scripts = next(iter(self.models.values())).scripts
        return m

    def _end(self, end_us: int, how: str) -> None:
        h = self.holder
        assert h is not None
        done = Hold(h.token, h.client, h.start_us, end_us, how)
        self.holds.append(done)
        if how != "release":
            self.lost[self.holder_raw] = done
        self.holder = None

    def expire(self, now_ms: int) -> None:
        """The holder's TTL ran out before ``now_ms``: it ended at its deadline."""
        if self.holder is None:
            return
        ks = self.model(self.db).ks
        deadline = ks.deadlines.get(self.key)
        if self.key in ks.data and deadline is not None and now_ms > deadline:
            self._end(deadline * 1000, "expiry")

    def run(self, line: MonitorLine) -> tuple[object, list[tuple[bytes, ...]]]:
        """Replay one command; return its reply and the commands its script ran."""
        now_ms = line.time_us / 1000.0
        if line.db == self.db:
            self.expire(int(now_ms))
        self._witness(line)
        m = self.model(line.db)
        before = m.ks.data.get(self.key) if line.db == self.db else None
        client = self.ids.setdefault(line.client, len(self.ids))
        name = line.command
        if name in ("flushall", "flushdb"):
            for db, each in self.models.items():
                if name == "flushall" or db == line.db:
                    each.ks.clear()
            reply: object = OK
        elif name in _NOT_REPLAYED:
            reply = None
        else:
            try:
                reply = m.execute(line.argv, now_ms, client).reply
            except Exception:  # never a traceback for a strange capture; counted instead
                reply = None
                self.errors += 1
        ran = list(m.script_log or ())
        if m.script_log:
            m.script_log.clear()
        if line.db == self.db:
            self._watch(line, before, m.ks.data.get(self.key))
        return reply, ran

    def _watch(self, line: MonitorLine, before: object, after: object) -> None:
        if after == before:
            return
        if self.holder is not None:
            owner = self.holder_raw in line.argv[1:]
            how = "release" if owner and after is None else (
                "deleted" if after is None else "overwritten")
            self._end(line.time_us, how)
        if after is not None:
            self.holder = Hold(_text(after), line.client, line.time_us, None, "open")
            self.holder_raw = after if isinstance(after, bytes) else b""
            for token, lost in self.lost.items():
                self.superseded[token] = (lost, self.holder)
            self.lost.clear()

    def _witness(self, line: MonitorLine) -> None:
        """A holder that lost its key, after someone else acquired, still uses its token."""
        if not self.superseded or line.is_lua:
            return
        for arg in line.argv[1:]:
            pair = self.superseded.pop(arg, None)
            if pair is not None:
                first, second = pair
                assert first.end_us is not None
                self.overlaps.append(Overlap(
                    first.token, first.client, first.start_us, first.end_us, first.end,
                    second.token, second.client, second.start_us, line.time_us,
                    line.command, line.line))

    def finish(self, last_us: int) -> None:
        if self.holder is not None:
            self.expire(last_us // 1000)
        if self.holder is not None:
            self.holds.append(self.holder)


def _is_set_nx(line: MonitorLine, key: bytes) -> bool:
    a = line.argv
    return (len(a) >= 3 and line.command == "set" and a[1] == key
            and any(x.upper() == b"NX" for x in a[3:]))


def _norm(argv: Iterable[bytes]) -> tuple[bytes, ...]:
    a = tuple(argv)
    return (a[0].lower(), *a[1:]) if a else a


#: The capture is parsed whole, in memory (several times its size); an endless input
#: (``/dev/zero``) or a capture this large is refused before it fills the memory.
MAX_CAPTURE_BYTES = 1 << 30


def _read(source: object) -> tuple[str, Capture]:
    if isinstance(source, (str, Path)) and (isinstance(source, Path) or "\n" not in source):
        path = Path(source)
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_CAPTURE_BYTES + 1)
        except OSError as exc:
            raise MonitorError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(raw) > MAX_CAPTURE_BYTES:
            raise MonitorError(f"{path} is larger than {MAX_CAPTURE_BYTES >> 30} GiB; "
                               "analyse a slice of the capture (e.g. with split -l)")
        return str(path), parse_capture(decode(raw))
    if isinstance(source, (list, tuple)) and source and all(
            isinstance(x, MonitorLine) for x in source):
        return "lines", Capture(tuple(source))
    if isinstance(source, (str, bytes)):
        return "text", parse_capture(source)
    if isinstance(source, Iterable):
        return "lines", parse_capture(source)  # type: ignore[arg-type]
    raise MonitorError(f"cannot analyse a {type(source).__name__}")


def analyze(source: object, lock_key: str = LOCK_KEY, session_prefix: str = SESSION_PREFIX,
            db: int = 0, version: tuple[int, int] = (7, 0), keep_bad: int = 20) -> MonitorReport:
    """Measure the lock ``lock_key`` (in database ``db``) from a MONITOR capture."""
    name, capture = _read(source)
    if not capture.lines:
        if capture.bad:
            b = capture.bad[0]
            raise MonitorError(f"{name}: not a MONITOR capture (line {b.line}: {b.reason}: "
                               f"{b.text[:60]!a})")
        raise MonitorError(f"{name}: no MONITOR lines in it")
    key = lock_key.encode()
    prefix = session_prefix.encode()
    lines = capture.lines
    top = [ln for ln in lines if not ln.is_lua]
    has_lua = len(top) < len(lines)
    lua_only = has_lua and not any(ln.command in _SCRIPTS for ln in top)
    replay = _Replay(key, db, version)
    attempts = successes = publish_top = publish_model = publish_lua = lua_deletes = 0
    scripts = checked = 0
    mismatches: list[tuple[int, str]] = []
    sessions: set[bytes] = set()
    session_sets = 0
    acquired_by: Counter[str] = Counter()
    for index, line in enumerate(lines):
        if line.is_lua:
            if line.command == "publish":
                publish_lua += 1
            elif line.command == "del" and key in line.argv[1:]:
                lua_deletes += 1
            continue
        reply, ran = replay.run(line)
        name_ = line.command
        if _is_set_nx(line, key):
            attempts += 1
            if reply == OK:
                successes += 1
        if name_ == "set" and len(line.argv) > 1 and line.argv[1].startswith(prefix):
            session_sets += 1
            sessions.add(line.argv[1])
        if name_ == "publish" and not line.is_lua:
            publish_top += 1
        publish_model += sum(1 for cmd in ran if cmd[0].lower() == b"publish")
        if name_ in _SCRIPTS and has_lua:
            scripts += 1
            seen = []
            follow = index + 1
            while follow < len(lines) and lines[follow].is_lua:
                seen.append(_norm(lines[follow].argv))
                follow += 1
            checked += 1
            expected = [_norm(c) for c in ran]
            if seen != expected and len(mismatches) < 20:
                mismatches.append((line.line, _difference(expected, seen)))
        elif name_ in _SCRIPTS:
            scripts += 1
    replay.finish(lines[-1].time_us)
    holds = replay.holds
    for h in holds:
        acquired_by[h.client] += 1
    by_host: Counter[str] = Counter()
    for client, n in acquired_by.items():
        by_host[MonitorLine(0, 0, client, (b"",)).host] += n
    released = [h.duration_ms for h in holds if h.end == "release" and h.duration_ms is not None]
    in_scripts = publish_lua if has_lua else publish_model
    first_us, last_us = lines[0].time_us, lines[-1].time_us
    return MonitorReport(
        source=name, lock_key=lock_key, session_prefix=session_prefix,
        commands_total=len(top), lua_lines=len(lines) - len(top),
        bad_count=len(capture.bad), bad_lines=capture.bad[:keep_bad],
        joined_lines=capture.joined,
        first_s=first_us / 1e6, last_s=last_us / 1e6, duration_s=(last_us - first_us) / 1e6,
        set_nx_attempts=attempts, set_nx_successes=successes,
        success_rate=successes / attempts if attempts else None,
        attempts_per_success=attempts / successes if successes else None,
        acquisitions=len(holds),
        publish=publish_top + in_scripts, publish_top_level=publish_top,
        publish_in_scripts=in_scripts,
        publish_evidence="lua lines" if has_lua else ("replay" if scripts else "none"),
        releases=lua_deletes if lua_only else sum(1 for h in holds if h.end == "release"),
        expiries=sum(1 for h in holds if h.end == "expiry"),
        deleted_by_others=sum(1 for h in holds if h.end in ("deleted", "overwritten")),
        held_at_end=sum(1 for h in holds if h.end == "open"),
        hold_mean_ms=statistics.fmean(released) if released else None,
        hold_min_ms=min(released) if released else None,
        hold_max_ms=max(released) if released else None,
        acquires_by_client=dict(sorted(acquired_by.items())),
        acquires_by_host=dict(sorted(by_host.items())),
        overlaps=tuple(replay.overlaps),
        sessions=len(sessions), session_sets=session_sets,
        commands=dict(sorted(Counter(ln.command for ln in top).items())),
        lua_commands=dict(sorted(Counter(ln.command for ln in lines if ln.is_lua).items())),
        scripts=scripts, scripts_checked=checked, script_mismatches=tuple(mismatches),
        replay="lua lines" if lua_only else "top-level",
        replay_errors=replay.errors,
        holds=tuple(holds),
    )


def _difference(expected: list[tuple[bytes, ...]], seen: list[tuple[bytes, ...]]) -> str:
    show = lambda cmds: "; ".join(b" ".join(c).decode("latin-1")[:60] for c in cmds) or "nothing"  # noqa: E731
    return f"the model's script ran {show(expected)}; the capture shows {show(seen)}"


__all__ = ["LOCK_KEY", "SESSION_PREFIX", "BadLine", "Hold", "MonitorError", "MonitorLine",
           "MonitorReport", "Overlap", "analyze", "parse", "parse_capture"]


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _split(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    return ", ".join(f"{k} {v:,} ({100 * v / total:.0f}%)" for k, v in counts.items()) or "-"


def render(report: MonitorReport, console: Any = None) -> None:
    """The report as tables, like ``locksim run``'s."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    r = report
    table = Table(title=f"MONITOR capture {r.source}: lock {r.lock_key}", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("commands (+ lua lines)", f"{r.commands_total:,} (+ {r.lua_lines:,})"),
        ("time span (s)", f"{r.first_s:.6f} .. {r.last_s:.6f} = {r.duration_s:.3f}"),
        ("SET NX attempts", _num(r.set_nx_attempts)),
        ("SET NX successes", _num(r.set_nx_successes)),
        ("success rate", "-" if r.success_rate is None else f"{100 * r.success_rate:.2f}%"),
        ("attempts per success", _num(r.attempts_per_success, 1)),
        ("PUBLISH", f"{r.publish:,} ({r.publish_top_level:,} top-level, "
                    f"{r.publish_in_scripts:,} in scripts, from {r.publish_evidence})"),
        ("releases by the owner", _num(r.releases)),
        ("lock hold mean / min / max (ms)",
         f"{_num(r.hold_mean_ms)} / {_num(r.hold_min_ms)} / {_num(r.hold_max_ms)}"),
        ("expired while held", _num(r.expiries)),
        ("deleted or overwritten by others", _num(r.deleted_by_others)),
        ("still held at the end", _num(r.held_at_end)),
        ("acquisitions by host", _split(r.acquires_by_host)),
        ("two holders at once", "never" if r.mutual_exclusion else
         f"[red]{len(r.overlaps)} time(s)[/]"),
        ("sessions seen (SET " + r.session_prefix + "*)",
         f"{r.sessions:,} ({r.session_sets:,} SETs)"),
        ("scripts checked against lua lines",
         f"{r.scripts_checked - len(r.script_mismatches):,} of {r.scripts_checked:,} agree"
         if r.scripts_checked else "no lua lines to check"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    clients = Table(title="acquisitions by client address", title_justify="left")
    clients.add_column("client")
    clients.add_column("acquired", justify="right")
    for client, n in r.acquires_by_client.items():
        clients.add_row(client, f"{n:,}")
    commands = Table(title="commands", title_justify="left")
    commands.add_column("command")
    commands.add_column("top-level", justify="right")
    commands.add_column("in scripts ([0 lua])", justify="right")
    for name in sorted(set(r.commands) | set(r.lua_commands)):
        commands.add_row(name, _num(r.commands.get(name, 0)), _num(r.lua_commands.get(name, 0)))
    console.print(clients)
    console.print(commands)
    for o in r.overlaps[:10]:
        console.print(f"[bold red]overlap[/]: {o.story()}")
    for line, difference in r.script_mismatches[:5]:
        console.print(f"[yellow]script at line {line}[/]: {difference}")
    if r.replay != "top-level":
        console.print("no EVAL lines: PUBLISH and releases come from the [0 lua] lines alone")
    if r.replay_errors:
        console.print(f"[yellow]{r.replay_errors} command(s) the model could not replay[/]")
    if r.bad_count:
        console.print(f"[yellow]{r.bad_count} line(s) are not MONITOR lines[/]"
                      + (f"; {r.joined_lines} joined into pasted commands" if r.joined_lines
                         else ""))
        for b in r.bad_lines[:10]:
            console.print(f"  line {b.line}: {b.reason}: {b.text!r}", markup=False)
