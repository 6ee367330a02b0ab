"""A handler's counterexample replayed on a real ``redis-server`` with the same library code.

Real time, real sockets, real uuids: the coordinator of ``sim.real.cluster``
runs the scenario's load and faults (a pause is SIGSTOP of the holder's
process) and each app server is ``sim.aio.real_worker`` running the handler.
The real history is judged by the same checkers; the ground-truth ones (which
read the simulated Redis's log) and ``no-phantom-hold`` have no evidence there.
A violation that depends only on Redis-visible timing (a pause longer than the
lease) reproduces; one that sits on a sub-millisecond edge may not, and then
the answer is an honest "no". Delays and partitions act on each app server's
link to Redis at a relay (``sim.real.relay``); clock steps are refused.
``compare_handler_runs`` is ``run --handler --real-redis``: one scenario, both
worlds, figures and verdicts side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from models.checkers import Verdicts, check_all
from models.checkers.library import check_held_until_release
from models.faults import describe
from models.history import History, Op, format_ms
from models.scenario import ScenarioError
from sim.aio.runner import LibraryRun, judge, run_handler
from sim.real.cluster import ClusterError, refuse_for_real, run_real
from sim.search import counterexample


def _line(op: Op) -> str:
    value = "" if op.value is None else f" {op.value!r}"
    return f"{format_ms(round(op.time, 3))} {op.process} {op.type} {op.f}{value}"


PROXY = {"foreign-release": "owner-only-release"}
"""A ground-truth property's client-side stand-in in the real world (no Redis log there)."""


def judge_history(history: History) -> Verdicts:
    """What the real world can judge: the history's checkers and the library symptom."""
    return Verdicts((*check_all(history), check_held_until_release(history)))


def replay_handler_real(path: Path, *, redis_server: Path | None = None,
                        redis_url: str | None = None) -> dict[str, Any]:
    """Both worlds for one handler counterexample; the payload ``render_real_replay`` shows."""
    from sim.compare import story_ops

    try:
        cx = counterexample.load(path)
    except (counterexample.CounterexampleError, ScenarioError) as exc:
        raise ClusterError(str(exc)) from None
    prop, scenario = cx.property, cx.scenario
    simulated = run_handler(scenario)
    sim_verdict = next(v for v in judge(simulated) if v.property == prop)
    real = run_real(scenario, redis_server=redis_server, redis_url=redis_url)
    verdicts = judge_history(real.history)
    real_verdict = next(v for v in verdicts if v.property == prop)
    proxy = PROXY.get(prop)
    if real_verdict.valid is None and proxy is not None:
        stand_in = next(v for v in verdicts if v.property == proxy)
        real_verdict = replace(stand_in, summary=f"(judged by {proxy}: the real world has no "
                               f"Redis log) {stand_in.summary}")
    return {
        "file": str(path),
        "property": prop,
        "lock": f"handler {scenario.handler}",
        "time_scale": 1.0,
        "scaled": [],
        "redis_version": real.redis_version,
        "faults": [describe(f) + f" at {f.at_ms:g} ms" for f in scenario.faults],
        "arrivals_ms": list(scenario.arrivals_ms),
        "reproduced": real_verdict.valid is False,
        "simulated": {"valid": sim_verdict.valid, "story": sim_verdict.story,
                      "summary": sim_verdict.summary,
                      "ops": [_line(o) for o in story_ops(simulated.result.history)]},
        "real": {"valid": real_verdict.valid, "story": real_verdict.story,
                 "summary": real_verdict.summary, "wall_s": round(real.wall_s, 3),
                 "stock_left": real.stock_left,
                 "violated": [v.property for v in verdicts if v.valid is False],
                 "ops": [_line(o) for o in story_ops(real.history)]},
        "monitor_log": None,
    }


NOT_OBSERVED = ("attempts", "attempts_per_success")
"""Figures a real handler run cannot give: its SET NX attempts leave through redis-py
unseen (the simulator counts them on the wire)."""


def _verdicts(verdicts: Any) -> list[dict[str, Any]]:
    return [{"property": v.property, "valid": v.valid, "summary": v.summary, "story": v.story}
            for v in verdicts]


def compare_handler_runs(run: LibraryRun, *, redis_server: Path | None = None,
                         redis_url: str | None = None,
                         progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """The scenario of a simulated handler run, run again on real processes and a real
    Redis with the same library code: both worlds' figures and verdicts (the shape of
    ``sim.compare.compare_runs``, which ``render_comparison`` shows)."""
    from sim.compare import figures

    scenario = run.result.scenario
    refuse_for_real(scenario, redis_url=redis_url)
    real = run_real(scenario, redis_server=redis_server, redis_url=redis_url,
                    progress=progress)
    real_figures = figures(real.history, None)
    real_figures.update(dict.fromkeys(NOT_OBSERVED))
    return {
        "scenario": scenario.to_dict(),
        "label": f"handler {run.handler}",
        "redis_version": real.redis_version,
        "simulated": {"figures": figures(run.result.history, None),
                      "verdicts": _verdicts(judge(run).by_priority())},
        "real": {"figures": real_figures, "wall_s": round(real.wall_s, 3),
                 "completed_requests": real.completed, "stock_left": real.stock_left,
                 "verdicts": _verdicts(judge_history(real.history).by_priority())},
        "monitor_log": None,
    }
