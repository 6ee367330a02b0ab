"""Library-level symptoms: what a lock library told its caller when it let go.

A real library reports a lost lock only at release (redis-py raises
``LockNotOwnedError``; a release that finds another task's token, or none,
raises ``LockError``). ``sim.aio`` records each release/extend as
``(own token, result, token sent[, error])``: the token this request's own
acquire took, the library's 1/0, the token the library actually sent. This
checker names the symptom in the library's own terms and ties it to the
interval it left unprotected.
"""

from __future__ import annotations

from collections.abc import Iterable

from models.checkers._common import Verdict, _history, _ms, _ops, _short, _tuple
from models.checkers.ground_truth import KeyEffect, RequestSpan
from models.history import History, Op


def check_held_until_release(history: History | Iterable[Op]) -> Verdict:
    """Every request that entered its critical section still held the lock when it let go.

    Violated by a release or extend that (a) came back 0 / ``LockNotOwnedError``
    (the lease ended while the holder was inside), (b) sent a token other than
    the one this request acquired (a lock object shared by tasks), or (c) failed
    with ``LockError`` (the token was gone: another task cleared it). The first
    by invocation is reported, with who entered meanwhile.
    """
    name = "held-until-release"
    h = _history(history)
    enters: dict[str, Op] = {}
    all_enters = list(h.events("enter"))
    for op in all_enters:
        if op.type == "ok":
            enters.setdefault(op.process, op)
    judged = 0
    for p in sorted(h.pairs("release") + h.pairs("extend"), key=lambda p: p.invoke.index):
        c = p.completion
        if c is None:
            continue
        judged += 1
        verb = p.f
        v = _tuple(c.value, 2)
        if c.type == "ok" and v is not None and len(v) >= 3:
            mine, result, sent = v[0], v[1], v[2]
            error = v[3] if len(v) >= 4 else None
            if mine is not None and sent != mine:
                return Verdict(
                    name, False,
                    f"{p.process}'s {verb} sent token {_short(sent)}, not its own {_short(mine)}",
                    _ops(enters.get(p.process), p.invoke, c),
                    f"{p.process} acquired with token {_short(mine)}, but its {verb} at "
                    f"{_ms(p.start)} ms sent {_short(sent)}: the lock object's token belongs to "
                    f"another task (a lock object shared by the tasks of one event loop: redis-py "
                    f"keeps the token in threading.local, pottery on the instance). The {verb} "
                    f"returned {result}" + (f" ({error})." if error else "."))
            if result == 0 and mine is not None:
                return _lost(name, h, p, c, mine, str(error or "result 0"), all_enters)
        elif c.type == "fail" and v is not None:
            error = v[-1]
            return Verdict(
                name, False, f"{p.process}'s {verb} raised {error}",
                _ops(enters.get(p.process), p.invoke, c),
                f"{p.process}'s {verb} at {_ms(p.start)} ms raised {error}: the lock object had "
                f"no token of this request any more (another task sharing it released or "
                f"replaced it).")
    return Verdict(name, True, f"{judged} releases/extensions, each by a holder that still held")


def _lost(name: str, h: History, p: object, c: Op, mine: object, error: str,
          enters: list[Op]) -> Verdict:
    inv: Op = p.invoke  # type: ignore[attr-defined]
    mine_enter = next((e for e in enters if e.process == inv.process and e.index < inv.index
                       and e.type == "ok"), None)
    since = mine_enter.time if mine_enter is not None else None
    others = [e for e in enters if e.process != inv.process and e.type == "ok"
              and (since is None or e.time > since) and e.time < inv.time]
    meanwhile = (f"; meanwhile {others[0].process} entered at {_ms(others[0].time)} ms"
                 + (f" (and {len(others) - 1} more)" if len(others) > 1 else "")
                 if others else "")
    entered = f"entered at {_ms(since)} ms with token {_short(mine)}" if since is not None \
        else f"held token {_short(mine)}"
    return Verdict(
        name, False,
        f"{inv.process}'s {inv.f} raised {error}: it had lost the lock while inside",
        _ops(mine_enter, *(others[:1]), inv, c),
        f"{inv.process} {entered}; its {inv.f} at {_ms(inv.time)} ms came back {error} "
        f"(answered at {_ms(c.time)} ms): its lease had ended while it was inside its critical "
        f"section{meanwhile}.")


def check_no_phantom_hold(history: History | Iterable[Op], effects: Iterable[KeyEffect],
                          prefix: str = "lock:") -> Verdict:
    """No request is told it failed to acquire while a SET it sent holds the lock.

    Judged with Redis's own log: a ``set`` of a lock key attributed to request R
    (ground truth) whose lease is still live when R's ``acquire`` completes
    ``fail``. R then believes it failed and never releases: the key stays taken
    by nobody until it expires. A client that re-sends a ``SET NX`` whose reply
    it lost (redis-py's default retry on a timeout) does exactly this: the first
    SET took the key, the retry finds it taken and reports failure.
    """
    name = "no-phantom-hold"
    h = _history(history)
    failed: dict[str, list[Op]] = {}
    for p in h.pairs("acquire"):
        if p.completion is not None and p.completion.type == "fail":
            failed.setdefault(p.process, []).append(p.completion)
    if not failed:
        return Verdict(name, True, "no acquire was refused")
    lock_sets = sorted((e for e in effects if e.key.startswith(prefix)), key=lambda e: e.time)
    judged = 0
    for i, e in enumerate(lock_sets):
        if e.effect != "set" or e.request not in failed:
            continue
        end = next((x.time for x in lock_sets[i + 1:] if x.key == e.key and x.node == e.node
                    and x.effect in ("del", "expired", "lost", "set")), None)
        if end is None and e.ttl_ms is not None:
            end = e.time + e.ttl_ms
        judged += 1
        for refused in failed[e.request]:
            if e.time <= refused.time and (end is None or refused.time < end):
                held = "no TTL" if end is None else f"{_ms(end)} ms"
                return Verdict(
                    name, False,
                    f"{e.request} was told it failed to acquire {e.key} while its own SET held it",
                    (refused,),
                    f"{e.request}'s {e.command} took {e.key} at {_ms(e.time)} ms (value "
                    f"{_short(_decoded(e.after))}), but the library told {e.request} at "
                    f"{_ms(refused.time)} ms that it did not acquire ({refused.value}); the key "
                    f"stayed held for nobody until {held}. A SET NX whose reply was lost and "
                    f"that the client re-sent does this: the retry finds the key taken by "
                    f"its own first try.")
    return Verdict(name, True, f"{judged} SETs by requests later refused, none still holding")


def check_no_zombie_write(effects: Iterable[KeyEffect], requests: Iterable[RequestSpan],
                          prefix: str = "lock:") -> Verdict:
    """No request writes a lock key after it was answered (or crashed).

    Judged with Redis's own log. A task that outlives its request (a watchdog
    its release did not stop) and sets or re-times the lock afterwards holds it
    for nobody; an extend that re-creates an expired key does exactly that.
    """
    name = "no-zombie-write"
    ended = {r.request: (r.end if r.end is not None else r.crashed_at) for r in requests}
    judged = 0
    for e in sorted(effects, key=lambda e: e.time):
        if not e.key.startswith(prefix) or e.request is None or e.effect not in ("set", "expire"):
            continue
        judged += 1
        end = ended.get(e.request)
        if end is not None and e.time > end:
            ttl = "no TTL" if e.ttl_ms is None else f"a TTL of {_ms(e.ttl_ms)} ms"
            return Verdict(name, False,
                           f"{e.request} wrote {e.key} {_ms(e.time - end)} ms after it ended",
                           (), f"{e.request} was answered at {_ms(end)} ms, but at "
                           f"{_ms(e.time)} ms its {e.command} {e.effect} {e.key} "
                           f"(value {_short(_decoded(e.after))}, {ttl}): a task it left "
                           f"behind (a watchdog its release did not stop) holds the lock for "
                           f"nobody.")
    return Verdict(name, True, f"{judged} lock writes, each while its request was running")


def _decoded(value: bytes | None) -> object:
    return value.decode(errors="replace") if value is not None else None


__all__ = ["check_held_until_release", "check_no_phantom_hold", "check_no_zombie_write"]
