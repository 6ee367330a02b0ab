"""Space-time diagrams that show a counterexample's cause, not just its symptom.

One lane per request, grouped under its app server; one lane per node for
the faults that struck it (Redis's lane too). In a request's lane: the wait
for the lock, the lease *as Redis saw it* (``models.leases``: from the
successful ``SET NX`` to expiry, deletion or overwrite, with watchdog
extensions), the critical section, reads and writes with their values and
the refusals (fenced storage, a release answering 0). The verdict's witness
is outlined and the stretch where two requests were inside is banded.

Every mark gets a row of its lane by greedy interval allocation over its
drawn extent (bar and label), so nothing covers anything else. Rendered as
text for a terminal, SVG, an HTML page, or inline in Jupyter.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from models.checkers import Verdict
from models.history import NEMESIS, History, Op, format_ms
from models.leases import Lease, LogEntry, leases

BAR_KINDS = ("lease", "wait", "cs", "fault")
POINT_KINDS = ("read", "write", "refused", "release", "extend", "outcome", "event", "foreign")
COLORS = {
    "lease": "#9ecae1", "lease-expired": "#fdae6b", "wait": "#d9d9d9", "cs": "#3182bd",
    "fault": "#fb6a4a", "read": "#31a354", "write": "#756bb1", "refused": "#de2d26",
    "release": "#636363", "extend": "#08519c", "outcome": "#636363", "event": "#636363",
    "foreign": "#a50f15",
}
TEXT_MARK = {"lease": "=", "wait": ".", "cs": "#", "fault": "~", "read": "r", "write": "w",
             "refused": "X", "release": "v", "extend": "+", "outcome": "|", "event": "*",
             "foreign": "F"}
LEGEND = (("lease", "lease as Redis saw it (SET NX to expiry/DEL)"),
          ("wait", "waiting for the lock"), ("cs", "critical section (enter to leave)"),
          ("fault", "fault on that node"), ("read", "read"), ("write", "write"),
          ("refused", "refused (fence / release 0)"), ("extend", "lease extended"),
          ("foreign", "Redis ran its command on another request's live lock"))
CHAR_W = 6.6  # px per character at font-size 11 monospace
_FAULT_ENDS = {"pause": "resume", "partition": "heal", "crash": "restart"}


@dataclass(frozen=True, slots=True)
class Mark:
    """One thing to draw: a bar (``end > start``) or a point, in one lane."""

    lane: str
    kind: str
    start: float
    end: float
    label: str = ""
    tip: str = ""
    witness: bool = False
    expired: bool = False  # a lease that ended by expiry, not by its holder


@dataclass(frozen=True, slots=True)
class Lane:
    """A request (``node`` is its server) or a node's fault lane (``node`` == ``name``)."""

    name: str
    node: str
    witness: bool = False


def _token(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return value[0]
    return None


def _value_text(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(_value_text(v) for v in value)
    return str(value)


def lease_owners(history: History) -> dict[str, str]:
    """Token -> request, from the lock's own records (attempt/acquire/release/extend)."""
    out: dict[str, str] = {}
    for op in history:
        if op.process != NEMESIS and op.f in ("attempt", "acquire", "release", "extend"):
            token = _token(op.value)
            if token and not (op.f == "acquire" and op.type == "invoke"):  # that one is the key
                out.setdefault(token, op.process)
    return out


def _owner_lane(lease: Lease, owners: dict[str, str]) -> str:
    if lease.owner in owners:
        return owners[lease.owner]
    for token, process in owners.items():  # Redisson fields are "token:thread"
        if token in lease.owner:
            return process
    return "redis"


def foreign_marks(effects: Iterable[Any], lanes: set[str]) -> list[Mark]:
    """Redis's own evidence, on the lane of the request that sent it: a command that
    deleted, overwrote or re-timed a live lock key another request had set (the
    ground-truth log's view of foreign-release and foreign-renewal)."""
    setter: dict[tuple[str, str, bytes], str | None] = {}
    out: list[Mark] = []
    for e in effects:
        if not e.key.startswith("lock:"):
            continue
        owner = setter.get((e.node, e.key, e.before)) if e.before is not None else None
        if (e.effect in ("del", "set", "expire") and e.request is not None
                and owner is not None and owner != e.request and e.request in lanes):
            verb = {"del": "deleted", "set": "overwrote", "expire": "re-timed"}[e.effect]
            out.append(Mark(e.request, "foreign", e.time, e.time,
                            f"{e.command} {verb} {owner}'s lock",
                            f"{e.command} on {e.key} at {format_ms(e.time)} ms: {verb} the "
                            f"lease {owner} set", True))
        if e.effect == "set" and e.after is not None:
            setter[(e.node, e.key, e.after)] = e.request
    return out


def marks(history: History, lease_list: Iterable[Lease],
          verdicts: Iterable[Verdict] = ()) -> tuple[list[Lane], list[Mark]]:
    """The lanes and what to draw in them; pure, so tests can read it."""
    end = history.end_time
    bad = [v for v in verdicts if v.valid is False]
    witness_ops = {o.index for v in bad for o in v.witness}
    witness_procs = {o.process for v in bad for o in v.witness if o.process != NEMESIS}
    out: list[Mark] = []
    lanes: dict[str, Lane] = {}
    nodes: dict[str, None] = {}

    def lane(process: str, node: str) -> str:
        if process not in lanes:
            lanes[process] = Lane(process, node, process in witness_procs)
            nodes.setdefault(node, None)
        return process

    for p in history.pairs():
        if p.process in ("storage", NEMESIS) or not p.node:
            continue
        name = lane(p.process, p.node)
        stop = p.end if p.end is not None else end
        wit = p.invoke.index in witness_ops or (
            p.completion is not None and p.completion.index in witness_ops)
        tip = f"{p.f} {_value_text(p.invoke.value)} -> {p.type or 'no answer'} " \
              f"{_value_text(p.value)} ({format_ms(p.start)}-{format_ms(stop)} ms)"
        if p.f == "acquire":
            how = {"ok": "", "fail": " (gave up)", None: " (still waiting)"}.get(p.type, "")
            out.append(Mark(name, "wait", p.start, stop, "wait" + how, tip, wit))
        elif p.f == "read":
            shown = p.value[0] if isinstance(p.value, tuple) and p.value else p.value
            out.append(Mark(name, "read", stop, stop, f"read {_value_text(shown)}", tip, wit))
        elif p.f in ("stock", "issue", "write"):
            shown = p.invoke.value[0] if isinstance(p.invoke.value, tuple) else p.invoke.value
            label = f"{p.f}:={_value_text(shown)}"
            if p.type != "ok":
                label += f" REFUSED {_value_text(p.value)}" if p.type == "fail" else " ?"
                out.append(Mark(name, "refused", stop, stop, label, tip, wit))
            else:
                out.append(Mark(name, "write", stop, stop, label, tip, wit))
        elif p.f == "release":
            answer = p.value[1] if isinstance(p.value, tuple) and len(p.value) > 1 else p.value
            refused = answer in (0, False) or p.type != "ok"
            out.append(Mark(name, "refused" if refused else "release", stop, stop,
                            f"release->{_value_text(answer)}", tip, wit))
        elif p.f == "request":
            said = _value_text(p.value) if p.completion is not None else "(no answer)"
            out.append(Mark(name, "outcome", stop, stop, f"-> {said}", tip))
    entered: dict[str, Op] = {}
    for op in history.events():
        if op.f == "enter" and op.process != NEMESIS:
            entered[op.process] = op
        elif op.f == "leave" and op.process in entered:
            start = entered.pop(op.process)
            out.append(Mark(lane(op.process, op.node), "cs", start.time, op.time, "inside",
                            f"critical section {format_ms(start.time)}-{format_ms(op.time)} ms",
                            op.process in witness_procs))
    for process, op in entered.items():
        out.append(Mark(lane(process, op.node), "cs", op.time, end, "inside (never left)",
                        f"critical section from {format_ms(op.time)} ms, never left",
                        process in witness_procs))
    out.extend(_faults(history, end, nodes))
    owners = lease_owners(history)
    for lease in lease_list:
        who = _owner_lane(lease, owners)
        if who not in lanes:
            lanes[who] = Lane(who, who)
        expired = lease.end_cause == "expired"
        text = {"expired": "lease EXPIRED", "deleted": "lease (released)",
                "overwritten": "lease (overwritten)", "flushed": "lease (lost: Redis restart)",
                "open": "lease (held)"}.get(lease.end_cause, "lease")
        out.append(Mark(who, "lease", lease.start, lease.end, text,
                        f"{lease.key} = {lease.owner[:8]} {format_ms(lease.start)}-"
                        f"{format_ms(lease.end)} ms, {lease.end_cause}", expired=expired))
        out.extend(Mark(who, "extend", t, t, "", f"PEXPIRE at {format_ms(t)} ms")
                   for t in lease.extensions)
    order: list[Lane] = []
    fault_nodes = {m.lane for m in out if m.kind == "fault"}
    for node in ["redis", *sorted(nodes)]:
        if node in fault_nodes:
            order.append(Lane(node, node))
        order.extend(sorted((la for la in lanes.values() if la.node == node and la.name != node),
                            key=lambda la: la.name))
    order.extend(la for la in lanes.values() if la not in order)
    order.extend(Lane(n, n) for n in sorted(fault_nodes) if all(la.name != n for la in order))
    return order, out


def _faults(history: History, end: float, nodes: dict[str, None]) -> list[Mark]:
    """Nemesis events as bars on the node they struck (pause to resume, and so on)."""
    out: list[Mark] = []
    open_: dict[tuple[str, str], Op] = {}
    for op in history.filter(process=NEMESIS):
        if not op.node:
            continue
        if op.f in _FAULT_ENDS:
            open_[(op.node, op.f)] = op
        elif op.f in _FAULT_ENDS.values():
            start_f = next(k for k, v in _FAULT_ENDS.items() if v == op.f)
            began = open_.pop((op.node, start_f), None)
            if began is not None:
                out.append(_fault(began, op.time))
        elif op.f == "delay" and isinstance(op.value, tuple):
            out.append(_fault(op, op.time + float(op.value[1]), f"delay +{op.value[0]:g} ms"))
        else:
            out.append(_fault(op, op.time, f"{op.f} {_value_text(op.value)}"))
    for began in open_.values():
        out.append(_fault(began, end if began.f != "crash" else began.time))
    return out


def _fault(op: Op, stop: float, label: str = "") -> Mark:
    label = label or ("pause (stop-the-world)" if op.f == "pause" else op.f)
    return Mark(op.node, "fault", op.time, stop, label,
                f"{op.node}: {label} {format_ms(op.time)}-{format_ms(stop)} ms")


def overlaps(items: Iterable[Mark]) -> list[tuple[float, float]]:
    """Stretches of true time during which two or more critical sections run."""
    cs = [m for m in items if m.kind == "cs"]
    edges = sorted([(m.start, 1) for m in cs] + [(m.end, -1) for m in cs])
    out: list[tuple[float, float]] = []
    depth, since = 0, 0.0
    for t, step in edges:
        if depth >= 2 and step < 0 and t > since:
            out.append((since, t))
        depth += step
        if depth >= 2:
            since = t
    return out


def ticks(lo: float, hi: float, want: int = 8) -> list[float]:
    """Round tick positions (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    span = max(hi - lo, 1e-9)
    raw = span / want
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def idle_gaps(items: Iterable[Mark], lo: float, hi: float) -> list[tuple[float, float]]:
    """Stretches with no mark starting or ending, longer than 1/300 of the run."""
    times = sorted({lo, hi, *(m.start for m in items), *(m.end for m in items)})
    cap = (hi - lo) / 600
    margin = cap / 4
    return [(a + margin, b - margin) for a, b in pairwise(times)
            if b - a > 2 * cap]


def allocate(extents: list[tuple[float, float]], order: list[int] | None = None) -> list[int]:
    """Row per extent so that no two in one row overlap (first fit, in ``order``:
    by default start order; by time, labels read top to bottom in time order)."""
    rows: list[list[tuple[float, float]]] = []
    out = [0] * len(extents)
    for i in order if order is not None else sorted(range(len(extents)),
                                                   key=lambda i: extents[i]):
        x0, x1 = extents[i]
        row = next((r for r, taken in enumerate(rows)
                    if all(b < x0 or x1 < a for a, b in taken)), len(rows))
        if row == len(rows):
            rows.append([])
        rows[row].append((x0, x1))
        out[i] = row
    return out


@dataclass
class Diagram:
    """A counterexample's picture; ``text()``, ``svg()``, ``html()``, and inline in Jupyter."""

    lanes: list[Lane]
    marks: list[Mark]
    lo: float
    hi: float
    title: str = ""
    story: str = ""
    bands: list[tuple[float, float]] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    """Idle stretches drawn shortened (a broken axis), so millisecond races stay visible."""

    def __post_init__(self) -> None:
        if not self.gaps:
            self.gaps = idle_gaps(self.marks, self.lo, self.hi)
        knots, u = [(self.lo, 0.0)], 0.0
        linear = (self.hi - self.lo) - sum(b - a for a, b in self.gaps)
        cap = min((self.hi - self.lo) / 600, 0.5 * linear / max(len(self.gaps), 1))
        for a, b in self.gaps:
            u += a - knots[-1][0]
            knots.append((a, u))
            u += cap
            knots.append((b, u))
        u += self.hi - knots[-1][0]
        knots.append((self.hi, u))
        self._knots = [(t, v / u) for t, v in knots]

    def u(self, t: float) -> float:
        """Where ``t`` falls on the (piecewise linear) axis, 0 to 1."""
        k = self._knots
        for (ta, ua), (tb, ub) in pairwise(k):
            if t <= tb:
                return ua if tb == ta else ua + (ub - ua) * (max(t, ta) - ta) / (tb - ta)
        return 1.0

    def tick_times(self, x0: float, x1: float, min_px: float) -> list[float]:
        """Round times at least ``min_px`` apart, none inside a shortened gap."""
        placed: list[float] = []
        edges = [float(round(t)) for gap in self.gaps for t in gap]  # where each piece starts
        for want in (6, 0, 20, 60, 200, 600):
            for t in ticks(self.lo, self.hi, want) if want else edges:
                if any(a < t < b for a, b in self.gaps):
                    continue
                px = x0 + self.u(t) * (x1 - x0)
                if all(abs(px - (x0 + self.u(q) * (x1 - x0))) >= min_px for q in placed):
                    placed.append(t)
        return sorted(placed)

    @classmethod
    def build(cls, history: History, redis_log: Iterable[LogEntry] = (),
              verdicts: Iterable[Verdict] = (), title: str = "",
              redis_version: tuple[int, ...] = (7, 0),
              effects: Iterable[Any] = ()) -> Diagram:
        """From a history, Redis's command log and the verdicts to explain."""
        verdicts = list(verdicts)
        keys = {str(o.value) for o in history.filter(f="acquire", type="invoke")}
        flushes = [o.time for o in history.filter(process=NEMESIS, f="crash", node="redis")]
        lease_list = leases(redis_log, keys, history.end_time, redis_version, flushes)
        lanes, items = marks(history, lease_list, verdicts)
        items.extend(foreign_marks(effects, {la.name for la in lanes}))
        story = "\n".join(v.story or v.summary for v in verdicts if v.valid is False)
        lo = min([history.start_time] + [m.start for m in items])
        hi = max([history.end_time, lo + 1.0] + [m.end for m in items])
        return cls(lanes, items, lo, hi, title, story, overlaps(items))

    @classmethod
    def from_run(cls, result: Any, verdicts: Iterable[Verdict] = (), title: str = "") -> Diagram:
        """From a ``RunResult`` (its history, ``redis_log`` and scenario's Redis version)."""
        version = tuple(getattr(result.scenario, "redis_version", (7, 0)))
        return cls.build(result.history, result.redis_log, verdicts, title, version,
                         getattr(result, "effects", ()))

    # -- layout shared by every rendering ---------------------------------------
    def layout(self, x0: float, x1: float, char_w: float,
               labels: bool = True) -> list[tuple[Lane, list[tuple[Mark, int]], int]]:
        """Per lane, each mark with its row; bars first, then labelled points."""
        out = []
        for la in self.lanes:
            mine = [m for m in self.marks if m.lane == la.name]
            placed: list[tuple[Mark, int]] = []
            base = 0
            groups = (("lease",), ("wait", "cs", "fault"), POINT_KINDS)
            for kinds in groups:
                group = [m for m in mine if m.kind in kinds]
                if not group:
                    continue
                extents = []
                for m in group:
                    a = x0 + self.u(m.start) * (x1 - x0)
                    b = x0 + self.u(m.end) * (x1 - x0)
                    width = len(m.label) * char_w if labels and m.kind in POINT_KINDS else 0.0
                    pad = char_w if labels else 0.0
                    if a + width + pad > x1:  # no room on the right: the label goes left
                        extents.append((a - width - 2 * pad, a + pad))
                    else:
                        extents.append((a - pad / 2, max(b, a + width + pad) + pad))
                rows = allocate(extents, sorted(range(len(group)),
                                                key=lambda i: (group[i].start, group[i].end)))
                placed.extend((m, base + r) for m, r in zip(group, rows, strict=True))
                base += max(rows) + 1
            out.append((la, placed, max(base, 1)))
        return out

    # -- text ----------------------------------------------------------------------
    def text(self, width: int = 100) -> str:
        """Characters for a terminal: marks as in ``TEXT_MARK``, point labels after them."""
        if width < 20:
            raise ValueError(f"width {width} is too small for a diagram; use at least 20")
        name_w = min(max([len(la.name) for la in self.lanes] + [6]) + 2, width // 3)
        plot = width - name_w - 2
        lines = [self.title] if self.title else []

        def col(t: float) -> int:
            return max(0, min(plot - 1, round(self.u(t) * (plot - 1))))

        axis = [" "] * plot
        tick_ts = self.tick_times(0, plot - 1, 9)
        for a, b in self.gaps:
            if col(b) - col(a) >= 1:
                axis[col(a):col(b) + 1] = "~" * (col(b) - col(a) + 1)
        for t in tick_ts:
            axis[col(t)] = "+"
        labels = [" "] * plot
        for t in tick_ts:
            s = f"{t:g}"
            c = col(t)
            if c + len(s) <= plot and all(ch == " " for ch in labels[max(0, c - 1):c + len(s)]):
                labels[c:c + len(s)] = s
        lines.append(f"{'ms':>{name_w}}  {''.join(labels)}")
        lines.append(f"{'':{name_w}}  {''.join(axis)}")
        node = None
        for la, placed, nrows in self.layout(0, plot - 1, 1.0, labels=False):
            if la.node != node:  # a heading per server, as the requests are grouped
                node = la.node
                lines.append(f"{node}:"[:width])
            rows = [[" "] * plot for _ in range(nrows)]
            for m, r in placed:
                mark = TEXT_MARK[m.kind]
                if m.kind == "lease" and m.expired:
                    mark = "-"
                a, b = col(m.start), col(m.end)
                for c in range(a, b + 1):
                    rows[r][c] = mark
                if m.kind == "lease" and m.expired:
                    rows[r][b] = "E"
            star = "*" if la.witness else " "
            name = la.name if la.name != la.node else f"[{la.name}]"
            if len(name) > name_w - 1:  # narrow: the full name on a line of its own
                lines.append(f"{star}{name}"[:width])
                name = ""
            for i, row in enumerate(rows):
                head = f"{star}{name}" if i == 0 else ""
                lines.append(f"{head:<{name_w}}|{''.join(row)}|"[:width])
            notes = " ".join(f"{TEXT_MARK[m.kind]}:{m.label}" for m, _ in
                             sorted(placed, key=lambda mr: mr[0].start)
                             if m.kind in POINT_KINDS and m.label)
            lines.extend(f"{'':<{name_w}} {chunk}" for chunk in _wrap(notes, plot) if chunk)
        if self.bands:
            band = [" "] * plot
            for a, b in self.bands:
                for c in range(col(a), col(b) + 1):
                    band[c] = "!"
            lines.append(f"{'overlap'[:name_w]:<{name_w}}|{''.join(band)}|")
        legend = ("= lease  -E lease expired  . wait  # inside  ~ fault  r read  w write  "
                  "X refused  + extended  F on another's lock  ! two inside  * witness")
        lines.extend(_wrap(legend, width))
        if self.story:
            for line in self.story.splitlines():
                lines.extend(_wrap(line, width))
        return "\n".join(lines)

    # -- SVG -----------------------------------------------------------------------
    def svg(self, width: int = 1100) -> str:
        """A standalone SVG document (tooltips on every mark)."""
        name_w = min(max([len(la.name) for la in self.lanes] + [6]) * 7.5 + 24, 220)
        x0, x1 = name_w, width - 24
        row_h, top = 20, 64
        layout = self.layout(x0, x1, CHAR_W)
        body_h = sum(n for _, _, n in layout) * row_h + 6 * len(layout)
        legend_y = top + body_h + 34
        height = legend_y + 22 * math.ceil((len(LEGEND) + 3) / 3) + 16
        def x(t: float) -> float:
            return x0 + self.u(t) * (x1 - x0)

        e = html.escape
        p = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
             f'viewBox="0 0 {width} {height:.0f}" font-family="DejaVu Sans Mono, monospace" '
             'font-size="11">',
             '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#bbb" '
             'stroke-width="2"/></pattern></defs>',
             f'<rect class="background" width="{width}" height="{height:.0f}" fill="white"/>',
             f'<text class="title" x="10" y="20" font-size="15" font-weight="bold">'
             f'{e(self.title)}</text>']
        for a, b in self.gaps:
            p.append(f'<g class="gap"><rect x="{x(a):.1f}" y="{top - 8}" '
                     f'width="{max(x(b) - x(a), 2):.1f}" height="{body_h + 8}" fill="url(#hatch)" '
                     f'opacity="0.5"/><text x="{(x(a) + x(b)) / 2:.1f}" y="{top + body_h + 13}" '
                     f'text-anchor="middle" fill="#888" font-size="9">'
                     f'{b - a:.0f} ms cut</text><title>{format_ms(b - a)} ms with nothing '
                     'happening, drawn shortened</title></g>')
        for t in self.tick_times(x0, x1, 48):
            p.append(f'<g class="tick"><line x1="{x(t):.1f}" y1="{top - 8}" x2="{x(t):.1f}" '
                     f'y2="{top + body_h}" stroke="#e0e0e0"/><text x="{x(t):.1f}" '
                     f'y="{top - 12}" text-anchor="middle" fill="#555">{t:g}</text></g>')
        p.append(f'<text x="{x1:.0f}" y="{top - 26}" text-anchor="end" fill="#555">time (ms)'
                 '</text>')
        for a, b in self.bands:
            p.append(f'<rect class="overlap" x="{x(a):.1f}" y="{top - 6}" '
                     f'width="{max(x(b) - x(a), 3):.1f}" height="{body_h + 6}" fill="#fc9272" '
                     f'opacity="0.45"><title>two inside at once {format_ms(a)}-'
                     f'{format_ms(b)} ms</title></rect>')
        y = top
        for la, placed, nrows in layout:
            h = nrows * row_h
            node_lane = la.name == la.node
            shade = "#fff5eb" if node_lane else ("#fee0d2" if la.witness else "#f7f7f7")
            p.append(f'<rect class="lane" x="4" y="{y}" width="{width - 8}" height="{h}" '
                     f'fill="{shade}" opacity="0.6"/>')
            weight = ' font-weight="bold" fill="#a50f15"' if la.witness else ""
            name = f"[{la.name}]" if node_lane else la.name
            p.append(f'<text class="lane-name" x="10" y="{y + 14}"{weight}>{e(name)}</text>')
            for m, r in placed:
                p.append(self._svg_mark(m, x(m.start), x(m.end), y + r * row_h, row_h, x1))
            y += h + 6
        p.append(f'<line x1="{x0}" y1="{top + body_h}" x2="{x1}" y2="{top + body_h}" '
                 'stroke="#888"/>')
        p.append(self._svg_legend(legend_y))
        p.append("</svg>")
        return "\n".join(p)

    @staticmethod
    def _svg_mark(m: Mark, a: float, b: float, y: float, row_h: int, right: float) -> str:
        e = html.escape
        tip = f"<title>{e(m.tip or m.label)}</title>"
        outline = ' stroke="#a50f15" stroke-width="2.5"' if m.witness else ""
        if m.kind in BAR_KINDS:
            color = COLORS["lease-expired" if m.expired else m.kind]
            inset = {"lease": 5, "wait": 6, "cs": 2, "fault": 3}[m.kind]
            w = max(b - a, 2.0)
            label_fill = "white" if m.kind == "cs" else "#222"
            text = m.label if len(m.label) * CHAR_W < w - 4 else ""
            outside = "" if text else m.label
            parts = [f'<g class="{m.kind}{" witness" if m.witness else ""}">'
                     f'<rect x="{a:.1f}" y="{y + inset}" width="{w:.1f}" '
                     f'height="{row_h - 2 * inset}" rx="2" fill="{color}"{outline}>{tip}</rect>']
            if m.expired:
                parts.append(f'<line class="expiry" x1="{b:.1f}" y1="{y}" x2="{b:.1f}" '
                             f'y2="{y + row_h}" stroke="#d94801" stroke-width="2"/>')
            if text:
                parts.append(f'<text x="{a + 4:.1f}" y="{y + 14}" fill="{label_fill}">'
                             f'{e(text)}</text>')
            elif outside and m.kind != "lease":
                pass  # short bars: the tooltip names them; labels would collide
            if m.kind == "lease" and not text:
                parts.append(f'<text x="{b + 3:.1f}" y="{y + 14}" fill="#555" font-size="9">'
                             f'{"E" if m.expired else ""}</text>')
            parts.append("</g>")
            return "".join(parts)
        color = COLORS[m.kind]
        shape = (f'<path d="M{a - 5:.1f},{y + 5} l10,10 m0,-10 l-10,10" stroke="{color}" '
                 f'stroke-width="2.5"/>' if m.kind == "refused" else
                 f'<circle cx="{a:.1f}" cy="{y + row_h / 2}" r="4" fill="{color}"{outline}/>')
        weight = ' font-weight="bold"' if m.kind == "refused" or m.witness else ""
        left = a + 7 + len(m.label) * CHAR_W > right
        where = f'x="{a - 7:.1f}" text-anchor="end"' if left else f'x="{a + 7:.1f}"'
        label = (f'<text {where} y="{y + 14}" fill="{color}"{weight}>{e(m.label)}</text>'
                 if m.label else "")
        return f'<g class="{m.kind}{" witness" if m.witness else ""}">{shape}{tip}{label}</g>'

    @staticmethod
    def _svg_legend(y: float) -> str:
        out = [f'<g class="legend"><text x="10" y="{y - 8}" font-weight="bold">legend</text>']
        items = [*LEGEND, ("lease-expired", "lease that EXPIRED (orange, line at expiry)"),
                 ("overlap", "two requests inside at once"), ("witness", "the verdict's witness")]
        for i, (kind, text) in enumerate(items):
            cx, cy = 10 + (i % 3) * 360, y + (i // 3) * 22
            fill = {"overlap": "#fc9272", "witness": "#fee0d2"}.get(kind) or COLORS[kind]
            stroke = ' stroke="#a50f15" stroke-width="2"' if kind == "witness" else ""
            out.append(f'<rect x="{cx}" y="{cy}" width="18" height="12" fill="{fill}"{stroke}/>'
                       f'<text x="{cx + 24}" y="{cy + 10}">{html.escape(text)}</text>')
        out.append("</g>")
        return "".join(out)

    def html(self) -> str:
        """A page: title, the verdict's story, the SVG."""
        e = html.escape
        return (f"<!doctype html><meta charset='utf-8'><title>{e(self.title)}</title>"
                f"<h1>{e(self.title)}</h1><pre>{e(self.story)}</pre>{self.svg()}")

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.story)}</pre>{self.svg()}"


def _wrap(line: str, width: int) -> list[str]:
    return [line[i:i + width] for i in range(0, max(len(line), 1), width)]


# -- the former entry points, kept for callers that pass only a history --------------
def text(history: History, width: int = 100) -> str:
    return Diagram.build(history).text(width)


def svg(history: History, width: int = 1100, title: str = "") -> str:
    return Diagram.build(history, title=title).svg(width)


def html_page(history: History, title: str, story: str) -> str:
    d = Diagram.build(history, title=title)
    d.story = story
    return d.html()
