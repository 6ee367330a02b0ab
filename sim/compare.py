"""The two worlds side by side: a counterexample replayed on a real Redis, and figures.

``replay_real`` runs a simulated counterexample's scenario again on real
processes (``sim.real.cluster``), judges the real history with the same checker,
and says whether the violation reproduced. A shrunk counterexample can sit on
a knife edge (a pause a millisecond longer than the TTL) that real jitter
does not reproduce reliably: then the answer is an honest "no", with both
stories to show why. ``compare_runs`` runs one fault-free scenario in both
worlds and puts the figures of ``models.metrics`` side by side (the tables: ``sim.views.report``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.checkers import check_all
from models.faults import FAULT_EVENTS, describe
from models.history import History, Op, format_ms
from models.metrics import metrics, publish_commands
from models.scenario import Scenario, ScenarioError
from sim.real.cluster import ClusterError, RealResult, run_real
from sim.search import counterexample

# what a side-by-side shows: the story's ops, not every SET NX retry
STORY_FS = frozenset({"request", "acquire", "enter", "leave", "read", "issue", "release",
                      "end"}) | FAULT_EVENTS


def _verdict_dict(v: Any) -> dict[str, Any]:
    return {"property": v.property, "valid": v.valid, "summary": v.summary, "story": v.story}


def story_ops(history: History) -> list[Op]:
    """The ops a person reads: requests, the lock, the critical section, the faults."""
    shown_invokes = ("request", "read", "issue", "release")
    return [op for op in history
            if op.f in STORY_FS and (op.type != "invoke" or op.f in shown_invokes)]


def _short(value: object) -> object:
    """Tokens cut to 8 characters: the story needs to tell them apart, not read them."""
    if isinstance(value, str) and len(value) == 36 and value.count("-") == 4:
        return value[:8]
    if isinstance(value, tuple):
        return tuple(_short(v) for v in value)
    return value


def _line(op: Op, scale: float = 1.0) -> str:
    value = "" if op.value is None else f" {_short(op.value)!r}"
    return f"{format_ms(round(op.time / scale, 3))} {op.process} {op.type} {op.f}{value}"


def replay_real(path: Path, *, time_scale: float = 1.0, redis_server: Path | None = None,
                redis_url: str | None = None, monitor_log: Path | None = None,
                imports: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run a counterexample in both worlds; the payload says whether it reproduced.

    Raises ``ClusterError`` (one line) for a file or server that cannot be used.
    """
    from sim.world import run

    try:
        cx = counterexample.load(path)
    except (counterexample.CounterexampleError, ScenarioError) as exc:
        raise ClusterError(str(exc)) from None
    prop, scenario = cx.property, cx.scenario
    simulated = run(scenario)
    sim_verdict = check_all(simulated.history, [prop])[0]
    real = run_real(scenario, time_scale=time_scale, redis_server=redis_server,
                    redis_url=redis_url, monitor_log=monitor_log, imports=imports)
    verdicts = check_all(real.history)
    real_verdict = next(v for v in verdicts if v.property == prop)
    return {
        "file": str(path),
        "property": prop,
        "lock": scenario.lock,
        "time_scale": time_scale,
        "scaled": list(real.scaled),
        "redis_version": real.redis_version,
        "faults": [describe(f) + f" at {f.at_ms:g} ms" for f in scenario.faults],
        "arrivals_ms": list(scenario.arrivals_ms),
        "reproduced": real_verdict.valid is False,
        "simulated": {"valid": sim_verdict.valid, "story": sim_verdict.story,
                      "summary": sim_verdict.summary,
                      "ops": [_line(o) for o in story_ops(simulated.history)]},
        "real": {"valid": real_verdict.valid, "story": real_verdict.story,
                 "summary": real_verdict.summary, "wall_s": round(real.wall_s, 3),
                 "stock_left": real.stock_left,
                 "violated": [v.property for v in verdicts if v.valid is False],
                 "ops": [_line(o, time_scale) for o in story_ops(real.history)]},
        "monitor_log": str(monitor_log) if monitor_log else None,
    }


# -- fault-free figures in both worlds ---------------------------------------------------------


def figures(history: History, publishes: int | None) -> dict[str, Any]:
    """The fault-free figures; ``publishes`` is Redis's own PUBLISH count (None: "-")."""
    m = metrics(history).as_dict()
    m["publishes"] = publishes
    m["duration_s"] = m["duration_ms"] / 1000.0
    split = m["acquires_by_node"]
    total = sum(split.values()) or 1
    m["split"] = (" / ".join(str(v) for v in split.values()) + " ("
                  + " / ".join(f"{100 * v / total:.0f}%" for v in split.values()) + ")")
    return m


def compare_runs(scenario: Scenario, *, redis_server: Path | None = None,
                 redis_url: str | None = None, monitor_log: Path | None = None,
                 imports: tuple[str, ...] = (),
                 progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """One scenario in the simulator and on a real Redis: figures and verdicts of both."""
    from sim.world import run

    simulated = run(scenario, monitor=True)  # the MONITOR lines count script PUBLISHes
    sim_publish = publish_commands(argv for *_, argv in simulated.monitor or ())
    real: RealResult = run_real(scenario, redis_server=redis_server, redis_url=redis_url,
                                monitor_log=monitor_log, imports=imports, progress=progress)
    sim_v = check_all(simulated.history)
    real_v = check_all(real.history)
    return {
        "scenario": scenario.to_dict(),
        "redis_version": real.redis_version,
        "simulated": {"figures": figures(simulated.history, sim_publish),
                      "verdicts": [_verdict_dict(v) for v in sim_v]},
        "real": {"figures": figures(real.history,
                                     None if sim_publish is None else real.publishes),
                 "wall_s": round(real.wall_s, 3),
                 "verdicts": [_verdict_dict(v) for v in real_v]},
        "monitor_log": str(monitor_log) if monitor_log else None,
    }
