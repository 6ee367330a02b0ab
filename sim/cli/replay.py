"""``locksim replay``, ``show`` and ``regress``: what starts from a counterexample file."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from models.scenario import ScenarioError
from sim.cli.common import (
    UsageError,
    add_real_options,
    import_plugins,
    only_with,
    output_dir,
    output_file,
    positive,
    real_options,
)


def load_file(path: Path, imports: list[str] | None) -> Any:
    """Read a counterexample file, importing first the modules it (and ``--import``) names;
    a newer writer's file is warned about in one line."""
    from sim.search import counterexample

    try:
        data = counterexample.read_json(path, counterexample.CounterexampleError)
        import_plugins([*(imports or ()), *counterexample.imports_of(data)])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", counterexample.NewerCounterexampleWarning)
            cx = counterexample.from_dict(data, str(path))
    except (counterexample.CounterexampleError, ScenarioError, ValueError) as exc:
        raise UsageError(" ".join(str(exc).split())) from None
    for w in caught:
        print(f"locksim: warning: {w.message}", file=sys.stderr)
    return cx


def _replayed(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Read a counterexample file, run it, and judge its property."""
    from models.checkers import check_all
    from sim.world import run

    cx = load_file(Path(args.file), args.imports)
    if cx.scenario.handler:  # found in the asyncio tier: replay it there
        from sim.cli.library import replayed

        return (cx, *replayed(cx))
    try:
        result = run(cx.scenario)
    except (ScenarioError, ValueError) as exc:
        raise UsageError(f"{args.file}: {' '.join(str(exc).split())}") from None
    verdict = next(iter(check_all(result.history, [cx.property], truth=result)), None)
    return cx, result, verdict


def cmd_replay(args: argparse.Namespace) -> int:
    from sim.views.report import render_replay, replay_payload

    only_with(args, "--real-redis", ("--redis-server", "--redis-url", "--time-scale",
                                     "--monitor-log"))
    positive(args.time_scale, "--time-scale")
    if args.time_scale is not None and args.time_scale > 1000:
        raise UsageError(f"--time-scale must be at most 1000 (a real second per simulated "
                         f"millisecond), not {args.time_scale:g}")
    output_file(args.monitor_log, "--monitor-log")
    if args.real_redis:
        args.time_scale = 1.0 if args.time_scale is None else args.time_scale
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

    cx = load_file(Path(args.file), args.imports)  # checked, its imports loaded
    args.imports = [*(args.imports or ()), *(m for m in cx.imports
                                             if m not in (args.imports or ()))]
    try:
        if cx.scenario.handler:  # the asyncio tier's real-world half (sim/aio/real_replay.py)
            from sim.aio.real_replay import replay_handler_real

            if args.time_scale != 1.0 or args.monitor_log:
                raise UsageError("--time-scale and --monitor-log are not supported for "
                                 "handler counterexamples (the handler's own timeouts "
                                 "are real seconds)")
            payload = replay_handler_real(Path(args.file), **{
                k: v for k, v in real_options(args).items() if k in ("redis_server", "redis_url")})
        else:
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

    if args.width < 20 or args.width > 10000:
        raise UsageError(f"--width must be 20..10000, not {args.width}")
    out = output_file(args.output, "--output")
    if out is not None and out.suffix.lower() not in (".svg", ".html", ".htm"):
        raise UsageError(f"--output must end in .svg or .html, not {out.name!r}")
    cx, result, verdict = _replayed(args)
    title = f"{cx.lock}: {cx.property}"
    picture = diagram.Diagram.from_run(result, [verdict] if verdict else [], title=title)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(picture.svg() if out.suffix.lower() == ".svg" else picture.html())
        print(f"wrote {out}")
    else:
        try:
            print(picture.text(width=args.width))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return 0


def cmd_regress(args: argparse.Namespace) -> int:
    """Keep a seed only once it is known to replay: same trace hash, the stated verdict;
    an existing seed with another expectation is replaced only with ``--force``."""
    from sim.search import counterexample

    folder = output_dir(args.dir, "--dir")
    cx, result, verdict = _replayed(args)
    cx = cx.expecting(args.expect)
    target = folder / Path(args.file).name
    if target.exists() and target.resolve() != Path(args.file).resolve() and not args.force:
        try:
            old = counterexample.load(target)
        except counterexample.CounterexampleError:
            raise UsageError(f"{target} exists and is not a counterexample; --force to "
                             "replace it") from None
        if (old.expect or "violated") != args.expect or old.trace_hash != cx.trace_hash:
            raise UsageError(f"{target} already expects {old.expect or 'violated'} of trace "
                             f"{old.trace_hash[:12]}; --force to replace it")
    if result.trace_hash != cx.trace_hash:
        print(f"locksim regress: did not reproduce: {args.file} replays with trace hash "
              f"{result.trace_hash[:16]}, not {cx.trace_hash[:16]}; not kept", file=sys.stderr)
        return 1
    got = "violated" if verdict is not None and verdict.valid is False else "holds"
    if got != args.expect:
        print(f"locksim regress: did not reproduce: {cx.property} {got} on replay, not "
              f"{args.expect}; not kept", file=sys.stderr)
        return 1
    counterexample.write_json(target, cx.to_dict())
    print(f"kept {target} (expect {args.expect}, trace {cx.trace_hash[:12]} replayed); "
          "`pytest properties/` replays it")
    return 0


def add_parser(sub: Any) -> None:
    replay_p = sub.add_parser("replay", help="replay a counterexample file and tell its story",
                              description="Exit 0 when the violation reproduces with the "
                              "same trace hash (--real-redis: on the real server), 1 when it "
                              "does not, 2 for a bad file or a server that cannot start.")
    replay_p.add_argument("file")
    replay_p.add_argument("--json", action="store_true")
    add_real_options(replay_p)
    replay_p.add_argument("--time-scale", type=float, default=None, metavar="X",
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
    add_p = regress_sub.add_parser(
        "add", help="replay a counterexample, then copy it into the seeds folder",
        description="The file is replayed first: kept only if it gives the same trace hash "
        "and the --expect verdict (exit 1 'did not reproduce' otherwise). Exit 2 for a bad "
        "file or a seed of the same name that expects something else (--force replaces it).")
    add_p.add_argument("file")
    add_p.add_argument("--expect", choices=("violated", "holds"), default="violated",
                       help="the verdict every test run must give (default violated)")
    add_p.add_argument("--dir", default="properties/regressions",
                       help="the seeds folder (default properties/regressions)")
    add_p.add_argument("--force", action="store_true",
                       help="replace a seed of the same name that expects something else")
    add_p.add_argument("--import", dest="imports", action="append", metavar="MODULE")
    add_p.set_defaults(func=cmd_regress)
