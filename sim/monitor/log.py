"""Write a simulated run's Redis commands in the format of ``redis-cli MONITOR``.

One line per command: ``<unix seconds>.<micros> [<db> <addr>] "ARG" ...``,
arguments quoted and escaped as Redis's ``sdscatrepr`` prints them, and the
commands a script ran as ``[0 lua]`` lines right after its ``EVAL``, so one
analyser (``sim.monitor.analyze``) reads real captures and simulated runs alike.

Virtual time 0 maps to ``epoch_s``. App server ``appN`` connects from host
``10.0.0.N`` (port 40000 + its connection's client id), so a capture's
per-host split is the run's per-server split. The model runs a script at one
instant, so its lua lines carry the EVAL's timestamp; real Redis stamps each
line as it prints it, a few microseconds later.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.world import RunResult

DEFAULT_EPOCH_S = 1_700_000_000
BASE_PORT = 40_000


def quote(arg: object) -> str:
    """Redis's ``sdscatrepr``: printable ASCII kept, the rest escaped."""
    raw = arg if isinstance(arg, bytes) else str(arg).encode()
    out = ['"']
    for byte in raw:
        ch = chr(byte)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


def stamp(t_ms: float, epoch_s: int = DEFAULT_EPOCH_S) -> str:
    """``seconds.micros`` for virtual time ``t_ms``, truncated (never rounded up),
    so the whole milliseconds a replay sees are the model's own ``int(t_ms)``."""
    micros = math.floor(t_ms * 1000.0)
    whole_ms = math.floor(t_ms)
    micros = min(max(micros, whole_ms * 1000), whole_ms * 1000 + 999)
    total = epoch_s * 1_000_000 + micros
    return f"{total // 1_000_000}.{total % 1_000_000:06d}"


def address(node: str, client: int) -> str:
    """``[0 ADDR]`` for a connection of ``node``: ``lua`` for a script's commands."""
    if node == "lua":
        return "lua"
    n = node.removeprefix("app")
    host = f"10.0.0.{n}" if n.isdigit() and 0 < int(n) < 255 else "10.0.1.1"
    return f"{host}:{BASE_PORT + client}"


def monitor_lines(result: RunResult, epoch_s: int = DEFAULT_EPOCH_S) -> list[str]:
    if result.monitor is None:
        raise ValueError("this run did not keep its command log (run with monitor=True)")
    return [f"{stamp(t_ms, epoch_s)} [0 {address(node, client)}] "
            + " ".join(quote(a) for a in argv)
            for t_ms, client, node, argv in result.monitor]


def write_monitor_log(result: RunResult, path: Path, epoch_s: int = DEFAULT_EPOCH_S) -> None:
    """``OK`` first, as ``redis-cli MONITOR`` prints it, then one line per command."""
    path.write_text("OK\n" + "\n".join(monitor_lines(result, epoch_s)) + "\n")
