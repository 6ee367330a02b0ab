"""The ``locksim`` command line.

``locksim run`` with no arguments runs the field report's scenario on the
embedded defaults and prints its figures beside the report's table 7.1.
Bad input gets one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sim.cli import check, monitor, replay, run, sweep
from sim.cli.common import UsageError
from sim.cli.run import parse_fault
from sim.runtime.loop import BusyLoop

COMMANDS = (run.add_parser, check.add_parser, replay.add_parser, sweep.add_parser,
            replay.add_regress_parser, monitor.add_parser)
"""Each adds its subcommands, in the order ``locksim --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="locksim",
        description="Deterministic simulator and model checker for Redis distributed locks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"locksim: error: {exc}", file=sys.stderr)
        return 2
    except BusyLoop as exc:  # a design that never waits: its one line, not a hang
        print(f"locksim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("locksim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["UsageError", "build_parser", "main", "parse_fault"]


if __name__ == "__main__":
    sys.exit(main())
