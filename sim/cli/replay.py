"""``locksim replay``, ``show`` and ``regress``: what starts from a counterexample file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from models.scenario import ScenarioError
from sim.cli.common import UsageError, add_real_options, import_plugins, real_options


def _replayed(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Read a counterexample file, run it, and judge its property."""
    from models.checkers import check_all
    from sim.search import counterexample
    from sim.world import run

    import_plugins(args.imports)
    try:
        cx = counterexample.load(Path(args.file))
        result = run(cx.scenario)
    except (counterexample.CounterexampleError, ScenarioError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    verdict = next(iter(check_all(result.history, [cx.property], truth=result)), None)
    return cx, result, verdict


def cmd_replay(args: argparse.Namespace) -> int:
    from sim.views.report import render_replay, replay_payload

    if args.real_redis:
        return cmd_replay_real(args)

    cx, result, verdict = _replayed(args)
    payload = replay_payload(args.file, cx, result, verdict)
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        render_replay(cx, payload)
    return 0 if payload["reproduced"] and payload["same_trace"] else 1


def cmd_replay_real(args: argparse.Namespace) -> int:
    from sim.compare import replay_real
    from sim.real.cluster import ClusterError
    from sim.views.report import render_real_replay

    import_plugins(args.imports)
    try:
        payload = replay_real(Path(args.file), time_scale=args.time_scale,
                              **real_options(args))
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        render_real_replay(payload)
    return 0 if payload["reproduced"] else 1


def cmd_show(args: argparse.Namespace) -> int:
    from sim.views import diagram

    cx, result, verdict = _replayed(args)
    title = f"{cx.lock}: {cx.property}"
    picture = diagram.Diagram.from_run(result, [verdict] if verdict else [], title=title)
    if args.output:
        out = Path(args.output)
        if out.suffix.lower() == ".svg":
            out.write_text(picture.svg())
        elif out.suffix.lower() in (".html", ".htm"):
            out.write_text(picture.html())
        else:
            raise UsageError(f"--output must end in .svg or .html, not {out.name!r}")
        print(f"wrote {out}")
    else:
        try:
            print(picture.text(width=args.width))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return 0


def cmd_regress(args: argparse.Namespace) -> int:
    from sim.search import counterexample

    try:
        cx = counterexample.load(Path(args.file)).expecting(args.expect)
    except counterexample.CounterexampleError as exc:
        raise UsageError(str(exc)) from None
    target = counterexample.write_json(Path(args.dir) / Path(args.file).name, cx.to_dict())
    print(f"kept {target} (expect {args.expect}); `pytest properties/` replays it")
    return 0


def add_parser(sub: Any) -> None:
    replay_p = sub.add_parser("replay", help="replay a counterexample file and tell its story",
                              description="Exit 0 when the violation reproduces with the "
                              "same trace hash (--real-redis: on the real server), 1 when it "
                              "does not, 2 for a bad file or a server that cannot start.")
    replay_p.add_argument("file")
    replay_p.add_argument("--json", action="store_true")
    add_real_options(replay_p)
    replay_p.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                          help="with --real-redis: multiply every duration of the scenario "
                          "(arrivals, faults, TTL, watchdog, waits) by X (default 1)")
    replay_p.add_argument("--monitor-log", metavar="FILE",
                          help="with --real-redis: capture the server's MONITOR output")
    replay_p.add_argument("--import", dest="imports", action="append", metavar="MODULE")
    replay_p.set_defaults(func=cmd_replay)

    show_p = sub.add_parser("show", help="draw a counterexample as a space-time diagram",
                            description="Text in the terminal, or SVG/HTML with --output.")
    show_p.add_argument("file")
    show_p.add_argument("--output", "-o", help="write FILE.svg or FILE.html instead")
    show_p.add_argument("--width", type=int, default=72, help="text width (default 72)")
    show_p.add_argument("--import", dest="imports", action="append", metavar="MODULE")
    show_p.set_defaults(func=cmd_show)


def add_regress_parser(sub: Any) -> None:
    regress_p = sub.add_parser("regress", help="keep a counterexample as a regression seed")
    regress_sub = regress_p.add_subparsers(dest="regress_command", metavar="ACTION",
                                           required=True)
    add_p = regress_sub.add_parser("add", help="copy a counterexample into the seeds folder")
    add_p.add_argument("file")
    add_p.add_argument("--expect", choices=("violated", "holds"), default="violated",
                       help="the verdict every test run must give (default violated)")
    add_p.add_argument("--dir", default="properties/regressions",
                       help="the seeds folder (default properties/regressions)")
    add_p.set_defaults(func=cmd_regress)
