"""The ``locksim`` command line.

``locksim run`` with no arguments runs the field report's scenario on the
embedded defaults and prints its figures beside the report's table 7.1.
Every exit status has one meaning (``EXIT_CODES``); bad input gets one clear
line on stderr, an unexpected failure one line naming a log file with the
traceback, never a traceback on the terminal unless ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from sim.cli import check, listing, monitor, replay, run, sweep
from sim.cli.common import UsageError
from sim.cli.run import parse_fault
from sim.runtime.loop import BusyLoop

COMMANDS = (run.add_parser, check.add_parser, replay.add_parser, sweep.add_parser,
            replay.add_regress_parser, monitor.add_parser, listing.add_parser)
"""Each adds its subcommands, in the order ``locksim --help`` lists them."""

EXIT_CODES = (
    (0, "every property held (replay: the violation reproduced)"),
    (1, "a property was violated, or a replay did not reproduce"),
    (2, "bad usage or input: one line on stderr, nothing done"),
    (3, "internal error: one line on stderr, the traceback in a log file"),
)
"""The one meaning of each exit status, as ``--help`` and the README list them."""


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, exit 2, in every subcommand."""

    def error(self, message: str) -> NoReturn:
        first = message.splitlines()[0] if message else "bad usage"
        self.exit(2, f"{self.prog}: error: {first} (see {self.prog} --help)\n")


def _epilog() -> str:
    return "exit status:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES)


def build_parser() -> argparse.ArgumentParser:
    from sim import __version__

    parser = Parser(
        prog="locksim",
        description="Deterministic simulator and model checker for Redis distributed locks.",
        epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"locksim {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an internal error on the terminal")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for add in COMMANDS:
        add(sub)
    return parser


def _log_internal_error(exc: BaseException) -> Path | None:
    """Write the traceback where a bug report can pick it up; None if even that fails."""
    try:
        log = Path(tempfile.gettempdir()) / f"locksim-error-{time.strftime('%Y%m%d-%H%M%S')}.log"
        with log.open("a") as fh:
            fh.write(f"locksim {' '.join(sys.argv[1:])}\n")
            traceback.print_exception(exc, file=fh)
        return log
    except OSError:
        return None


class Terminated(KeyboardInterrupt):
    """SIGTERM (a killed parent, ``kill``, a CI timeout): the same way out as Ctrl-C, so
    every server and worker is stopped and what was found is saved; exit 143."""


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[dict[str, bool]]:
    """While the command runs, SIGTERM raises ``Terminated`` in this process (a forked
    child that inherited the handler dies of the signal as before)."""
    state = {"terminated": False}
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    pid = os.getpid()

    def on_term(signum: int, frame: object) -> None:
        if os.getpid() != pid:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        state["terminated"] = True
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield state
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    with _sigterm_as_interrupt() as state:
        code = _main(argv)
    if state["terminated"]:
        return 143
    return code


def _main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args))
    except UsageError as exc:
        print(f"locksim: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BusyLoop as exc:  # a design that never waits: its one line, not a hang
        print(f"locksim: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("locksim: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("locksim: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except BrokenPipeError:  # `locksim list | head`: the reader left; nothing to report
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.filename is None and exc.errno in _DISK_FULL:  # --monitor-log /dev/full
            print(f"locksim: error: cannot write the output: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
        if exc.filename is None:  # not a path the user gave: treat as a bug below
            return _internal(exc, debug)
        # a path the doors could not foresee (a full disk, a read-only mount): the user's
        print(f"locksim: error: cannot use {exc.filename}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: one line, the traceback in a file
        return _internal(exc, debug)


def _internal(exc: BaseException, debug: bool) -> int:
    """A bug: one line, the traceback in a file (or on the terminal with --debug)."""
    if debug:
        traceback.print_exception(exc)
    log = _log_internal_error(exc)
    where = f"details in {log}" if log else "no log file could be written"
    print(f"locksim: internal error: {type(exc).__name__}: {_one_line(exc)} "
          f"({where}; rerun with --debug for the traceback)", file=sys.stderr)
    return 3


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


__all__ = ["EXIT_CODES", "UsageError", "build_parser", "main", "parse_fault"]


if __name__ == "__main__":
    sys.exit(main())
