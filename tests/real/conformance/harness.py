"""Differential conformance: the same command sequences on the model and a real Redis.

A sequence is a list of steps: a command from one of five clients, or a
pause. Client 0 does the data commands; clients 1 and 2 may subscribe, so
pub/sub deliveries are compared message by message on their connections;
clients 3 and 4 run transactions (WATCH, MULTI, commands, EXEC/DISCARD)
interleaved with everyone else's writes, so watches break.

CLIENT ID is compared by rank among the sequence's connections (real ids
keep counting across sequences; the model's start at 1 each time).

Time: the model runs on the real wall clock (Redis expires keys by its wall
clock, and PXAT/EXAT take wall-clock times), read just before each command is
sent. The model cannot know the exact instant the server runs a command, so
the runner never sends one within a guard band around a key's deadline, and
compares PTTL within ``PTTL_TOLERANCE_MS`` and TTL within one second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import redis
from hypothesis import strategies as st
from redis._parsers.base import BaseParser
from redis.connection import Connection

from models.redis import BLOCKED, RedisModel, ReplyError
from models.redis.model import Delivery, Served

PTTL_TOLERANCE_MS = 25
GUARD_BEFORE_MS = 8  # never send a command this close before a deadline...
GUARD_AFTER_MS = 2  # ...or this close after it
N_CLIENTS = 5
TX_CLIENTS = (3, 4)

# -- the scripts: the seed's two verbatim, then lock libraries', then edge cases ----

SEED_WATCHDOG = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], "
    "ARGV[2]) else return 0 end"
)
SEED_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]); "
    "redis.call('publish', ARGV[2], 'released'); return 1 else return 0 end"
)


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua body and how to call it: argument kinds drawn per call."""

    name: str
    body: str
    keys: tuple[str, ...]  # kinds: "key", "hash", "list", "set", "chan"
    # kinds: "token", "ttl", "chan", "num", "field", "secs", "member", "any"
    args: tuple[str, ...]
    timing: bool = False  # the reply carries a TTL: compare integers within tolerance


LOCK_SCRIPTS: tuple[Script, ...] = (
    Script("seed-watchdog", SEED_WATCHDOG, ("key",), ("token", "ttl")),
    Script("seed-release", SEED_RELEASE, ("key",), ("token", "chan")),
    # redis-py Lock: release, extend (additive or replace), reacquire
    Script(
        "redis-py-release",
        "local t = redis.call('get', KEYS[1])\n"
        "if not t or t ~= ARGV[1] then return 0 end\n"
        "redis.call('del', KEYS[1])\nreturn 1",
        ("key",),
        ("token",),
    ),
    Script(
        "redis-py-extend",
        "local t = redis.call('get', KEYS[1])\n"
        "if not t or t ~= ARGV[1] then return 0 end\n"
        "local left = redis.call('pttl', KEYS[1])\n"
        "if left < 0 then return 0 end\n"
        "local ttl = ARGV[2]\n"
        "if ARGV[3] == '0' then ttl = ARGV[2] + left end\n"
        "redis.call('pexpire', KEYS[1], ttl)\nreturn 1",
        ("key",),
        ("token", "ttl", "bool"),
    ),
    Script(
        "redis-py-reacquire",
        "local t = redis.call('get', KEYS[1])\n"
        "if not t or t ~= ARGV[1] then return 0 end\n"
        "redis.call('pexpire', KEYS[1], ARGV[2])\nreturn 1",
        ("key",),
        ("token", "ttl"),
    ),
    # python-redis-lock: release pushes one wake-up token on a signal list
    Script(
        "python-redis-lock-release",
        "if redis.call('get', KEYS[1]) ~= ARGV[1] then return 1 end\n"
        "redis.call('del', KEYS[2])\nredis.call('lpush', KEYS[2], 1)\n"
        "redis.call('pexpire', KEYS[2], ARGV[2])\nredis.call('del', KEYS[1])\nreturn 0",
        ("key", "list"),
        ("token", "ttl"),
    ),
    Script(
        "python-redis-lock-extend",
        "if redis.call('get', KEYS[1]) ~= ARGV[1] then return 1\n"
        "elseif redis.call('ttl', KEYS[1]) < 0 then return 2\n"
        "else redis.call('expire', KEYS[1], ARGV[2]) return 0 end",
        ("key",),
        ("token", "secs"),
    ),
    # Redisson: re-entrant hash lock, unlock with an idempotency latch, watchdog renewal
    Script(
        "redisson-acquire",
        "if redis.call('exists', KEYS[1]) == 0 or redis.call('hexists', KEYS[1], ARGV[2]) == 1"
        " then\n  redis.call('hincrby', KEYS[1], ARGV[2], 1)\n"
        "  redis.call('pexpire', KEYS[1], ARGV[1])\n  return nil\nend\n"
        "return redis.call('pttl', KEYS[1])",
        ("hash",),
        ("ttl", "field"),
        timing=True,
    ),
    Script(
        "redisson-unlock",
        "local v = redis.call('get', KEYS[3])\n"
        "if v ~= false then return tonumber(v) end\n"
        "if redis.call('hexists', KEYS[1], ARGV[3]) == 0 then return nil end\n"
        "local c = redis.call('hincrby', KEYS[1], ARGV[3], -1)\n"
        "if c > 0 then\n  redis.call('pexpire', KEYS[1], ARGV[2])\n"
        "  redis.call('set', KEYS[3], 0, 'px', ARGV[4])\n  return 0\n"
        "else\n  redis.call('del', KEYS[1])\n  redis.call('publish', KEYS[2], ARGV[1])\n"
        "  redis.call('set', KEYS[3], 1, 'px', ARGV[4])\n  return 1\nend",
        ("hash", "chan", "key"),
        ("num", "ttl", "field", "ttl"),
    ),
    Script(
        "redisson-renew",
        "if redis.call('hexists', KEYS[1], ARGV[2]) == 1 then\n"
        "  redis.call('pexpire', KEYS[1], ARGV[1])\n  return 1\nend\nreturn 0",
        ("hash",),
        ("ttl", "field"),
    ),
    # node-redlock v5: all-or-nothing acquire and extend over the given keys
    Script(
        "node-redlock-acquire",
        "for _, k in ipairs(KEYS) do if redis.call('exists', k) == 1 then return 0 end end\n"
        "for _, k in ipairs(KEYS) do redis.call('set', k, ARGV[1], 'PX', ARGV[2]) end\n"
        "return #KEYS",
        ("key", "key"),
        ("token", "ttl"),
    ),
    Script(
        "node-redlock-extend",
        "for _, k in ipairs(KEYS) do if redis.call('get', k) ~= ARGV[1] then return 0 end end\n"
        "for _, k in ipairs(KEYS) do redis.call('set', k, ARGV[1], 'PX', ARGV[2]) end\n"
        "return #KEYS",
        ("key",),
        ("token", "ttl"),
    ),
    Script(
        "node-redlock-release",
        "local n = 0\nfor _, k in ipairs(KEYS) do\n"
        "  if redis.call('get', k) == ARGV[1] then redis.pcall('del', k); n = n + 1 end\n"
        "end\nreturn n",
        ("key", "key"),
        ("token",),
    ),
    # aioredlock: one script sets-if-absent-or-mine (and so can resurrect an expired lock)
    Script(
        "aioredlock-set",
        "local id = redis.call('get', KEYS[1])\n"
        "if not id or id == ARGV[1] then\n"
        "  return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
        "else return redis.error_reply('ERROR') end",
        ("key",),
        ("token", "ttl"),
    ),
    Script(
        "aioredlock-unset",
        "local id = redis.call('get', KEYS[1])\n"
        "if not id then return redis.status_reply('OK')\n"
        "elseif id == ARGV[1] then return redis.call('del', KEYS[1])\n"
        "else return redis.error_reply('ERROR') end",
        ("key",),
        ("token",),
    ),
    # SETNX then PEXPIRE: the classic two-step acquire (not atomic without a script)
    Script(
        "setnx-pexpire",
        "if redis.call('setnx', KEYS[1], ARGV[1]) == 1 then\n"
        "  redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end\nreturn 0",
        ("key",),
        ("token", "ttl"),
    ),
    Script(
        "getdel-release",
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('getdel', KEYS[1]) end\n"
        "return false",
        ("key",),
        ("token",),
    ),
    # murlock: re-entrant by client id
    Script(
        "murlock-lock",
        "if redis.call('get', KEYS[1]) == ARGV[1] or "
        "redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 else return 0 end",
        ("key",),
        ("token", "ttl"),
    ),
)

EDGE_SCRIPTS: tuple[Script, ...] = (
    Script("nested-table", "return {1, 'two', {3, 'four'}, nil, 5}", (), ()),
    Script("floats", "return {3.99, -3.99, 0.5, 1e15}", (), ()),
    Script("float-top", "return -7.9", (), ()),
    Script("booleans", "return {true, false, 1}", (), ()),
    Script("true-top", "return true", (), ()),
    Script("false-top", "return false", (), ()),
    Script("status", "return redis.status_reply('FINE')", (), ()),
    Script("ok-table", "return {ok='DONE'}", (), ()),
    Script("error-reply", "return redis.error_reply('MYERR custom failure')", (), ()),
    Script("error-plain", "return redis.error_reply('no code here')", (), ()),
    Script("err-table", "return {err='plain table error'}", (), ()),
    Script("error-raise", "error('boom')", (), ()),
    Script("error-raise-table", "error({err='TABLEERR raised'})", (), ()),
    Script("global-read", "return undefined_thing", (), ()),
    Script("global-write", "newglobal = 1 return 1", (), ()),
    Script("no-os", "return os.time()", (), ()),
    Script("call-wrongtype", "return redis.call('incr', KEYS[1])", ("hash",), ()),
    Script("pcall-wrongtype", "local r = redis.pcall('incr', KEYS[1]) return r", ("hash",), ()),
    Script("pcall-err-field", "local r = redis.pcall('incr', KEYS[1]) return type(r)",
           ("hash",), ()),
    # a lock script's own error handling: what Lua's pcall sees of a failed redis.call
    Script("lua-pcall-call", "local ok, e = pcall(redis.call, 'incr', KEYS[1]) "
           "if not ok then return redis.error_reply(e) end return 1", ("hash",), ()),
    Script("lua-pcall-fn", "local ok, e = pcall(function() return redis.call('incr', KEYS[1]) "
           "end) return {tostring(ok), type(e), tostring(e)}", ("hash",), ()),
    Script("lua-pcall-after", "pcall(redis.call, 'incr', KEYS[1]) return redis.call('ping')",
           ("hash",), ()),
    Script("lua-pcall-ok", "local ok, a, b = pcall(function() return 1, 2 end) "
           "return {tostring(ok), a, b}", (), ()),
    Script("set-big-number", "redis.call('set', KEYS[1], 1e17) return redis.call('get', KEYS[1])",
           ("key",), ()),
    Script("set-2-60", "redis.call('set', KEYS[1], 2^60) return redis.call('get', KEYS[1])",
           ("key",), ()),
    Script("replicate-commands", "redis.replicate_commands() redis.set_repl(redis.REPL_ALL) "
           "return redis.call('time')[1] ~= nil", (), ()),
    Script("call-unknown", "return redis.call('nosuchcommand', 'x')", (), ()),
    Script("call-arity", "return redis.call('get')", (), ()),
    Script("call-denied", "return redis.call('subscribe', 'x')", (), ()),
    Script("call-noargs", "return redis.call()", (), ()),
    Script("call-badarg", "return redis.call('get', {})", (), ()),
    Script("set-number-args", "redis.call('set', KEYS[1], 1.5) return redis.call('get', KEYS[1])",
           ("key",), ()),
    Script("set-int-arg", "redis.call('set', KEYS[1], 42) return redis.call('incr', KEYS[1])",
           ("key",), ()),
    Script("write-then-fail", "redis.call('set', KEYS[1], 'partial') error('after write')",
           ("key",), ()),
    Script("status-from-call", "local r = redis.call('set', KEYS[1], 'x') return r['ok']",
           ("key",), ()),
    Script("nil-get", "local v = redis.call('get', KEYS[1]) return {v == false, type(v)}",
           ("key",), ()),
    Script("blpop-in-script", "return redis.call('blpop', KEYS[1], 0)", ("list",), ()),
    Script("lpop-count", "return redis.call('lpop', KEYS[1], 2)", ("list",), ()),
    Script("hgetall", "return redis.call('hgetall', KEYS[1])", ("hash",), ()),
    Script("publish-twice",
           "return redis.call('publish', ARGV[1], 'a') + redis.call('publish', ARGV[1], 'b')",
           (), ("chan",)),
    Script("argv-echo", "return {KEYS[1], ARGV[1], #KEYS, #ARGV}", ("key",), ("any",)),
    Script("tonumber", "return tonumber(ARGV[1])", (), ("any",)),
    Script("pttl-in-script", "return redis.call('pttl', KEYS[1])", ("key",), (), timing=True),
    Script("syntax-error", "return (", (), ()),
    Script("sha1hex", "return redis.sha1hex(ARGV[1])", (), ("any",)),
    Script("setnx-in-script", "return redis.call('setnx', KEYS[1], ARGV[1])", ("key",),
           ("token",)),
    Script("setex-in-script", "return redis.call('setex', KEYS[1], ARGV[1], 'v')", ("key",),
           ("secs",)),
    Script("psetex-bad-ttl", "return redis.pcall('psetex', KEYS[1], ARGV[1], 'v')", ("key",),
           ("badttl",)),
    Script("getdel-in-script", "return redis.call('getdel', KEYS[1])", ("key",), ()),
    Script("call-multi", "return redis.call('multi')", (), ()),
    Script("call-exec", "return redis.pcall('exec')", (), ()),
    Script("call-watch", "return redis.call('watch', KEYS[1])", ("key",), ()),
    Script("call-client-id", "return redis.call('client', 'id')", (), ()),
    Script("call-client-bogus", "return redis.call('client', 'bogus')", (), ()),
    # sets and the multi-key string commands from Lua (SMEMBERS sorted in the script:
    # Redis's order is its encoding's, see the model's known differences)
    Script("smembers-sorted",
           "local m = redis.call('smembers', KEYS[1]) table.sort(m) return m", ("set",), ()),
    Script("sadd-then-ask",
           "local n = redis.call('sadd', KEYS[1], ARGV[1])\n"
           "return {n, redis.call('sismember', KEYS[1], ARGV[1]), redis.call('scard', KEYS[1]),"
           " redis.call('smismember', KEYS[1], ARGV[1], 'absent')}", ("set",), ("member",)),
    Script("srem-in-script", "return redis.pcall('srem', KEYS[1], ARGV[1])", ("set",),
           ("member",)),
    Script("mget-in-script", "return redis.call('mget', KEYS[1], KEYS[2])", ("key", "hash"), ()),
    Script("msetnx-in-script", "return redis.call('msetnx', KEYS[1], ARGV[1], KEYS[2], ARGV[1])",
           ("key", "key"), ("token",)),
    Script("hsetnx-hmget", "redis.call('hsetnx', KEYS[1], ARGV[1], 'x')\n"
           "return redis.call('hmget', KEYS[1], ARGV[1], 'f-absent')", ("hash",), ("field",)),
)

ALL_SCRIPTS = LOCK_SCRIPTS + EDGE_SCRIPTS

# -- pools of arguments ------------------------------------------------------------

STRING_KEYS = (b"k1", b"k2", b"lock:coupon:issue:1")
HASH_KEYS = (b"h1", b"k2")
LIST_KEYS = (b"l1", b"k1")
SET_KEYS = (b"s1", b"k1")
ALL_KEYS = (b"k1", b"k2", b"h1", b"l1", b"lock:coupon:issue:1")
CHANNELS = (b"ch1", b"lock:release:coupon:issue:1")
TOKENS = (b"tok-a", b"tok-b")
FIELDS = (b"f1", b"uuid:1", b"uuid:2")
MEMBERS = (b"m1", b"m2", b"1", b"2", b"-1", b"01", b"", b"tok-a")  # intset and not
VALUES = (
    b"v", b"", b"0", b"1", b"-1", b"42", b"01", b"-0", b"+1", b" 1", b"1.5", b"abc",
    b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808", b"tok-a",
)
INTS = (b"1", b"2", b"-3", b"0", b"100", b"abc", b"1.0", b"9223372036854775807",
        b"-9223372036854775808")
TTL_MS = (b"10", b"25", b"60", b"20000", b"0", b"-5", b"x", b"9223372036854775807")
TTL_S = (b"1", b"30", b"0", b"-1", b"9223372036854775", b"99999999999999999")
REL_MS = (-1000, 15, 30, 60, 60_000)  # offsets from now for absolute expiry times
PAUSES_MS = (2, 12, 30)


@dataclass(frozen=True, slots=True)
class AbsTime:
    """An argument filled in at run time: now + offset, in ms or seconds."""

    offset_ms: int
    seconds: bool = False

    def resolve(self, now_ms: int) -> bytes:
        when = now_ms + self.offset_ms
        return str(when // 1000 if self.seconds else when).encode()


@dataclass(frozen=True, slots=True)
class Step:
    """One command from one client (argv may hold ``AbsTime`` placeholders)."""

    client: int
    argv: tuple[bytes | AbsTime, ...]

    def text(self) -> str:
        words = [a.decode(errors="replace") if isinstance(a, bytes) else repr(a)
                 for a in self.argv]
        return f"c{self.client}: " + " ".join(words)


@dataclass(frozen=True, slots=True)
class Pause:
    """Let real time pass so that TTLs run out."""

    ms: int

    def text(self) -> str:
        return f"sleep {self.ms} ms"


Action = Step | Pause


class Mismatch(AssertionError):
    """The model and the real server disagreed; the message tells where."""


# -- strategies ----------------------------------------------------------------------


def _pick(pool: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    return st.sampled_from(pool)


def _case(word: str) -> st.SearchStrategy[bytes]:
    """A command name, sometimes in odd case: Redis ignores case."""
    return st.sampled_from((word.upper().encode(), word.lower().encode(),
                            word.capitalize().encode()))


def _cmd(word: str, *parts: st.SearchStrategy[object]) -> st.SearchStrategy[tuple]:
    return st.tuples(_case(word), *parts)


def _tail(*options: st.SearchStrategy[tuple]) -> st.SearchStrategy[tuple]:
    return st.one_of(st.just(()), *options)


# k1 half the time: commands must meet on the same key for interactions to show
_key = st.sampled_from((b"k1", b"k1", b"k1", *ALL_KEYS[1:], b"k1"))
_set_option = st.one_of(
    st.sampled_from(((b"NX",), (b"XX",), (b"GET",), (b"KEEPTTL",))),
    st.tuples(st.sampled_from((b"PX", b"px")), _pick(TTL_MS)),
    st.tuples(st.just(b"EX"), _pick(TTL_S)),
    st.tuples(st.just(b"PXAT"), st.sampled_from(REL_MS).map(AbsTime)),
    st.tuples(st.just(b"EXAT"), st.sampled_from(REL_MS).map(lambda o: AbsTime(o, True))),
    st.just((b"EX",)),  # missing value: syntax error
    st.just((b"BOGUS",)),
)
_set = st.builds(
    lambda head, opts: head + tuple(w for opt in opts for w in opt),
    _cmd("set", _key, _pick(VALUES)),
    st.lists(_set_option, max_size=3),
)
# SET with a live TTL, as locks use it: the case that matters most, drawn often,
# with integer values often enough that INCR and friends meet a TTL
_set_ttl = st.builds(
    lambda head, ttl, nx: head + ttl + nx,
    _cmd("set", _key, st.sampled_from((b"1", b"42", b"-1", b"0", *VALUES))),
    st.one_of(st.tuples(st.just(b"PX"), st.sampled_from((b"20000", *TTL_MS[:4]))),
              st.tuples(st.just(b"EX"), _pick(TTL_S[:2]))),
    st.sampled_from(((), (b"NX",), (b"XX",), (b"GET",))),
)
_expire_opts = st.lists(st.sampled_from((b"NX", b"XX", b"GT", b"LT", b"nx", b"FOO")),
                        max_size=2).map(tuple)


def _expire_cmd(word: str, times: st.SearchStrategy[object]) -> st.SearchStrategy[tuple]:
    return st.builds(lambda head, opts: head + opts, _cmd(word, _key, times), _expire_opts)


def _weighted(*pairs: tuple[int, st.SearchStrategy[tuple]]) -> st.SearchStrategy[tuple]:
    """Pick a strategy with probability proportional to its weight, then draw from it.

    (``st.one_of`` would drop the repeats: it dedupes equal strategies.)"""
    pool = [strategy for weight, strategy in pairs for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


_del = st.builds(lambda h, ks: h + tuple(ks), _cmd("del"), st.lists(_key, min_size=1, max_size=3))
_unlink = st.builds(lambda h, ks: h + tuple(ks), _cmd("unlink"),
                    st.lists(_key, min_size=1, max_size=3))
_getex_option = st.one_of(
    st.just((b"PERSIST",)),
    st.tuples(st.sampled_from((b"PX", b"px")), _pick(TTL_MS)),
    st.tuples(st.just(b"EX"), _pick(TTL_S)),
    st.tuples(st.just(b"PXAT"), st.sampled_from(REL_MS).map(AbsTime)),
    st.tuples(st.just(b"EXAT"), st.sampled_from(REL_MS).map(lambda o: AbsTime(o, True))),
    st.sampled_from(((b"EX",), (b"KEEPTTL",), (b"NX",))),  # syntax errors
)
_getex = st.builds(lambda head, opts: head + tuple(w for opt in opts for w in opt),
                   _cmd("getex", _key), st.lists(_getex_option, max_size=2))
_exists = st.builds(lambda h, ks: h + tuple(ks), _cmd("exists"),
                    st.lists(_key, min_size=1, max_size=3))
_hset = st.builds(lambda h, fv: h + tuple(w for p in fv for w in p), _cmd("hset", _key),
                  st.lists(st.tuples(_pick(FIELDS), _pick(VALUES)), min_size=1, max_size=3))
_hdel = st.builds(lambda h, fs: h + tuple(fs), _cmd("hdel", _key),
                  st.lists(_pick(FIELDS), min_size=1, max_size=2))
_push = st.builds(lambda h, vs: h + tuple(vs),
                  st.tuples(st.sampled_from((b"LPUSH", b"rpush")), _key),
                  st.lists(_pick(VALUES), min_size=1, max_size=3))
_pop = st.builds(lambda h, t: h + t, st.tuples(st.sampled_from((b"LPOP", b"rpop")), _key),
                 _tail(st.tuples(_pick(INTS))))
# set commands: mostly on their own key, else on k1 and the others, where the other
# types live (WRONGTYPE both ways); the other commands keep ``_key``, so k1's sets meet them
_skey = st.sampled_from((b"s1", b"s1", b"k1", b"k1", *ALL_KEYS[1:4]))
# m1 most: SREM must often empty a set, so the key's deletion shows (EXISTS, TYPE, GET)
_member = st.sampled_from((b"m1", b"m1", b"m1", *MEMBERS[1:]))
_members = st.lists(_member, min_size=1, max_size=3).map(tuple)
_sets = _weighted(
    (3, st.builds(lambda h, ms: h + ms, _cmd("sadd", _skey), _members)),
    (2, st.builds(lambda h, ms: h + ms, _cmd("srem", _skey),
                  st.lists(_member, min_size=1, max_size=4).map(tuple))),
    (2, _cmd("sismember", _skey, _member)),
    (1, st.builds(lambda h, ms: h + ms, _cmd("smismember", _skey), _members)),
    (2, _cmd("smembers", _skey)),
    (1, _cmd("scard", _skey)),
    (2, st.builds(lambda h, k: (h, k), st.sampled_from((b"TYPE", b"exists", b"GET")), _skey)),
)
_mget = st.builds(lambda h, ks: h + tuple(ks), _cmd("mget"), st.lists(_key, min_size=1, max_size=3))
_pairs = st.lists(st.tuples(_key, _pick(TOKENS + VALUES[:4])), min_size=1, max_size=2).map(
    lambda ps: tuple(w for p in ps for w in p))
_mset = st.builds(lambda h, ps: (h, *ps),
                  st.sampled_from((b"MSET", b"mset", b"MSETNX", b"msetnx")), _pairs)
_hmget = st.builds(lambda h, fs: h + tuple(fs), _cmd("hmget", _key),
                   st.lists(_pick(FIELDS), min_size=1, max_size=3))
_blpop = st.builds(lambda h, ks, t: h + tuple(ks) + (t,), _cmd("blpop"),
                   st.lists(_key, min_size=1, max_size=2),
                   st.sampled_from((b"0.01", b"0.02", b"abc", b"-1")))

# Weighted towards what locks do: SET with a TTL, GET, PTTL, DEL, INCR, expiry.
_data_commands = _weighted(
    (6, _set_ttl),
    (3, _set),
    (4, _cmd("get", _key)),
    (3, _cmd("pttl", _key)),
    (1, _cmd("ttl", _key)),
    (2, _del),
    (1, _exists),
    (1, _cmd("type", _key)),
    (3, st.tuples(st.sampled_from((b"INCR", b"incr", b"DECR")), _key)),
    (2, st.tuples(st.sampled_from((b"INCRBY", b"decrby")), _key, _pick(INTS))),
    (2, _expire_cmd("pexpire", _pick(TTL_MS))),
    (1, _expire_cmd("expire", _pick(TTL_S))),
    (1, _expire_cmd("pexpireat", st.sampled_from(REL_MS).map(AbsTime))),
    (1, _expire_cmd("expireat", st.sampled_from(REL_MS).map(lambda o: AbsTime(o, True)))),
    (1, _cmd("persist", _key)),
    (2, _hset),
    (1, _cmd("hget", _key, _pick(FIELDS))),
    (1, _hdel),
    (1, st.tuples(st.sampled_from((b"HEXISTS", b"hlen")), _key, _pick(FIELDS)).map(
        lambda t: t if t[0] == b"HEXISTS" else t[:2])),
    (2, _cmd("hincrby", _key, _pick(FIELDS), _pick(INTS))),
    (1, _cmd("hgetall", _key)),
    (2, _push),
    (2, _pop),
    (1, _cmd("llen", _key)),
    (1, _cmd("lrange", _key, _pick(INTS), _pick((b"-1", b"0", b"1", b"2", b"x")))),
    (1, _blpop),
    (2, _cmd("publish", _pick(CHANNELS), _pick((b"released", b"0", b"hello")))),
    (1, _cmd("ping", _pick(VALUES))),
    (2, _cmd("setnx", _key, _pick(TOKENS + VALUES[:4]))),
    (1, _cmd("setex", _key, _pick(TTL_S), _pick(TOKENS))),
    (2, _cmd("psetex", _key, _pick(TTL_MS), _pick(TOKENS))),
    (2, _cmd("getdel", _key)),
    (1, _unlink),
    (1, _cmd("getset", _key, _pick(TOKENS + VALUES[:4]))),
    (2, _getex),
    (1, st.tuples(st.sampled_from((b"PEXPIRETIME", b"expiretime")), _key)),  # 7.0: unknown on 6.2
    (1, _cmd("time")),
    (3, _sets),
    (1, st.one_of(_mget, _mset)),
    (1, st.one_of(_hmget, _cmd("hsetnx", _key, _pick(FIELDS), _pick(VALUES[:4])))),
)

_bad_commands = st.one_of(
    st.sampled_from((
        (b"GET",), (b"SET", b"k1"), (b"HSET", b"h1", b"f1"), (b"HINCRBY", b"h1", b"f1"),
        (b"LPOP", b"l1", b"1", b"2"), (b"PTTL",), (b"PUBLISH", b"ch1"), (b"EXPIRE", b"k1"),
        (b"PING", b"a", b"b"), (b"NOSUCH",), (b"NOSUCH", b"a", b"b"), (b"EVAL",),
        (b"EVAL", b"return 1"), (b"SCRIPT",), (b"SCRIPT", b"LOAD"), (b"SCRIPT", b"NOPE"),
        (b"EVALSHA", b"0123456789012345678901234567890123456789", b"0"),
        (b"INCRBY", b"k1"), (b"DEL",), (b"SUBSCRIBE",),
        (b"SETNX", b"k1"), (b"SETEX", b"k1", b"10"), (b"PSETEX", b"k1", b"10", b"v", b"x"),
        (b"GETDEL",), (b"GETDEL", b"k1", b"k2"), (b"MULTI", b"x"), (b"EXEC", b"x"),
        (b"DISCARD", b"x"), (b"WATCH",), (b"UNWATCH", b"x"), (b"CLIENT",),
        (b"CLIENT", b"ID", b"x"), (b"CLIENT", b"nope"), (b"CLIENT", b"SETNAME"),
        (b"CLIENT", b"GETNAME", b"x"), (b"EXEC",), (b"DISCARD",),
        (b"WAIT",), (b"WAIT", b"1"), (b"WAIT", b"x", b"1"), (b"WAIT", b"1", b"-1"),
        (b"WAIT", b"1", b"1.5"), (b"WAIT", b"1", b"x"),
        (b"SADD", b"s1"), (b"SREM", b"s1"), (b"SISMEMBER", b"s1"),
        (b"SISMEMBER", b"s1", b"a", b"b"),
        (b"SMISMEMBER", b"s1"), (b"SMEMBERS",), (b"SMEMBERS", b"s1", b"k1"), (b"SCARD",),
        (b"MGET",), (b"MSET", b"k1"), (b"MSET", b"k1", b"v", b"k2"), (b"MSETNX", b"k1"),
        (b"msetnx", b"k1", b"v", b"k2"), (b"HMGET", b"h1"), (b"HSETNX", b"h1", b"f1"),
        (b"BLPOP", b"l1", b"inf"), (b"BLPOP", b"l1", b"-inf"), (b"BLPOP", b"l1", b"1e30"),
        (b"BLPOP", b"l1", b"nan"), (b"BLPOP", b"l1", b"9223372036854775807"),
        (b"EVALSHA", b"nope", b"x"), (b"EVALSHA", b"nope", b"1"),
        (b"UNLINK",), (b"GETSET", b"k1"), (b"GETSET", b"k1", b"v", b"w"), (b"GETEX",),
        (b"TIME", b"x"), (b"PEXPIRETIME",), (b"EXPIRETIME", b"k1", b"k2"),
    )),
)


@st.composite
def _script_call(draw: st.DrawFn) -> tuple:
    script = draw(st.sampled_from(ALL_SCRIPTS))
    kinds = {"key": STRING_KEYS, "hash": HASH_KEYS, "list": LIST_KEYS, "set": SET_KEYS,
             "chan": CHANNELS}
    args = {"token": TOKENS, "ttl": TTL_MS[:4], "chan": CHANNELS, "num": (b"0", b"1"),
            "badttl": (b"0", b"-5", b"x", b"9223372036854775807", b"25"),
            "field": FIELDS, "secs": (b"1", b"30"), "bool": (b"0", b"1"), "member": MEMBERS,
            "any": VALUES}
    keys = [draw(st.sampled_from(kinds[k])) for k in script.keys]
    argv = [draw(st.sampled_from(args[a])) for a in script.args]
    numkeys = str(len(keys)).encode()
    if draw(st.integers(0, 19)) == 0:
        numkeys = draw(st.sampled_from((b"-1", b"x", b"9")))
    body = script.body.encode()
    how = draw(st.integers(0, 3))
    if how == 0:  # by sha, whether or not it was loaded
        from hashlib import sha1

        sha = sha1(body).hexdigest().encode()
        return (b"EVALSHA", sha.upper() if draw(st.booleans()) else sha, numkeys, *keys, *argv)
    return (b"EVAL", body, numkeys, *keys, *argv)


_script_admin = st.one_of(
    st.sampled_from(ALL_SCRIPTS).map(lambda s: (b"SCRIPT", b"LOAD", s.body.encode())),
    st.lists(st.sampled_from(ALL_SCRIPTS[:6]), min_size=1, max_size=3).map(
        lambda ss: (b"SCRIPT", b"EXISTS", *(_sha(s.body) for s in ss))),
    st.just((b"SCRIPT", b"FLUSH")),
)


def _sha(body: str) -> bytes:
    from hashlib import sha1

    return sha1(body.encode()).hexdigest().encode()


_subscriber_commands = st.one_of(
    st.builds(lambda h, cs: h + tuple(cs), _cmd("subscribe"),
              st.lists(_pick(CHANNELS), min_size=1, max_size=2)),
    st.builds(lambda h, cs: h + tuple(cs), _cmd("unsubscribe"),
              st.lists(_pick(CHANNELS), max_size=2)),
    _cmd("ping"),
    _cmd("ping", _pick((b"hi",))),
    _cmd("get", _key),
)


_watch = st.builds(lambda h, ks: h + tuple(ks), _cmd("watch"),
                   st.lists(_key, min_size=1, max_size=2))
# what a transaction client says: WATCH, MULTI, work, EXEC most; the rest for the errors
_tx_commands = _weighted(
    (3, _watch),
    (3, _cmd("multi")),
    (3, _cmd("exec")),
    (1, _cmd("discard")),
    (1, _cmd("unwatch")),
    (6, _data_commands),
    (1, _script_call()),
    (1, _bad_commands),
    (1, st.just((b"CLIENT", b"ID"))),
    (1, st.one_of(st.just((b"CLIENT", b"GETNAME")),
                  st.tuples(st.just(b"CLIENT"), st.sampled_from((b"SETNAME", b"setname")),
                            st.sampled_from((b"worker-1", b"", b"a b", b"lock\n"))))),
)


def actions() -> st.SearchStrategy[Action]:
    """One step of a sequence; repeats in the list weight the draw (data commands
    on client 0 most, then scripts, transactions, errors, subscribers and pauses)."""
    data = st.builds(Step, st.just(0), _data_commands)
    script = st.builds(Step, st.just(0), _script_call())
    return _weighted(
        (9, data),
        (2, script),
        (1, st.builds(Step, st.just(0), _bad_commands | _script_admin)),
        (1, st.builds(Step, st.sampled_from((1, 2)), _subscriber_commands)),
        (1, st.builds(Pause, st.sampled_from(PAUSES_MS))),
        (1, st.builds(Step, st.sampled_from(TX_CLIENTS), _tx_commands)),
        (1, st.builds(Step, st.just(0),
                      st.sampled_from(((b"CLIENT", b"ID"), (b"UNWATCH",), (b"WAIT", b"0", b"0"),
                                       (b"WAIT", b"1", b"1"))) | _watch)),
    )


@st.composite
def _tx_block(draw: st.DrawFn) -> list[Action]:
    """One client's optimistic transaction, WATCH ... MULTI ... EXEC, in order."""
    client = draw(st.sampled_from(TX_CLIENTS))
    steps: list[Action] = []
    expiring = draw(st.integers(0, 2)) == 0  # a lock that may expire before EXEC
    if expiring:
        key = draw(_key)
        steps.append(Step(client, (b"SET", key, b"tok-a", b"PX",
                                   draw(st.sampled_from((b"10", b"25"))))))
        steps.append(Step(client, (b"WATCH", key)))
    elif draw(st.integers(0, 4)):
        steps.append(Step(client, draw(_watch)))
        if draw(st.booleans()):
            steps.append(Step(client, draw(_cmd("get", _key))))
    steps.append(Step(client, draw(_cmd("multi"))))
    if expiring and draw(st.booleans()):
        steps.append(Pause(30))
    inside = st.one_of(_data_commands, _data_commands, _script_call(),
                       st.just((b"CLIENT", b"ID")), st.just((b"WAIT", b"1", b"1")),
                       _bad_commands, _watch, _cmd("multi"))
    steps.extend(Step(client, w) for w in draw(st.lists(inside, min_size=1, max_size=3)))
    end = draw(st.sampled_from(((b"EXEC",),) * 6 + ((b"DISCARD",), (b"exec",))))
    steps.append(Step(client, end))
    return steps


@st.composite
def _set_block(draw: st.DrawFn) -> list[Action]:
    """A set's life on one key: members added, asked, removed (often all of them),
    then the key looked at, so SREM's deletion of an emptied set shows."""
    key = draw(st.sampled_from((b"s1", b"s1", b"k1")))
    members = draw(st.lists(_member, min_size=1, max_size=3, unique=True))
    asks = ((b"SISMEMBER", key, members[0]), (b"SMEMBERS", key), (b"SCARD", key),
            (b"SMISMEMBER", key, *members, b"absent"))
    steps: list[Action] = [Step(0, (b"SADD", key, *members))]
    steps += [Step(0, a) for a in draw(st.lists(st.sampled_from(asks), max_size=2))]
    steps.append(Step(0, (b"SREM", key, *(members if draw(st.integers(0, 2)) else members[:1]))))
    looks = st.sampled_from((b"TYPE", b"EXISTS", b"GET", b"SMEMBERS", b"SCARD", b"SADD"))
    steps += [Step(0, (w, key) if w != b"SADD" else (w, key, b"m2"))
              for w in draw(st.lists(looks, min_size=1, max_size=2))]
    return steps


@st.composite
def _counter_block(draw: st.DrawFn) -> list[Action]:
    """A counter with a TTL (a fence, a rate limit): set, counted, its TTL read, so a
    count that drops or keeps the TTL wrongly shows. (Met by chance in the free mix
    only about once in a thousand sequences.)"""
    key = draw(_key)
    ttl = draw(st.sampled_from(((b"PX", b"20000"), (b"EX", b"30"))))
    steps: list[Action] = [Step(0, (b"SET", key, draw(_pick((b"0", b"41", b"-1"))), *ttl))]
    steps += [Step(0, c) for c in draw(st.lists(st.sampled_from(
        ((b"INCR", key), (b"DECR", key), (b"INCRBY", key, b"5"), (b"DECRBY", key, b"2"))),
        min_size=1, max_size=2))]
    steps.append(Step(0, (draw(st.sampled_from((b"PTTL", b"TTL"))), key)))
    return steps


@st.composite
def _sequence(draw: st.DrawFn, n: int) -> list[Action]:
    """``n`` actions with up to two transactions and two short stories (a set's life,
    a counter with a TTL) spread through them, so other clients' writes (and
    expiries) fall between a WATCH and its EXEC, or inside a story."""
    seq: list[Action] = draw(st.lists(actions(), min_size=n, max_size=n))
    blocks = draw(st.lists(_tx_block(), max_size=2))
    blocks += draw(st.lists(st.one_of(_set_block(), _counter_block()), max_size=2))
    for block in blocks:
        spots = sorted(draw(st.lists(st.integers(0, len(seq)), min_size=len(block),
                                     max_size=len(block))))
        for offset, (spot, step) in enumerate(zip(spots, block, strict=True)):
            seq.insert(spot + offset, step)
    return seq


def sequences(min_size: int = 4, max_size: int = 40) -> st.SearchStrategy[list[Action]]:
    """Sequences whose length is drawn first, so long ones are as common as short
    ones (plain ``st.lists`` favours short lists); both shrink."""
    return st.integers(min_size, max_size).flatmap(lambda n: _sequence(n))


# -- comparing replies ------------------------------------------------------------------


def _error_view(exc: BaseException) -> tuple[str, str]:
    return ("error", f"{type(exc).__name__}: {exc}")


def model_view(reply: object) -> object:
    """The model's reply as redis-py would hand it to a user."""
    if isinstance(reply, ReplyError):
        return _error_view(BaseParser.parse_error(reply.message))
    if isinstance(reply, list):
        return [model_view(r) for r in reply]
    if isinstance(reply, bytes):
        return bytes(reply)
    return reply


def real_view(reply: object) -> object:
    if isinstance(reply, BaseException):
        return _error_view(reply)
    if isinstance(reply, list):
        return [real_view(r) for r in reply]
    return reply


def _normalise(argv: Sequence[bytes], view: object) -> object:
    """Undo known, documented order differences (hash, set and channel iteration)."""
    name = argv[0].lower()
    if name == b"hgetall" and isinstance(view, list):
        return sorted(zip(view[::2], view[1::2], strict=True))
    if name == b"smembers" and isinstance(view, list):  # an encoding's order: a set
        return sorted(view)
    if name == b"unsubscribe" and len(argv) == 1 and isinstance(view, list):
        return (sorted(str(v[1]) for v in view), [v[2] for v in view])
    return view


def _close(a: object, b: object, tolerance: int) -> bool:
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        if a < 0 or b < 0:
            return a == b
        return abs(a - b) <= tolerance
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, tolerance) for x, y in zip(a, b, strict=True))
    return a == b


_TIMING_BODIES = {s.body.encode() for s in ALL_SCRIPTS if s.timing}
_TIMING_SHAS = {_sha(s.body) for s in ALL_SCRIPTS if s.timing}


def same(argv: Sequence[bytes], model: object, real: object,
         queued: Sequence[Sequence[bytes]] = ()) -> bool:
    """Equal, but PTTL within the tolerance and TTL within a second; an EXEC's
    replies compared one by one with the commands it ran (``queued``)."""
    name = argv[0].lower()
    if name == b"exec" and isinstance(model, list) and isinstance(real, list):
        return len(model) == len(real) == len(queued) and all(
            same(q, m, r) for q, m, r in zip(queued, model, real, strict=True))
    if name in (b"pttl", b"pexpiretime"):
        return _close(model, real, PTTL_TOLERANCE_MS)
    if name == b"expiretime":
        return _close(model, real, 1)
    if name == b"time" and isinstance(model, list) and isinstance(real, list):
        # the second within one, the microseconds the model does not keep
        return len(model) == len(real) == 2 and abs(int(model[0]) - int(real[0])) <= 1
    if name == b"ttl":
        return _close(model, real, 1)
    if name in (b"eval", b"evalsha") and len(argv) > 1 and (
        argv[1] in _TIMING_BODIES or argv[1].lower() in _TIMING_SHAS
    ):
        return _close(model, real, PTTL_TOLERANCE_MS)
    return _normalise(argv, model) == _normalise(argv, real)


# -- running -------------------------------------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Transcript:
    """What happened, step by step, for the failure message."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])


class RealClients:
    """Five raw RESP2 connections to one real server (no redis-py reply callbacks)."""

    def __init__(self, host: str, port: int, timeout: float = 3.0) -> None:
        self.conns = [
            Connection(host=host, port=port, protocol=2, socket_timeout=timeout)
            for _ in range(N_CLIENTS)
        ]
        self.ids: list[int] = []  # each connection's CLIENT ID, asked out of band
        for c, conn in enumerate(self.conns):
            conn.connect()
            self.send(c, [b"CLIENT", b"ID"])
            self.ids.append(int(self.read(c)))  # type: ignore[call-overload]

    def close(self) -> None:
        for conn in self.conns:
            conn.disconnect()

    def read(self, client: int) -> object:
        try:
            return self.conns[client].read_response()
        except redis.ResponseError as exc:
            return exc

    def send(self, client: int, argv: Sequence[bytes]) -> None:
        self.conns[client].send_command(*argv)

    def pending(self, client: int, wait: float = 0.0) -> bool:
        return self.conns[client].can_read(timeout=wait)

    def reset(self) -> None:
        """Every connection unsubscribed and drained, the server empty."""
        for c in (1, 2):
            self.send(c, [b"UNSUBSCRIBE"])
            while True:
                reply = self.read(c)
                if isinstance(reply, list) and reply[:1] == [b"unsubscribe"] and reply[2] == 0:
                    break
            while self.pending(c):
                self.read(c)
        for c in (0, *TX_CLIENTS):  # out of MULTI, nothing watched, no name
            self.send(c, [b"RESET"])
            self.read(c)
        for argv in ([b"FLUSHALL"], [b"SCRIPT", b"FLUSH"]):
            self.send(0, argv)
            self.read(0)


def _guard(model: RedisModel, lag: int = 0) -> int:
    """Wait until no key's deadline is near, then return the send time in ms.

    ``lag``: the slowest round trip so far; the server may have run a command
    (and started a TTL) that much later than the model did, so the band after
    a deadline widens by it."""
    after = GUARD_AFTER_MS + lag
    while True:
        now = _now_ms()
        near = [d for d in model.ks.deadlines.values() if d - GUARD_BEFORE_MS <= now <= d + after]
        if not near:
            return now
        time.sleep((max(near) + after + 1 - now) / 1000)


class TimingUnsure(Mismatch):
    """A mismatch in a sequence where some command took longer than the guard band:
    the model's clock and the server's may have disagreed about a deadline."""


def run_sequence(
    seq: Iterable[Action],
    real: RealClients,
    model_factory: Callable[[], RedisModel],
    attempts: int = 3,
) -> None:
    """Play ``seq`` on a fresh model and the (reset) real server; raise Mismatch.

    A mismatch in a sequence where the machine was too slow for the guard band
    (a round trip of ``GUARD_BEFORE_MS`` or more) says nothing about the model:
    that sequence is replayed, up to ``attempts`` times. A real difference
    fails every time.
    """
    seq = list(seq)
    for attempt in range(attempts):
        try:
            _run_once(seq, real, model_factory)
            return
        except TimingUnsure:
            if attempt == attempts - 1:
                raise


def _rank_ids(argv: Sequence[bytes], view: object, ids: Sequence[int],
              queued: Sequence[Sequence[bytes]] = ()) -> object:
    """CLIENT ID replies as the rank of the id among the sequence's connections:
    stable per connection and ordered by connection on both sides, which is
    what Redis promises (its absolute ids count every connection ever made)."""
    name = argv[0].lower()
    if name == b"client" and len(argv) == 2 and argv[1].lower() == b"id":
        return ("id-rank", sorted(ids).index(view)) if view in ids else view
    if name == b"exec" and isinstance(view, list) and len(view) == len(queued):
        return [_rank_ids(q, v, ids) for q, v in zip(queued, view, strict=True)]
    return view


def _expire_watched_62(model: RedisModel, real: RealClients, argv: Sequence[bytes],
                       now: int, log: Transcript) -> None:
    """Redis 6.2 races its active expiry cycle when WATCH names a key already
    expired but not yet deleted (EXEC fails only if the key was still there).
    The model takes 7.0's rule (watching a missing key), so on 6.2 the runner
    first deletes such keys on both sides with an EXISTS from client 0."""
    for key in argv[1:]:
        deadline = model.ks.deadlines.get(key)
        if deadline is not None and now > deadline:
            model.execute([b"EXISTS", key], now, 0)
            real.send(0, [b"EXISTS", key])
            real.read(0)
            log.add(f"c0: EXISTS {key.decode(errors='replace')} (6.2: expire before WATCH)")


def _run_once(seq: list[Action], real: RealClients,
              model_factory: Callable[[], RedisModel]) -> None:
    real.reset()
    model = model_factory()
    order = sorted(range(N_CLIENTS), key=lambda c: real.ids[c])
    for c in order:  # the model numbers connections in the real connection order
        model.connect(c)
    queued: dict[int, list[list[bytes]]] = {}
    log = Transcript()
    slow = False
    lag = 0
    for action in seq:
        if isinstance(action, Pause):
            time.sleep(action.ms / 1000)
            log.add(action.text())
            continue
        now = _guard(model, lag)
        argv = [a.resolve(now) if isinstance(a, AbsTime) else a for a in action.argv]
        if (argv[0].lower() == b"watch" and not model.dialect.modern
                and not model.in_multi(action.client)):
            _expire_watched_62(model, real, argv, now, log)
        outcome = model.execute(argv, now, action.client)
        real.send(action.client, argv)
        expected = outcome.reply
        blocked = expected is BLOCKED
        if blocked:  # the real server waits out the small timeout
            model.unblock(action.client)
            expected = None
        multi = argv[0].lower() in (b"subscribe", b"unsubscribe") and isinstance(expected, list)
        if multi:
            got: object = [real.read(action.client) for _ in expected]  # type: ignore[union-attr]
        else:
            got = real.read(action.client)
        if not blocked:
            lag = max(lag, _now_ms() - now)
            if lag >= GUARD_BEFORE_MS:
                slow = True
        ran = queued.get(action.client, [])
        mv = _rank_ids(argv, model_view(expected), model.connected_ids(), ran)
        rv = _rank_ids(argv, real_view(got), real.ids, ran)
        log.add(f"{action.text()}\n    model: {mv!r}\n    real:  {rv!r}")
        if not same(argv, mv, rv, ran):
            error = TimingUnsure if slow else Mismatch
            raise error(f"reply differs at step {len(log.lines)}:\n{log.tail()}")
        if model.in_multi(action.client):
            if expected == b"QUEUED" and type(expected) is not bytes:
                queued.setdefault(action.client, []).append(argv)
        else:
            queued.pop(action.client, None)
        _check_deliveries(outcome.effects, real, log)
    for c in (1, 2):
        if real.pending(c, 0.005):
            extra = real_view(real.read(c))
            raise Mismatch(f"client {c} got an unexpected push {extra!r}:\n{log.tail()}")


def _check_deliveries(effects: tuple[object, ...], real: RealClients, log: Transcript) -> None:
    for effect in effects:
        if isinstance(effect, Delivery):
            got = real_view(real.read(effect.client))
            log.add(f"    push to c{effect.client}: model {effect.push!r} real {got!r}")
            if got != effect.push:
                raise Mismatch(f"pub/sub delivery differs:\n{log.tail()}")
        elif isinstance(effect, Served):  # pragma: no cover - client 0 never waits here
            raise Mismatch(f"unexpected BLPOP service {effect!r}")
    for c in (1, 2):
        if not any(isinstance(e, Delivery) and e.client == c for e in effects) and real.pending(c):
            extra = real_view(real.read(c))
            raise Mismatch(f"client {c} got an unexpected push {extra!r}:\n{log.tail()}")
