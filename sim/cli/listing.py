"""``locksim list``: what this locksim knows, read from the registries themselves."""

from __future__ import annotations

import argparse
import json
from typing import Any

from models.topology import TOPOLOGIES as TOPOLOGIES  # the Redis topologies (--redis)


def _first_line(doc: str | None) -> str:
    lines = [line.strip() for line in (doc or "").strip().splitlines()]
    return lines[0].replace("``", "") if lines else ""


def catalogue() -> dict[str, list[dict[str, Any]]]:
    """Locks, fault kinds, properties and topologies, each with one line of meaning."""
    from models.checkers import CHECKERS, PRIORITY
    from models.faults import DRAWS, FAULTS, TRIGGER_DOCS, TRIGGER_EVENTS, TRIGGER_FORMS
    from models.locks import LOCKS, make_lock

    locks = []
    for name in sorted(LOCKS):
        try:
            design = make_lock(name)
            doc = _first_line(type(design).__doc__)
            if getattr(design, "fenced", False):
                doc = "The report's pub/sub lock with a fence the database checks."
        except Exception as exc:  # a user's factory that needs parameters
            doc = f"(cannot build with defaults: {type(exc).__name__})"
        locks.append({"name": name, "doc": doc})
    faults = [{"name": k.name, "spec": k.spec, "aliases": list(k.aliases),
               "triggers": list(k.triggers), "doc": _first_line(k.type.__doc__)}
              for k in FAULTS.values()]
    draws = [{"name": k.name, "spec": f"--faults {k.name}", "doc": k.doc}
             for k in DRAWS.values()]
    triggers = []
    for e in TRIGGER_EVENTS:
        takers = [k.name for k in FAULTS.values() if e in k.triggers]
        triggers.append({"name": e, "spec": f"@{TRIGGER_FORMS[e]}", "kinds": takers,
                         "doc": f"{TRIGGER_DOCS[e]} ({', '.join(takers)})"})
    order = sorted(CHECKERS, key=lambda p: PRIORITY.index(p) if p in PRIORITY else 99)
    properties = [{"name": p, "doc": _first_line(CHECKERS[p].__doc__)} for p in order]
    return {"locks": locks, "faults": faults, "fault draws": draws, "triggers": triggers,
            "properties": properties,
            "topologies": [{"name": n, "doc": d} for n, d in TOPOLOGIES.items()]}


def cmd_list(args: argparse.Namespace) -> int:
    from sim.cli.common import import_plugins

    import_plugins(args.imports)
    data = catalogue()
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    for section, items in data.items():
        print(f"{section}:")
        width = max(len(i.get("spec") or i["name"]) for i in items)
        for item in items:
            print(f"  {(item.get('spec') or item['name']):<{width}}  {item['doc']}")
    return 0


def fault_help() -> str:
    """The ``--fault`` forms, from the registry: the help text can never drift from it."""
    from models.faults import FAULTS

    return ", ".join(k.spec for k in FAULTS.values())


def fault_kinds_help() -> str:
    from models.faults import DRAWS, FAULTS

    return ", ".join(k.name + (f" (or {'/'.join(k.aliases)})" if k.aliases else "")
                     for k in (*FAULTS.values(), *DRAWS.values()))


def add_parser(sub: Any) -> None:
    list_p = sub.add_parser("list", help="the lock designs, fault kinds, properties and "
                            "topologies this locksim knows",
                            description="Lock designs (with --import: yours too), fault kinds "
                            "with their --fault spellings, properties and what each means, "
                            "Redis topologies.")
    list_p.add_argument("--json", action="store_true", help="print JSON")
    list_p.add_argument("--import", dest="imports", action="append", metavar="MODULE")
    list_p.set_defaults(func=cmd_list)
