"""Space-time diagrams of a history: one lane per app server and one for Redis.

Each request that held the lock gets a bar from its grant to its release,
drawn inside its server's lane; the critical section is the solid part.
Pauses, crashes and other faults shade their node; where two critical
sections overlap in true time the time axis is marked. Rendered as text for
the terminal, or as SVG (optionally inside an HTML page) for a file.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from models.history import History


@dataclass(frozen=True, slots=True)
class Bar:
    """One interval to draw in a lane."""

    lane: str
    row: str
    start: float
    end: float
    kind: str  # "hold" (lease held), "cs" (critical section), "pause", "fault"
    label: str = ""


def bars(history: History) -> list[Bar]:
    """Intervals worth drawing, from the history alone."""
    end_time = history.end_time
    out: list[Bar] = []
    granted: dict[str, tuple[float, str]] = {}
    entered: dict[str, float] = {}
    pauses: dict[str, float] = {}
    for op in history:
        if op.f == "acquire" and op.type == "ok":
            granted[op.process] = (op.time, op.node)
        elif op.f == "release" and op.type == "invoke" and op.process in granted:
            start, node = granted.pop(op.process)
            out.append(Bar(node, op.process, start, op.time, "hold", op.process))
        elif op.f == "enter":
            entered[op.process] = op.time
        elif op.f == "leave" and op.process in entered:
            out.append(Bar(op.node, op.process, entered.pop(op.process), op.time, "cs"))
        elif op.process == "nemesis" and op.f == "pause":
            pauses[op.node] = op.time
        elif op.process == "nemesis" and op.f == "resume" and op.node in pauses:
            out.append(Bar(op.node, "pause", pauses.pop(op.node), op.time, "pause", "paused"))
        elif op.process == "nemesis" and op.f in ("crash", "partition", "delay", "clock"):
            length = op.value if op.f == "partition" and isinstance(op.value, float) else 0.0
            out.append(Bar(op.node, op.f, op.time, op.time + length, "fault", op.f))
    for process, (start, node) in granted.items():  # never released
        out.append(Bar(node, process, start, end_time, "hold", process + " (never released)"))
    for process, start in entered.items():
        node = next((b.lane for b in out if b.row == process), "")
        out.append(Bar(node, process, start, end_time, "cs"))
    for node, start in pauses.items():
        out.append(Bar(node, "pause", start, end_time, "pause", "paused"))
    return out


def overlaps(items: list[Bar]) -> list[tuple[float, float]]:
    """Stretches of true time during which two or more critical sections run."""
    edges = sorted([(b.start, 1) for b in items if b.kind == "cs"]
                   + [(b.end, -1) for b in items if b.kind == "cs"], key=lambda e: (e[0], e[1]))
    out, depth, since = [], 0, 0.0
    for t, step in edges:
        if depth >= 2 and step < 0 and t > since:
            out.append((since, t))
        depth += step
        if depth >= 2:
            since = t
    return out


def _window(items: list[Bar]) -> tuple[float, float]:
    if not items:
        return 0.0, 1.0
    lo = min(b.start for b in items)
    return lo, max(max(b.end for b in items), lo + 1)


def text(history: History, width: int = 72) -> str:
    """The diagram in plain characters: '=' lease held, '#' critical section,
    '~' paused, 'x' a fault, '!' two critical sections at once."""
    items = bars(history)
    lo, hi = _window(items)
    scale = (width - 1) / (hi - lo)

    def col(t: float) -> int:
        return max(0, min(width - 1, round((t - lo) * scale)))

    lanes: dict[str, dict[str, list[str]]] = {}
    for b in items:
        rows = lanes.setdefault(b.lane or "?", {})
        row = rows.setdefault(b.row if b.kind in ("hold", "cs") else "~faults~", [" "] * width)
        mark = {"hold": "=", "cs": "#", "pause": "~", "fault": "x"}[b.kind]
        for c in range(col(b.start), col(b.end) + 1):
            if mark == "=" and row[c] == "#":
                continue
            row[c] = mark
    axis = [" "] * width
    for start, end in overlaps(items):
        for c in range(col(start), col(end) + 1):
            axis[c] = "!"
    label_w = max([len(r) for rows in lanes.values() for r in rows] + [13]) + 2
    lines = [f"{'':{label_w}}{lo:.0f} ms{'':{max(width - 18, 1)}}{hi:.0f} ms"]
    for lane in sorted(lanes):
        lines.append(f"{lane}:")
        for row, cells in sorted(lanes[lane].items(), key=lambda kv: kv[0] != "~faults~"):
            name = "pauses/faults" if row == "~faults~" else row
            lines.append(f"  {name:{label_w - 2}}|{''.join(cells)}|")
    if any(c == "!" for c in axis):
        lines.append(f"{'overlap':{label_w}}|{''.join(axis)}|")
    lines.append("legend: = lease held  # critical section  ~ paused  x fault  "
                 "! two inside at once")
    return "\n".join(lines)


def svg(history: History, width: int = 960, title: str = "") -> str:
    """The diagram as a standalone SVG document."""
    items = bars(history)
    lo, hi = _window(items)
    left, lane_h, row_h = 170, 18, 22
    scale = (width - left - 20) / (hi - lo)
    rows: list[tuple[str, str]] = []
    for b in sorted(items, key=lambda b: (b.lane, b.kind != "pause", b.start)):
        key = (b.lane, b.row if b.kind in ("hold", "cs") else "faults")
        if key not in rows:
            rows.append(key)
    height = 60 + row_h * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="monospace" font-size="12">',
             f'<text x="10" y="18" font-size="14">{html.escape(title)}</text>']
    colors = {"hold": "#9ecae1", "cs": "#3182bd", "pause": "#fdd0a2", "fault": "#e6550d"}

    def x(t: float) -> float:
        return left + (t - lo) * scale

    for start, end in overlaps(items):
        parts.append(f'<rect x="{x(start):.1f}" y="30" width="{max(x(end) - x(start), 1):.1f}" '
                     f'height="{row_h * len(rows) + 10}" fill="#fcbba1" opacity="0.6">'
                     '<title>two critical sections at once</title></rect>')
    for i, (lane, row) in enumerate(rows):
        y = 40 + i * row_h
        parts.append(f'<text x="10" y="{y + 13}">{html.escape(lane)} {html.escape(row)}</text>')
        for b in items:
            key = (b.lane, b.row if b.kind in ("hold", "cs") else "faults")
            if key != (lane, row):
                continue
            h = lane_h if b.kind != "cs" else lane_h - 8
            dy = 0 if b.kind != "cs" else 4
            tip = f"{b.kind} {b.label} {b.start:.1f}-{b.end:.1f} ms"
            parts.append(f'<rect x="{x(b.start):.1f}" y="{y + dy}" '
                         f'width="{max(x(b.end) - x(b.start), 2):.1f}" height="{h}" '
                         f'fill="{colors[b.kind]}"><title>{html.escape(tip)}</title></rect>')
    y_axis = 45 + row_h * len(rows)
    parts.append(f'<text x="{left}" y="{y_axis + 12}">{lo:.0f} ms</text>')
    parts.append(f'<text x="{width - 90}" y="{y_axis + 12}">{hi:.0f} ms</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def html_page(history: History, title: str, story: str) -> str:
    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<h1>{html.escape(title)}</h1><pre>{html.escape(story)}</pre>"
            f"{svg(history, title=title)}")
