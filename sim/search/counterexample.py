"""A counterexample: a violating scenario as a file that replays exactly.

Every search (random swarms, exhaustive, Hypothesis) ends in one; replay,
``show``, regression seeds and the real-Redis comparison start from one. So the
format lives here, apart from any search: reading a file needs nothing but
this module. A file holds the scenario, the violated property, the run's trace
hash (same hash on replay: same run), its story, and the witness ops (the
history ops the checker pointed at), so a reader sees the violation without
running anything.

Format 1. ``witness`` is optional (files written before it load with none);
so is ``imports``: the modules that register a user's own lock design (``check
--import MOD``), which replay imports before it reads the scenario. Fields
this locksim does not know are kept, so a round trip loses nothing. A file
written by a newer locksim still reads, with a ``NewerCounterexampleWarning``.
"""

from __future__ import annotations

import builtins
import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from models.faults import describe
from models.history import TYPES, Op, format_ms
from models.scenario import Scenario, ScenarioError

KIND = "locksim-counterexample"
VERSION = 1
EXPECTS = ("violated", "holds")
"""What a regression seed must keep giving (``locksim regress add --expect``)."""

_KNOWN = frozenset({"kind", "format", "locksim", "lock", "property", "scenario", "trace_hash",
                    "story", "origin", "witness", "expect", "imports"})
_HEX = re.compile(r"[0-9a-f]+")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class CounterexampleError(ValueError):
    """A counterexample file that cannot be used; the message is one line."""


class NewerCounterexampleWarning(UserWarning):
    """The file was written by a newer locksim: it reads, but its trace hash may differ."""


@dataclass(frozen=True)
class Counterexample:
    """A violating scenario, what it violates, and what its run looked like."""

    scenario: Scenario
    property: str
    trace_hash: str
    story: str = ""
    witness: tuple[Op, ...] = ()
    origin: Mapping[str, Any] = field(default_factory=dict)
    expect: str | None = None  # regression seeds only
    locksim: str = ""  # the version that wrote it ("" : this one)
    extra: Mapping[str, Any] = field(default_factory=dict)  # fields a newer locksim added
    imports: tuple[str, ...] = ()  # modules registering the lock design (``--import``)

    @builtins.property
    def lock(self) -> str:
        return self.scenario.lock

    @builtins.property
    def name(self) -> str:
        """The file name: one per lock (or handler), property and run."""
        subject = self.scenario.handler.replace(":", ".") or self.lock
        return f"{subject}-{self.property}-{self.trace_hash[:12]}.json"

    def expecting(self, expect: str) -> Counterexample:
        if expect not in EXPECTS:
            raise CounterexampleError(f"expect must be one of {', '.join(EXPECTS)}, "
                                      f"not {expect!r}")
        return replace(self, expect=expect)

    # -- for a person -----------------------------------------------------------------
    def headline(self) -> str:
        sc = self.scenario
        arrivals = ", ".join(f"{t:g}" for t in sc.arrivals_ms) or "the load"
        who = f"handler {sc.handler}" if sc.handler else f"lock {sc.lock}"
        return (f"{self.property} with {who}: {sc.requests} request(s) arriving at "
                f"{arrivals} ms")

    def fault_lines(self) -> list[str]:
        return [f"  {'from' if getattr(f, 'trigger', None) else 'at'} {f.at_ms:g} ms: "
                f"{describe(f)}" for f in self.scenario.faults]

    def witness_lines(self) -> list[str]:
        return [f"  #{op.index} {format_ms(op.time)} ms {op.process} {op.type} {op.f}"
                + ("" if op.value is None else f" {op.value!r}") for op in self.witness]

    def tell(self, story: str | None = None) -> str:
        """The headline, each fault, and the story (``story``: a replay's, not the file's)."""
        told = self.story if story is None else story
        return "\n".join([self.headline(), *self.fault_lines(),
                          told or "(the property held this time)"])

    def to_code(self) -> str:
        """Python to paste into a test or a shell: runs the scenario and prints the story."""
        return (
            "from models.scenario import Scenario\nfrom sim.world import run\n"
            "from models.checkers import check_all\n"
            f"scenario = Scenario.from_dict({self.scenario.to_dict()!r})\n"
            "r = run(scenario)\n"
            f"print([v.story for v in check_all(r.history, [{self.property!r}], truth=r)])"
        )

    # -- as data ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        from sim import __version__

        data: dict[str, Any] = {
            **self.extra,
            "kind": KIND,
            "format": VERSION,
            "locksim": self.locksim or __version__,
            "lock": self.lock,
            "property": self.property,
            "scenario": self.scenario.to_dict(),
            "trace_hash": self.trace_hash,
            "story": self.story,
            "origin": dict(self.origin),
        }
        if self.witness:
            data["witness"] = [_op_to_dict(op) for op in self.witness]
        if self.expect is not None:
            data["expect"] = self.expect
        if self.imports:
            data["imports"] = list(self.imports)
        return data


# -- files -------------------------------------------------------------------------------


def write_json(path: Path, data: Any) -> Path:
    """Write through a temporary file and a rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


#: No scenario or counterexample comes near this; a bigger input (``/dev/zero``, a
#: log given by mistake) is refused before it fills the memory.
MAX_JSON_BYTES = 64 << 20


def read_json(path: Path, error: type[Exception] = ValueError, what: str = "") -> Any:
    """Parse a JSON file; any failure is ``error`` with one line saying why."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise error(f"{path} is larger than {MAX_JSON_BYTES >> 20} MiB: "
                        f"not a {what or 'locksim'} file")
        return json.loads(raw.decode())
    except OSError as exc:
        raise error(f"cannot read {what + ' ' if what else ''}{path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise error(f"{path} is not a text file") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise error(f"{path} nests too deeply to be a {what or 'locksim'} file") from None


def save(cx: Counterexample, directory: Path) -> Path:
    """Write ``cx`` into ``directory`` under its own name; the path written."""
    return write_json(directory / cx.name, cx.to_dict())


def record(scenario: Scenario, prop: str, origin: Mapping[str, Any],
           imports: tuple[str, ...] = ()) -> Counterexample:
    """Run a violating scenario once more and judge ``prop``: its counterexample.

    The story, the witness and the hash are the run's, never a copy; ``imports``
    are the modules its lock design needs, so a replay can load them itself."""
    from models.checkers import check_all
    from sim.world import run

    result = run(scenario)
    verdict = next(v for v in check_all(result.history, [prop], truth=result))
    return Counterexample(scenario, prop, result.trace_hash, verdict.story,
                          tuple(verdict.witness), dict(origin), imports=tuple(imports))


def imports_of(data: Any) -> tuple[str, ...]:
    """The ``imports`` a parsed file names, checked to be module names; () if none.

    Read before the scenario, whose lock only exists once they are imported."""
    names = data.get("imports", []) if isinstance(data, dict) else []
    if not isinstance(names, list) or not all(
            isinstance(n, str) and _MODULE.fullmatch(n) for n in names):
        raise CounterexampleError("imports must be a list of module names, "
                                  f"not {str(names)[:60]}")
    return tuple(names)


def load(path: Path) -> Counterexample:
    """Read and check a counterexample file; any problem is one ``CounterexampleError`` line."""
    data = read_json(path, CounterexampleError)
    return from_dict(data, str(path))


def from_dict(data: Any, where: str = "counterexample") -> Counterexample:
    """A counterexample from parsed JSON, every field checked (``where`` starts each error)."""
    def bad(message: str) -> CounterexampleError:
        return CounterexampleError(f"{where}: {message}")

    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise CounterexampleError(f"{where} is not a locksim counterexample")
    version = data.get("format")
    if type(version) is not int or not 1 <= version <= VERSION:
        raise CounterexampleError(f"{where} has counterexample format {version!r}; "
                                  f"this locksim reads format {VERSION}")
    for key in ("property", "scenario", "trace_hash"):
        if key not in data:
            raise CounterexampleError(f"{where} lacks the field {key!r}")
    prop = data["property"]
    if not isinstance(prop, str):
        raise bad(f"property must be a string, not {_json_type(prop)}")
    if prop not in _properties():
        raise bad(f"unknown property {prop!r}; known: {', '.join(_properties())}")
    trace_hash = data["trace_hash"]
    if not isinstance(trace_hash, str):
        raise bad(f"trace_hash must be a string, not {_json_type(trace_hash)}")
    if not _HEX.fullmatch(trace_hash):
        raise bad(f"trace_hash must be lowercase hex digits, not {trace_hash[:40]!r}")
    if not isinstance(data["scenario"], dict):
        raise bad(f"scenario must be an object, not {_json_type(data['scenario'])}")
    try:
        scenario = Scenario.from_dict(data["scenario"])
    except ScenarioError as exc:
        raise bad(str(exc)) from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise bad(f"bad scenario field: {exc}") from None
    for key in ("story", "lock", "locksim"):
        if key in data and not isinstance(data[key], str):
            raise bad(f"{key} must be a string, not {_json_type(data[key])}")
    if "lock" in data and data["lock"] != scenario.lock:
        raise bad(f"lock {data['lock']!r} is not its scenario's lock {scenario.lock!r}")
    origin = data.get("origin", {})
    if not isinstance(origin, dict):
        raise bad(f"origin must be an object, not {_json_type(origin)}")
    expect = data.get("expect")
    if expect is not None and expect not in EXPECTS:
        raise bad(f"expect must be one of {', '.join(EXPECTS)}, not {expect!r}")
    witness = data.get("witness", [])
    if not isinstance(witness, list):
        raise bad(f"witness must be a list of ops, not {_json_type(witness)}")
    ops = []
    for i, item in enumerate(witness):
        try:
            ops.append(_op_from_dict(item))
        except ValueError as exc:
            raise bad(f"witness op {i}: {exc}") from None
    imports = imports_of(data)
    writer = data.get("locksim", "")
    _warn_if_newer(writer, where)
    return Counterexample(
        scenario=scenario, property=prop, trace_hash=trace_hash, story=data.get("story", ""),
        witness=tuple(ops), origin=origin, expect=expect, locksim=writer,
        extra={k: v for k, v in data.items() if k not in _KNOWN}, imports=imports,
    )


# -- helpers -------------------------------------------------------------------------------


def _properties() -> tuple[str, ...]:
    from models.checkers import CHECKERS, PRIORITY

    return (*CHECKERS, *(p for p in PRIORITY if p not in CHECKERS))


def _json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _op_to_dict(op: Op) -> dict[str, Any]:
    return {"index": op.index, "time": float(op.time), "process": op.process, "type": op.type,
            "f": op.f, "value": op.value, "node": op.node}


def _decode(value: object) -> object:
    """JSON arrays back to tuples: op values hold only tuples."""
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


def _op_from_dict(item: object) -> Op:
    if not isinstance(item, dict):
        raise ValueError(f"must be an object, not {_json_type(item)}")
    index, time = item.get("index"), item.get("time")
    if type(index) is not int or index < 0:
        raise ValueError(f"index must be a whole number, not {index!r}")
    if not isinstance(time, int | float) or isinstance(time, bool):
        raise ValueError(f"time must be a number, not {time!r}")
    for key in ("process", "f"):
        if not isinstance(item.get(key), str):
            raise ValueError(f"{key} must be a string, not {item.get(key)!r}")
    if item.get("type") not in TYPES:
        raise ValueError(f"type must be one of {', '.join(TYPES)}, not {item.get('type')!r}")
    node = item.get("node", "")
    if not isinstance(node, str):
        raise ValueError(f"node must be a string, not {node!r}")
    return Op(index, float(time), item["process"], item["type"], item["f"],
              _decode(item.get("value")), node)


def _version(text: str) -> tuple[int, ...]:
    """``"0.2.1"`` -> ``(0, 2, 1)``; the leading numbers only (``"0+unknown"`` -> ``(0,)``)."""
    parts = []
    for piece in re.split(r"[.+-]", text):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def _warn_if_newer(writer: str, where: str) -> None:
    from sim import __version__

    mine, theirs = _version(__version__), _version(writer)
    if mine and theirs and theirs > mine:
        warnings.warn(f"{where} was written by locksim {writer}, newer than this {__version__}: "
                      "its trace hash may not replay", NewerCounterexampleWarning, stacklevel=3)


__all__ = [
    "EXPECTS", "KIND", "VERSION", "Counterexample", "CounterexampleError",
    "NewerCounterexampleWarning", "from_dict", "imports_of", "load", "read_json", "record",
    "save", "write_json",
]
