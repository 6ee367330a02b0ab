"""Jepsen-style histories: what happened, as immutable operations with true times.

A history is a tuple of ``Op``. The lock code and the coupon service record
invocations and completions; the checkers and the metrics read them. Nothing
here knows whether the history came from the simulator or from a real Redis,
which is the point: one set of judges for both worlds.

Pairing rule: an ``invoke`` and its completion share ``process`` and ``f``; a
process has at most one outstanding op of a given ``f``, and the next
non-invoke op with the same process and ``f`` completes it. Ops that are
events in their own right (``init``, ``enter``, ``leave``, ``publish`` and
every op of the ``nemesis``) are never paired.

Operation names (``f``) and their values are listed in the module constants
below; the checkers document which ones they read.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from models.faults import FAULT_EVENTS
from models.frozen import quick_init

TYPES = ("invoke", "ok", "fail", "info")
"""``info`` means outcome unknown (timed out, crashed): never silently a failure."""

EVENT_FS = frozenset({"init", "enter", "leave", "publish"}) | FAULT_EVENTS
"""Operations recorded as single events (no invoke): never completions."""

NEMESIS = "nemesis"
"""The process that records faults; all of its ops are events."""


class HistoryError(ValueError):
    """A malformed history; the message is one line naming the bad op."""


@quick_init
@dataclass(frozen=True, slots=True)
class Op:
    """One operation of a history (see the module docstring for ``f`` and ``value``)."""

    index: int
    time: float
    process: str
    type: str
    f: str
    value: object = None
    node: str = ""

    def __str__(self) -> str:
        where = f" @{self.node}" if self.node else ""
        return (f"#{self.index} {format_ms(self.time)} ms {self.process}{where} "
                f"{self.type} {self.f} {self.value!r}")


@quick_init
@dataclass(frozen=True, slots=True)
class Pair:
    """An invocation and its completion; ``completion`` None: never completed (e.g. crash)."""

    invoke: Op
    completion: Op | None = None

    @property
    def process(self) -> str:
        return self.invoke.process

    @property
    def f(self) -> str:
        return self.invoke.f

    @property
    def node(self) -> str:
        return self.invoke.node

    @property
    def type(self) -> str | None:
        """The completion's type, None while outstanding."""
        return self.completion.type if self.completion is not None else None

    @property
    def ok(self) -> bool:
        return self.completion is not None and self.completion.type == "ok"

    @property
    def start(self) -> float:
        return self.invoke.time

    @property
    def end(self) -> float | None:
        return self.completion.time if self.completion is not None else None

    @property
    def value(self) -> object:
        """The completion's value (None while outstanding)."""
        return self.completion.value if self.completion is not None else None


def format_ms(t: float) -> str:
    """``105.0``, ``5104.2``, ``0.125``: at least one and at most three decimals."""
    text = f"{t:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def is_immutable_value(value: object) -> bool:
    """True for None, bool, int, float, str and (nested) tuples of those."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if type(value) is tuple:
        return all(is_immutable_value(v) for v in value)
    return False


def _decode(value: object) -> object:
    """JSON arrays back to tuples: values hold only tuples, so an array is always one."""
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


_ROW = attrgetter("index", "time", "process", "type", "f", "value", "node")  # digest's row

# json encodes tuples as arrays; values never hold lists, so decoding is unambiguous
_LINE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=True)


def _op_to_json(op: Op) -> str:
    """Canonical one-line JSON object: fixed key order, compact, time always a float."""
    return _LINE.encode({"index": op.index, "time": float(op.time), "process": op.process,
                         "type": op.type, "f": op.f, "value": op.value, "node": op.node})


def _op_from_json(line: str, lineno: int) -> Op:
    try:
        d = json.loads(line)
        return Op(index=d["index"], time=d["time"], process=d["process"], type=d["type"],
                  f=d["f"], value=_decode(d.get("value")), node=d.get("node", ""))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise HistoryError(f"line {lineno}: not an op ({exc})") from None


class History:
    """An immutable sequence of ops with its invoke/completion pairing (computed once)."""

    __slots__ = ("_by_f", "_by_index", "_events", "_events_by_f", "_ops", "_pairs")

    def __init__(self, ops: Iterable[Op] = ()) -> None:
        self._ops: tuple[Op, ...] = tuple(ops)
        self._pairs: tuple[Pair, ...] | None = None
        self._events: tuple[Op, ...] | None = None
        self._events_by_f: dict[str, tuple[Op, ...]] | None = None  # events("crash"), once
        self._by_index: dict[int, Pair] | None = None
        self._by_f: dict[str, tuple[Pair, ...]] | None = None  # pairs("issue"), built once

    # -- sequence ---------------------------------------------------------------
    @property
    def ops(self) -> tuple[Op, ...]:
        return self._ops

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self._ops)

    def __getitem__(self, i: int) -> Op:
        return self._ops[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self._ops == other._ops

    def __hash__(self) -> int:
        return hash(self._ops)

    def __repr__(self) -> str:
        return f"History({len(self._ops)} ops)"

    @property
    def start_time(self) -> float:
        return self._ops[0].time if self._ops else 0.0

    @property
    def end_time(self) -> float:
        """The last op's time: where open intervals end."""
        return self._ops[-1].time if self._ops else 0.0

    # -- pairing ------------------------------------------------------------------
    def _pair_up(self) -> None:
        """One pass: lenient (orphan completions become events); ``validate`` is strict.

        Every slot a ``pairs`` entry takes at its invoke is filled: by its
        completion, by a second invoke (the first never completed) or at the end."""
        open_: dict[tuple[str, str], tuple[Op, int]] = {}  # invoke, its slot in pairs
        pairs: list[Pair] = []
        by_index: dict[int, Pair] = {}
        events: list[Op] = []
        event = events.append
        event_fs = EVENT_FS
        for op in self._ops:
            f = op.f
            if f in event_fs:
                event(op)
                continue
            process = op.process
            key = (process, f)
            if op.type == "invoke" and process != NEMESIS:
                first = open_.get(key)
                if first is not None:  # double invoke: the first never completed
                    p = pairs[first[1]] = Pair(first[0], None)
                    by_index[first[0].index] = p
                open_[key] = (op, len(pairs))
                pairs.append(None)  # type: ignore[arg-type]  # filled below, always
                continue
            first = open_.pop(key, None)
            if first is None:
                event(op)
            else:
                p = pairs[first[1]] = Pair(first[0], op)
                by_index[first[0].index] = p
                by_index[op.index] = p
        for invoke, i in open_.values():
            p = pairs[i] = Pair(invoke, None)
            by_index[invoke.index] = p
        done = tuple(pairs)
        by_f: dict[str, list[Pair]] = {}
        for p in done:
            f = p.invoke.f
            same = by_f.get(f)
            if same is None:
                by_f[f] = [p]
            else:
                same.append(p)
        self._pairs, self._events, self._by_index = done, tuple(events), by_index
        self._by_f = {f: tuple(ps) for f, ps in by_f.items()}

    def pairs(self, f: str | None = None, process: str | None = None,
              node: str | None = None) -> tuple[Pair, ...]:
        """Invocations with their completions, in invocation order, optionally filtered."""
        if self._pairs is None:
            self._pair_up()
        assert self._pairs is not None and self._by_f is not None
        if f is not None:
            chosen = self._by_f.get(f, ())
            if process is None and node is None:
                return chosen
        else:
            chosen = self._pairs
        return tuple(p for p in chosen
                     if (process is None or p.process == process)
                     and (node is None or p.node == node))

    def events(self, f: str | None = None) -> tuple[Op, ...]:
        """Ops that are not part of any pair (``enter``, ``leave``, nemesis faults, ...)."""
        if self._events is None:
            self._pair_up()
        assert self._events is not None
        if f is None:
            return self._events
        if self._events_by_f is None:
            by_f: dict[str, list[Op]] = {}
            for o in self._events:
                by_f.setdefault(o.f, []).append(o)
            self._events_by_f = {k: tuple(v) for k, v in by_f.items()}
        return self._events_by_f.get(f, ())

    def pair_of(self, op: Op) -> Pair | None:
        """The pair an invoke or completion belongs to (None for events)."""
        if self._by_index is None:
            self._pair_up()
        assert self._by_index is not None
        return self._by_index.get(op.index)

    def filter(self, f: str | None = None, process: str | None = None,
               node: str | None = None, type: str | None = None) -> tuple[Op, ...]:
        """Ops matching every given field, in history order."""
        return tuple(o for o in self._ops
                     if (f is None or o.f == f) and (process is None or o.process == process)
                     and (node is None or o.node == node) and (type is None or o.type == type))

    @property
    def processes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o.process for o in self._ops))

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o.node for o in self._ops if o.node))

    # -- validation ---------------------------------------------------------------
    def validate(self) -> History:
        """Raise ``HistoryError`` (one line) at the first malformed op; return self."""
        open_: set[tuple[str, str]] = set()
        last = -math.inf
        for i, op in enumerate(self._ops):
            where = f"op {i}"
            if not isinstance(op, Op):
                raise HistoryError(f"{where}: not an Op but {type(op).__name__}")
            where = f"op {i} ({op.process} {op.type} {op.f})"
            if op.index != i:
                raise HistoryError(f"{where}: index {op.index} but position {i}")
            if op.type not in TYPES:
                raise HistoryError(f"{where}: unknown type {op.type!r}; known: {', '.join(TYPES)}")
            if not isinstance(op.process, str) or not isinstance(op.f, str) or not op.f \
                    or not isinstance(op.node, str):
                raise HistoryError(f"{where}: process, f and node must be strings (f non-empty)")
            t = op.time
            if isinstance(t, bool) or not isinstance(t, int | float) or math.isnan(t):
                raise HistoryError(f"{where}: time {t!r} is not a number")
            if t < last:
                raise HistoryError(f"{where}: time {format_ms(t)} ms before the previous op's "
                                   f"{format_ms(last)} ms")
            last = t
            if not is_immutable_value(op.value):
                raise HistoryError(f"{where}: value {op.value!r} is not immutable "
                                   "(None, bool, int, float, str or tuples of those)")
            if op.process == NEMESIS or op.f in EVENT_FS:
                if op.type == "invoke":
                    raise HistoryError(f"{where}: {op.f!r} is an event and cannot be invoked")
                continue
            key = (op.process, op.f)
            if op.type == "invoke":
                if key in open_:
                    raise HistoryError(f"{where}: invoked while its previous {op.f} is "
                                       "still outstanding")
                open_.add(key)
            elif key in open_:
                open_.remove(key)
            else:
                raise HistoryError(f"{where}: completion with no invoke")
        return self

    # -- serialization ------------------------------------------------------------
    def to_jsonl(self) -> str:
        """One canonical JSON object per line; tuples as lists (values never hold lists)."""
        return "".join(_op_to_json(op) + "\n" for op in self._ops)

    @classmethod
    def from_jsonl(cls, text: str) -> History:
        """Inverse of ``to_jsonl``: the same ops, tuples and float times included."""
        return cls(_op_from_json(line, n) for n, line in enumerate(text.splitlines(), 1)
                   if line.strip())

    def digest(self) -> str:
        """sha256 hex of the canonical serialization: the history part of a trace hash.

        The serialization is one compact ASCII JSON array of
        ``[index, time as float, process, type, f, value, node]`` per op, made
        in a single encoder call: the simulator hashes every run, so it must
        be fast. ``1`` and ``1.0`` and ``True`` stay distinct, as they should.
        """
        # the fields as tuples (arrays to json, as lists would be), read in C;
        # only a time that is not a float yet is rebuilt (the recorder stores floats)
        rows = list(map(_ROW, self._ops))
        for i, row in enumerate(rows):
            if type(row[1]) is not float:
                rows[i] = (row[0], float(row[1]), *row[2:])
        text = json.dumps(rows, separators=(",", ":"), ensure_ascii=True, allow_nan=True,
                          check_circular=False)
        return hashlib.sha256(text.encode("ascii")).hexdigest()


class Recorder:
    """The mutable builder the simulator and the real driver append to."""

    __slots__ = ("_ops",)

    def __init__(self) -> None:
        self._ops: list[Op] = []

    def record(self, time: float, process: str, type: str, f: str, value: Any = None,
               node: str = "") -> Op:
        """Append one op with the next index; the time is stored as a float."""
        ops = self._ops
        op = Op(len(ops), float(time), process, type, f, value, node)
        ops.append(op)
        return op

    def __len__(self) -> int:
        return len(self._ops)

    def history(self) -> History:
        """A snapshot: later records do not change it."""
        return History(self._ops)


__all__ = [
    "EVENT_FS", "NEMESIS", "TYPES", "History", "HistoryError", "Op", "Pair", "Recorder",
    "format_ms", "is_immutable_value",
]
