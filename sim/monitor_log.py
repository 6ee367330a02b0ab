"""Write a simulated run's Redis commands in the format of ``redis-cli MONITOR``.

One line per command: ``<unix seconds>.<micros> [<db> <addr>] "ARG" ...``,
arguments quoted and escaped as Redis prints them, so one analyser reads
real captures and simulated runs alike. Virtual time 0 maps to ``epoch_s``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.world import RunResult

DEFAULT_EPOCH_S = 1_700_000_000.0


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


def monitor_lines(result: RunResult, epoch_s: float = DEFAULT_EPOCH_S) -> list[str]:
    if result.monitor is None:
        raise ValueError("this run did not keep its command log (run with monitor=True)")
    lines = []
    for t_ms, client, argv in result.monitor:
        stamp = epoch_s + t_ms / 1000.0
        addr = f"127.0.0.1:{40000 + client}"
        lines.append(f"{stamp:.6f} [0 {addr}] " + " ".join(quote(a) for a in argv))
    return lines


def write_monitor_log(result: RunResult, path: Path, epoch_s: float = DEFAULT_EPOCH_S) -> None:
    path.write_text("OK\n" + "\n".join(monitor_lines(result, epoch_s)) + "\n")
