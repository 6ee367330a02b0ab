"""How a run is shown: a JSON payload, and the same as tables for a person."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from models.checkers import Verdict
    from models.metrics import Metrics
    from sim.search.counterexample import Counterexample
    from sim.world import RunResult


def _split_text(split: dict[str, int]) -> str:
    total = sum(split.values()) or 1
    counts = " / ".join(str(v) for v in split.values())
    shares = " / ".join(f"{100 * v / total:.0f}%" for v in split.values())
    return f"{counts} ({shares})"


def struck(result: RunResult) -> list[dict[str, Any]]:
    """Each scheduled fault with where and when it really struck, from the history's
    nemesis events: a fault aimed at ``holder`` with no holder waits for the next
    acquire, so its scheduled time says little. ``node``/``time`` None: it never struck."""
    from models.faults import describe, kind_of
    from models.history import NEMESIS

    events = [op for op in result.history if op.process == NEMESIS]
    used: set[int] = set()
    out: list[dict[str, Any]] = []
    for fault in sorted(result.scenario.faults, key=lambda f: f.at_ms):
        first = kind_of(fault).events[0]
        hit = next((op for op in events if op.index not in used and op.f == first
                    and op.time >= fault.at_ms - 1e-9
                    and (fault.node in ("holder", op.node))), None)
        if hit is not None:
            used.add(hit.index)
        node = hit.node if hit is not None else None
        line = describe(fault).replace(fault.node, node or fault.node, 1)
        trigger = getattr(fault, "trigger", None)
        if hit is None:
            why = (" (its protocol event never came)" if trigger is not None
                   else " (nobody acquired the lock after it)" if fault.node == "holder" else "")
            line = f"{describe(fault)}: scheduled at {fault.at_ms:g} ms, never struck{why}"
        elif trigger is not None:
            line = f"at {hit.time:.3f} ms: {line} (armed at {fault.at_ms:g} ms)"
        elif abs(hit.time - fault.at_ms) > 1e-6:
            line = (f"at {hit.time:.3f} ms: {line} (scheduled at {fault.at_ms:g} ms, "
                    f"deferred to the next acquire)")
        else:
            line = f"at {hit.time:g} ms: {line}"
        out.append({"fault": fault.kind, "aimed_at": fault.node, "scheduled_ms": fault.at_ms,
                    "node": node, "time_ms": hit.time if hit is not None else None,
                    "line": line})
    return out


def run_payload(result: RunResult, m: Metrics, verdicts: tuple[Verdict, ...], wall_s: float,
                report: dict[str, Any], publish: int | None = None) -> dict[str, Any]:
    """Everything ``locksim run`` says, as plain JSON data (``publish``: PUBLISH commands
    Redis ran, None for a design that never publishes)."""
    metrics = m.as_dict()
    bad = [v.property for v in verdicts if v.valid is False]
    return {
        "scenario": result.scenario.to_dict(),
        "trace_hash": result.trace_hash,
        "simulated_ms": result.end_ms,
        "wall_s": round(wall_s, 3),
        "completed_requests": result.completed,
        "stock_left": result.stock_left,
        "redis_commands": result.redis_commands,
        "redis_counts": result.redis_counts,
        "metrics": metrics,
        "publish_commands": publish,
        "faults": struck(result),
        "violated": bad,
        "report": report,
        "verdicts": [
            {"property": v.property, "valid": v.valid, "summary": v.summary, "story": v.story}
            for v in verdicts
        ],
    }


def fmt(value: Any, digits: int = 1) -> str:
    """A figure for a table: thousands separated, ``-`` when absent."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_run(payload: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    m = payload["metrics"]
    r = payload["report"]
    sc = payload["scenario"]
    title = (f"lock {sc['lock']}, {sc['servers']} servers, {sc['vus']} VUs, "
             f"{sc['requests']} requests, seed {sc['seed']}")
    faults = payload.get("faults") or []
    title += ("\nfaults injected: " + "; ".join(f["line"] for f in faults) if faults
              else "\nfaults injected: none (a fault-free run proves little: see locksim check)")
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    table.add_column("report (table 7.1)", justify="right")
    table.add_column("simulated", justify="right")
    rows = [
        ("coupons issued", r["issued"], m.get("issued")),
        ("duration (s)", r["duration_s"], m.get("duration_ms", 0) / 1000.0),
        ("throughput (req/s)", r["throughput_rps"], m.get("throughput_rps")),
        ("lock hold mean (ms)", r["hold_mean_ms"], m.get("hold_mean_ms")),
        ("lock hold min (ms)", r["hold_min_ms"], m.get("hold_min_ms")),
        ("lock hold max (ms)", r["hold_max_ms"], m.get("hold_max_ms")),
        ("SET NX attempts", r["set_nx_attempts"], m.get("attempts")),
        ("attempts per success", r["attempts_per_success"], m.get("attempts_per_success")),
        ("PUBLISH on release", r["publish"], payload.get("publish_commands")),
        ("split between servers", r["split"], _split_text(m.get("acquires_by_node") or {})),
        ("wait p50 / p99 (ms)", "-",
         f"{fmt(m.get('wait_p50_ms'))} / {fmt(m.get('wait_p99_ms'))}"),
    ]
    for name, want, got in rows:
        table.add_row(name, fmt(want), fmt(got))
    console.print(table)
    verdicts = Table(title="properties", title_justify="left")
    verdicts.add_column("property")
    verdicts.add_column("verdict")
    verdicts.add_column("summary")
    for v in payload["verdicts"]:
        mark = {True: "[green]holds[/]", False: "[red]VIOLATED[/]", None: "[dim]n/a[/]"}[v["valid"]]
        verdicts.add_row(v["property"], mark, v["summary"])
    console.print(verdicts)
    bad = [v["property"] for v in payload["verdicts"] if v["valid"] is False]
    console.print(f"[bold red]verdict: VIOLATED ({', '.join(bad)})[/]" if bad else
                  "[bold green]verdict: every property held[/]")
    for v in payload["verdicts"]:
        if v["valid"] is False and v["story"]:
            console.print(f"[bold red]{v['property']}[/]: {v['story']}")
    console.print(
        f"simulated {payload['simulated_ms'] / 1000:.2f} s in {payload['wall_s']:.2f} s wall; "
        f"{payload['redis_commands']:,} Redis commands; trace {payload['trace_hash'][:16]}"
    )


# -- counterexamples ---------------------------------------------------------------------------


def replay_payload(file: str, cx: Counterexample, result: RunResult,
                   verdict: Verdict | None) -> dict[str, Any]:
    """What ``locksim replay`` says of one simulated replay, as plain JSON data."""
    return {"file": file, "property": cx.property,
            "reproduced": verdict is not None and verdict.valid is False,
            "same_trace": result.trace_hash == cx.trace_hash, "trace_hash": result.trace_hash,
            "expected_trace_hash": cx.trace_hash, "story": verdict.story if verdict else "",
            "faults": struck(result)}


def render_replay(cx: Counterexample, payload: dict[str, Any],
                  console: Console | None = None) -> None:
    """The headline, each fault where and when it struck in the replay (not when it was
    scheduled), the replay's story, then the verdict."""
    from rich.text import Text

    console = console or Console()
    headline = cx.headline()
    rest = [f"  {f['line']}" for f in payload.get("faults", [])]
    rest.append(payload["story"] or "(the property held this time)")
    text = Text(headline)
    text.highlight_words([cx.property, cx.lock], "bold")
    console.print(text)
    for line in rest:
        console.print(line, markup=False)
    same = payload["same_trace"]
    console.print(("[green]reproduced[/]" if payload["reproduced"] else "[red]NOT reproduced[/]")
                  + (", same trace hash" if same else
                     f", trace hash differs ({payload['trace_hash'][:16]} vs "
                     f"{payload['expected_trace_hash'][:16]})"))


# -- both worlds ------------------------------------------------------------------------------

FIGURES = (
    ("coupons issued", "issued", 0),
    ("duration (s)", "duration_s", 2),
    ("throughput (req/s)", "throughput_rps", 1),
    ("SET NX attempts", "attempts", 0),
    ("attempts per success", "attempts_per_success", 2),
    ("lock hold mean (ms)", "hold_mean_ms", 2),
    ("lock hold min (ms)", "hold_min_ms", 2),
    ("lock hold max (ms)", "hold_max_ms", 2),
    ("wait p50 (ms)", "wait_p50_ms", 1),
    ("wait p99 (ms)", "wait_p99_ms", 1),
    ("PUBLISH on release", "publishes", 0),
    ("split between servers", "split", 0),
)


def render_real_replay(payload: dict[str, Any], console: Console | None = None) -> None:
    """Both worlds' story ops side by side, both verdicts, and whether it reproduced."""
    console = console or Console()
    x = payload["time_scale"]
    console.print(f"[bold]{payload['property']}[/] with lock [bold]{payload['lock']}[/], "
                  f"replayed on a real redis-server {payload['redis_version']}")
    for line in payload["faults"]:
        console.print(f"  fault: {line}")
    for line in payload["scaled"]:
        console.print(f"  {line}")
    table = Table(title="the story's ops, both worlds" + (
        f" (real times divided by {x:g})" if x != 1 else ""), title_justify="left")
    table.add_column("simulated (ms)", overflow="fold")
    table.add_column("real redis (ms)", overflow="fold")
    sim_ops, real_ops = payload["simulated"]["ops"], payload["real"]["ops"]
    for i in range(max(len(sim_ops), len(real_ops))):
        table.add_row(sim_ops[i] if i < len(sim_ops) else "",
                      real_ops[i] if i < len(real_ops) else "")
    console.print(table)
    for world in ("simulated", "real"):
        part = payload[world]
        mark = {True: "[green]holds[/]", False: "[red]VIOLATED[/]", None: "[dim]n/a[/]"}
        console.print(f"[bold]{world}[/]: {payload['property']} {mark[part['valid']]}: "
                      f"{part['summary']}")
        if part["story"]:
            console.print("  " + part["story"].replace("\n", "\n  "))
    others = [p for p in payload["real"]["violated"] if p != payload["property"]]
    if others:
        console.print(f"real run also violated: {', '.join(others)}")
    if payload["monitor_log"]:
        console.print(f"MONITOR capture: {payload['monitor_log']}")
    if payload["reproduced"]:
        console.print("reproduced: [green]yes[/]")
    elif payload["simulated"]["valid"] is not False:
        console.print("reproduced: [red]no[/] (the simulator does not violate it on this file "
                      "either)")
    else:
        console.print("reproduced: [red]no[/] (real timing did not hit the simulated window: "
                      "a shrunk schedule can sit on a knife edge real jitter misses; try "
                      "--time-scale 1, or a counterexample with more margin)")


def render_comparison(payload: dict[str, Any], console: Console | None = None,
                      worlds: tuple[str, ...] = ("simulated", "real")) -> None:
    """The figures of one scenario in both worlds, then the violations of ``worlds``."""
    console = console or Console()
    sc = payload["scenario"]
    label = payload.get("label") or f"lock {sc['lock']}"
    table = Table(title=f"{label}, {sc['servers']} servers, {sc['vus']} VUs, "
                        f"{sc['requests']} requests: simulator vs real redis-server "
                        f"{payload['redis_version']}", title_justify="left")
    table.add_column("figure")
    table.add_column("simulated", justify="right")
    table.add_column("real", justify="right")
    sim_f, real_f = payload["simulated"]["figures"], payload["real"]["figures"]
    for label, key, digits in FIGURES:
        table.add_row(label, fmt(sim_f.get(key), digits), fmt(real_f.get(key), digits))
    console.print(table)
    for world in worlds:
        bad = [v for v in payload[world]["verdicts"] if v["valid"] is False]
        if bad:
            for v in bad:
                console.print(f"[bold red]{world}: {v['property']} VIOLATED[/]: {v['story']}")
        else:
            console.print(f"{world}: every property holds")
    if payload["monitor_log"]:
        console.print(f"MONITOR capture: {payload['monitor_log']}")
