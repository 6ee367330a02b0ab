"""EVAL, EVALSHA and SCRIPT: the real Lua text, run in Lua 5.1 as Redis runs it.

The script body is compiled once (chunk name ``@user_script``, as Redis names
it) and run in a sandbox like Redis's: KEYS and ARGV, the ``redis`` table,
the base/string/table/math/bit libraries, no ``os``/``io``/``require``, and
read-only globals. ``redis.call``/``redis.pcall`` reach the model through the
``ScriptHost`` protocol, at the script's one instant. Replies convert both
ways by Redis's rules, and errors carry the decorations of the dialect's
Redis version (6.2 and 7.x word them differently).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lupa import lua51

from models.redis.number import LLONG_MIN, parse_int
from models.redis.reply import NOSCRIPT, NOT_INTEGER, OK, Reply, ReplyError, Status

INSTRUCTION_BUDGET = 50_000_000  # a runaway script errors out instead of hanging the model

_LuaTable = type(lua51.LuaRuntime().table())


class ScriptHost(Protocol):
    """What a running script needs from the server it runs in."""

    def classify(self, argv: list[bytes]) -> str:
        """``ok``, ``unknown``, ``arity`` or ``denied`` (not allowed from scripts)."""

    def call(self, argv: list[bytes]) -> Reply:
        """Run a command judged ``ok``, now."""


# Texts of redis.call's own errors: (7.x, 6.2).
_CALL_ERRORS = {
    "noargs": ("Please specify at least one argument for this redis lib call",
               "Please specify at least one argument for redis.call()"),
    "badargs": ("Lua redis lib command arguments must be strings or integers",
                "Lua redis() command arguments must be strings or integers"),
    "unknown": ("Unknown Redis command called from script",
                "Unknown Redis command called from Lua script"),
    "arity": ("Wrong number of args calling Redis command from script",
              "Wrong number of args calling Redis command From Lua script"),
    "denied": ("This Redis command is not allowed from script",
               "This Redis command is not allowed from scripts"),
}

# The Lua side: sandbox, redis.* functions, error capture. Runs once per engine.
_BOOT = r"""
local py_call, py_pcall, py_pending, py_random, py_sha1, bitlib, modern = ...
local getinfo, select, type, error, tostring = debug.getinfo, select, type, error, tostring

local function user_line()
  local level = 2
  while true do
    local info = getinfo(level, 'Sl')
    if not info then return 0 end
    if info.source == '@user_script' then return info.currentline end
    level = level + 1
  end
end

local redis = {}
redis.call = py_call
redis.pcall = py_pcall
if modern then
  redis.error_reply = function(msg)
    msg = tostring(msg)
    if msg:sub(1, 1) == '-' then msg = msg:sub(2) end
    if not msg:find(' ', 1, true) then msg = 'ERR ' .. msg end
    return {err = msg}
  end
else
  redis.error_reply = function(msg) return {err = msg} end
end
redis.sha1hex = function(s) return py_sha1(tostring(s)) end
redis.status_reply = function(msg) return {ok = msg} end
redis.log = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3

local sandbox_math = {}
for k, v in pairs(math) do sandbox_math[k] = v end
sandbox_math.random = function(m, n)
  local r = py_random()
  if m == nil then return r end
  if n == nil then
    if m < 1 then error('interval is empty', 2) end
    return math.floor(r * m) + 1
  end
  if m > n then error('interval is empty', 2) end
  return math.floor(r * (n - m + 1)) + m
end
sandbox_math.randomseed = function() end

local env = {
  assert = assert, error = error, getmetatable = getmetatable, ipairs = ipairs,
  next = next, pairs = pairs, pcall = pcall, rawequal = rawequal, rawget = rawget,
  rawset = rawset, select = select, tonumber = tonumber, tostring = tostring,
  type = type, unpack = unpack, xpcall = xpcall, gcinfo = gcinfo,
  string = string, table = table, math = sandbox_math, bit = bitlib, redis = redis,
}
-- present in Redis, not modelled here: calling them is an explicit error
local function absent(lib)
  return setmetatable({}, {__index = function(_, fn)
    return function() error('locksim does not model ' .. lib .. '.' .. tostring(fn), 2) end
  end})
end
env.cjson, env.struct, env.cmsgpack = absent('cjson'), absent('struct'), absent('cmsgpack')
-- pcall/xpcall see what redis.call raised (its error, not the Python exception that
-- carried it out of the call); 7.0's pcall turns an {err=...} table into its string
local raw_pcall, raw_xpcall, unpack_ = pcall, xpcall, unpack
local function caught(err)
  local pending = py_pending()
  if pending ~= nil then return pending end
  return err
end
local function pack(...) return {n = select('#', ...), ...} end
env.pcall = function(f, ...)
  local r = pack(raw_pcall(f, ...))
  if r[1] then return unpack_(r, 1, r.n) end
  local e = caught(r[2])
  if modern and type(e) == 'table' and e.err ~= nil then e = e.err end
  return false, e
end
env.xpcall = function(f, h)
  return raw_xpcall(f, function(e) return h(caught(e)) end)
end
-- older scripts switch to effects replication first: both no-ops in 7.0, which has only it
redis.replicate_commands = function() return true end
redis.set_repl = function() end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_ALL = 0, 1, 3
redis.REPL_SLAVE, redis.REPL_REPLICA = 2, 2
-- present in Redis's sandbox but nil-valued: reading them is not an error
local nil_globals = {loadstring = true, setmetatable = true}
if not modern then env.print = print end
env._G = env
setmetatable(env, {
  __index = function(_, name)
    if nil_globals[name] then return nil end
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
})

local function handler(err)
  local pending, pending_line = py_pending()
  if pending ~= nil then return {pending, pending_line} end
  local level, info = 2, nil
  while true do
    local i = getinfo(level, 'Sl')
    if not i then break end
    if i.source == '@user_script' then info = i break end
    level = level + 1
  end
  local line = info and info.currentline or 0
  return {err, line}
end

local function run(fn, keys, args, budget)
  rawset(env, 'KEYS', keys)
  rawset(env, 'ARGV', args)
  setfenv(fn, env)
  debug.sethook(function() error('Script exceeded the instruction budget', 2) end, '', budget)
  local ok, result = xpcall(fn, handler)
  debug.sethook()
  return ok, result
end

local function compile(body)
  return loadstring(body, '@user_script')
end

return run, compile, user_line
"""


def _lua_number_to_reply(value: float) -> int:
    """C's ``(long long)`` cast: truncation, and LLONG_MIN when out of range or NaN."""
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else LLONG_MIN
    if math.isnan(value) or value >= 2.0**63 or value < -(2.0**63):
        return LLONG_MIN
    return int(value)


def _number_to_arg(value: float) -> bytes:
    """A Lua number passed to redis.call becomes text as Redis prints it (%.17g of the
    double: lupa hands an integral one over as an int, 1e17 must still read ``1e+17``;
    C prints the NaN of 0/0 as ``-nan``)."""
    number = float(value)
    if math.isnan(number):
        return b"-nan" if math.copysign(1.0, number) < 0 else b"nan"
    return b"%.17g" % number


class _ScriptRaise(Exception):
    """redis.call failed: the Lua error object waits in ``ScriptEngine._pending``."""


def _sha1hex(data: bytes) -> bytes:
    return hashlib.sha1(data).hexdigest().encode()


def _int32(x: float) -> int:
    """BitOp's ``tobit``: wrap to a signed 32-bit integer."""
    v = int(x) & 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _bit_library() -> dict[bytes, Any]:
    """The BitOp library Redis's Lua carries (32-bit signed results)."""

    def fold(op: Any) -> Any:
        def f(first: float, *rest: float) -> int:
            acc = _int32(first)
            for x in rest:
                acc = _int32(op(acc & 0xFFFFFFFF, _int32(x) & 0xFFFFFFFF))
            return acc

        return f

    def tohex(x: float, n: float = 8) -> bytes:
        n = int(n)
        digits = "0123456789ABCDEF" if n < 0 else "0123456789abcdef"
        n = abs(n) or 8
        v = _int32(x) & 0xFFFFFFFF
        out = ""
        for _ in range(min(n, 8)):
            out = digits[v & 15] + out
            v >>= 4
        return out.encode()

    def rol(x: float, n: float) -> int:
        v, k = _int32(x) & 0xFFFFFFFF, int(n) & 31
        return _int32((v << k) | (v >> (32 - k)))

    def ror(x: float, n: float) -> int:
        v, k = _int32(x) & 0xFFFFFFFF, int(n) & 31
        return _int32((v >> k) | (v << (32 - k)))

    return {
        b"tobit": _int32,
        b"tohex": tohex,
        b"bnot": lambda x: _int32(~_int32(x)),
        b"band": fold(lambda a, b: a & b),
        b"bor": fold(lambda a, b: a | b),
        b"bxor": fold(lambda a, b: a ^ b),
        b"lshift": lambda x, n: _int32((_int32(x) & 0xFFFFFFFF) << (int(n) & 31)),
        b"rshift": lambda x, n: _int32((_int32(x) & 0xFFFFFFFF) >> (int(n) & 31)),
        b"arshift": lambda x, n: _int32(_int32(x) >> (int(n) & 31)),
        b"rol": rol,
        b"ror": ror,
        b"bswap": lambda x: _int32(int.from_bytes((_int32(x) & 0xFFFFFFFF).to_bytes(4, "little"),
                                                  "big")),
    }


class _Rand48:
    """Redis's ``redisLrand48``, reseeded with 0 before every script run."""

    A, C, MASK = 0x5DEECE66D, 0xB, (1 << 48) - 1
    INT32_MAX = 2**31 - 1

    def __init__(self) -> None:
        self.x = 0x330E

    def seed(self) -> None:
        self.x = 0x330E

    def next(self) -> float:
        self.x = (self.A * self.x + self.C) & self.MASK
        return ((self.x >> 17) % self.INT32_MAX) / self.INT32_MAX


_BOOT_BYTECODE: list[bytes] = []


def _boot_bytecode(lua: Any, loader: Any) -> bytes:
    """``_BOOT`` compiled once per process (``string.dump``): an engine per run
    (every explored schedule builds one) loads bytecode instead of compiling."""
    if not _BOOT_BYTECODE:
        compiled = loader(_BOOT.encode())
        _BOOT_BYTECODE.append(lua.eval("string.dump")(compiled))
    return _BOOT_BYTECODE[0]


_TRUSTED: set[bytes] = set()  # sha1 hex of scripts that leave the Lua state as they found it
_POOL: dict[tuple[int, int], list[ScriptEngine]] = {}
_POOL_SIZE = 4


def trust(*bodies: str | bytes) -> None:
    """Declare scripts that write no global and no library table (a lock's
    release or extend script): an engine that ran only such scripts is as good
    as new, so a later run in this process may reuse it (see ``acquire``)."""
    for body in bodies:
        _TRUSTED.add(_sha1hex(body.encode() if isinstance(body, str) else body))


Call = Callable[[list[bytes]], Reply]
"""What a twin calls for ``redis.call``: the reply, or it raises as the Lua would."""


@dataclass(frozen=True, slots=True)
class Twin:
    """A trusted one-line script, step for step in Python (see ``native``)."""

    run: Callable[[list[bytes], list[bytes], Call], Reply]
    keys: int  # the KEYS and ARGV it reads: fewer, and the script runs in Lua
    args: int


_NATIVE: dict[bytes, Twin] = {}  # sha1 hex -> its twin


def native(body: str, run: Callable[[list[bytes], list[bytes], Call], Reply],
           keys: int, args: int) -> None:
    """Run ``body`` as ``run(KEYS, ARGV, call)`` instead of in Lua: an EVAL of a lock's
    release costs a tenth of a small explored schedule in Lua, mostly crossing into it.

    ``run`` must do what the script does, call for call: the same ``redis.call``
    argv (``call`` raises where redis.call would, and the error is worded as the
    script's), comparisons as Lua makes them (GET's nil is never equal to a
    string) and the script's return value. Only a trusted script on one line
    qualifies (its errors all name line 1), and only when given at least ``keys``
    KEYS and ``args`` ARGV (a missing one is nil in Lua: that path stays in Lua).
    ``tests/unit/test_native_scripts.py`` compares each twin with its Lua."""
    sha = _sha1hex(body.encode())
    if sha not in _TRUSTED or "\n" in body:
        raise ValueError("only a trusted script on one line can have a native twin")
    _NATIVE[sha] = Twin(run, keys, args)


class _TwinCallFailed(Exception):
    """A twin's redis.call failed: (status, message) as ``_dispatch`` reports it."""

    def __init__(self, status: str, value: bytes | None) -> None:
        super().__init__(status)
        self.status, self.value = status, value


class ScriptEngine:
    """A script cache and a Lua 5.1 runtime speaking one Redis version's dialect.

    Building one costs about 100 µs, a tenth of a small explored schedule, so
    runs take engines from a per-process pool (``acquire``) and give them back
    (``release``). An engine goes back only while every script it compiled is
    ``trust``-ed: those cannot change what a later script sees, so a reused
    engine behaves as a new one. Only ``gcinfo()`` (Lua's memory in use) can
    tell them apart, as it tells two Redis servers apart, and table addresses
    (``tostring({})``) vary between any two runtimes: a script that returns
    either is outside the determinism promise (docs/redis-model.md)."""

    _host: ScriptHost | None
    _pending: tuple[Any, int] | None

    @classmethod
    def acquire(cls, version: tuple[int, int]) -> ScriptEngine:
        """A clean engine for ``version``: a pooled one if any, else a new one."""
        pool = _POOL.get(version)
        if pool:
            try:
                return pool.pop()
            except IndexError:  # another thread took the last one
                pass
        return cls(version)

    def release(self) -> None:
        """Back to the pool, empty of scripts, unless an untrusted script ran here."""
        if self._tainted:
            return
        self.scripts.clear()
        self._pending = None
        self._host = None
        pool = _POOL.setdefault(self.version, [])
        if len(pool) < _POOL_SIZE:
            pool.append(self)

    def keep_out_of_pool(self) -> None:
        """This engine is shared or changed outside a run: never reuse it."""
        self._tainted = True

    def __init__(self, version: tuple[int, int] = (7, 0)) -> None:
        self.version = version
        self.modern = version >= (7, 0)
        self.lua = lua51.LuaRuntime(encoding=None, unpack_returned_tuples=True,
                                    register_eval=False)
        self.scripts: dict[bytes, Any] = {}  # sha (lowercase hex) -> compiled function
        self._compiled: dict[bytes, Any] = {}  # trusted scripts, kept across reuses
        self._tainted = False
        self._host = None
        self._rand = _Rand48()
        texts = {k: v[0 if self.modern else 1].encode() for k, v in _CALL_ERRORS.items()}
        loader = self.lua.eval("function(src) return loadstring(src, '=locksim') end")
        chunk = loader(_boot_bytecode(self.lua, loader))
        self._texts = texts
        self._pending = None
        self._run, self._compile, self._user_line = chunk(
            self._lua_call, self._lua_pcall, self._take_pending, self._rand.next, _sha1hex,
            self.lua.table_from(_bit_library()), self.modern)
        self._table = self.lua.table_from
        self._is_table = self.lua.eval("function(v) return type(v) == 'table' end")

    # -- commands ---------------------------------------------------------------
    def eval(self, argv: list[bytes], host: ScriptHost) -> Reply:
        body = argv[1]
        sha = hashlib.sha1(body).hexdigest().encode()
        parsed = self._keys_and_args(argv)
        if isinstance(parsed, ReplyError):
            return parsed
        fn = self.scripts.get(sha)
        if fn is None:
            fn = self._load(body, sha)
            if isinstance(fn, ReplyError):
                return fn
        return self._execute(fn, sha, parsed, host)

    def evalsha(self, argv: list[bytes], host: ScriptHost) -> Reply:
        sha = argv[1].lower()
        if len(sha) != 40:  # evalShaCommand refuses it before reading numkeys
            return NOSCRIPT
        parsed = self._keys_and_args(argv)
        if isinstance(parsed, ReplyError):
            return parsed
        fn = self.scripts.get(sha)
        if fn is None:
            return NOSCRIPT
        return self._execute(fn, sha, parsed, host)

    def script(self, argv: list[bytes]) -> Reply:
        sub = argv[1].lower()
        shown = argv[1].decode(errors="replace")
        argc = len(argv)
        if sub == b"load" and argc == 3:
            body = argv[2]
            sha = hashlib.sha1(body).hexdigest().encode()
            if sha not in self.scripts:
                fn = self._load(body, sha)
                if isinstance(fn, ReplyError):
                    return fn
            return sha
        if sub == b"exists" and (argc >= 3 or (argc == 2 and not self.modern)):
            return [int(a.lower() in self.scripts) for a in argv[2:]]
        if sub == b"flush":
            if argc > 3 or (argc == 3 and argv[2].upper() not in (b"SYNC", b"ASYNC")):
                return ReplyError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
            self.flush()
            return OK
        if self.modern:
            if sub in (b"load", b"exists", b"help", b"kill"):
                return ReplyError(
                    f"ERR wrong number of arguments for 'script|{sub.decode()}' command")
            return ReplyError(f"ERR unknown subcommand '{shown}'. Try SCRIPT HELP.")
        return ReplyError(
            f"ERR Unknown subcommand or wrong number of arguments for '{shown}'. "
            "Try SCRIPT HELP.")

    def flush(self) -> None:
        self.scripts.clear()

    # -- internals -----------------------------------------------------------------
    def _keys_and_args(self, argv: list[bytes]) -> tuple[list[bytes], list[bytes]] | ReplyError:
        numkeys = parse_int(argv[2])
        if numkeys is None:
            return NOT_INTEGER
        if numkeys > len(argv) - 3:
            return ReplyError("ERR Number of keys can't be greater than number of args")
        if numkeys < 0:
            return ReplyError("ERR Number of keys can't be negative")
        return argv[3 : 3 + numkeys], argv[3 + numkeys :]

    def _load(self, body: bytes, sha: bytes) -> Any:
        fn = self._compiled.get(sha)
        if fn is not None:
            self.scripts[sha] = fn
            return fn
        compiled = self._compile(body)
        fn, err = compiled if isinstance(compiled, tuple) else (compiled, None)
        if fn is None:
            text = err.decode(errors="replace") if isinstance(err, bytes) else str(err)
            return ReplyError(f"ERR Error compiling script (new function): {text}")
        self.scripts[sha] = fn
        if sha in _TRUSTED:
            self._compiled[sha] = fn
        else:
            self._tainted = True
        return fn

    def _execute(self, fn: Any, sha: bytes, parsed: tuple[list[bytes], list[bytes]],
                 host: ScriptHost) -> Reply:
        keys, args = parsed
        twin = _NATIVE.get(sha)
        if twin is not None and len(keys) >= twin.keys and len(args) >= twin.args:
            return self._run_twin(twin, keys, args, host, sha)
        self._host = host
        self._rand.seed()
        self._pending = None  # never an earlier script's error
        try:
            ok, result = self._run(fn, self._table(keys), self._table(args), INSTRUCTION_BUDGET)
        finally:
            self._host = None
        if ok:
            return self._to_reply(result)
        return self._raised(result, sha)

    def _run_twin(self, twin: Twin, keys: list[bytes], args: list[bytes], host: ScriptHost,
                  sha: bytes) -> Reply:
        """``twin`` in place of the script: its calls go where ``redis.call``'s go."""

        def call(argv: list[bytes]) -> Reply:
            kind = host.classify(argv)
            if kind != "ok":
                raise _TwinCallFailed(kind, None)
            reply = host.call(argv)
            if isinstance(reply, ReplyError):
                raise _TwinCallFailed("err", reply.message.encode())
            return reply

        self._rand.seed()
        try:
            return twin.run(keys, args, call)
        except _TwinCallFailed as failed:
            # as _lua_call leaves it for the error handler, at the script's only line
            msg = failed.value if failed.status == "err" else self._own_error(failed.status, 1)
            assert msg is not None
            return self._raised({1: self._table({b"err": msg}) if self.modern else msg, 2: 1},
                                sha)

    def _raised(self, captured: Any, sha: bytes) -> ReplyError:
        """A script error as Redis words it, with its version's decorations."""
        err, line = captured[1], captured[2]
        sha_text = sha.decode()
        if self.modern:
            if self._is_table(err):
                inner = err[b"err"]
                msg = inner.decode(errors="replace") if isinstance(inner, bytes) else str(inner)
            else:
                msg = "ERR " + _text(err)
            return ReplyError(f"{msg} script: {sha_text}, on @user_script:{line}.")
        if self._is_table(err):
            return ReplyError(
                f"ERR Error running script (call to f_{sha_text}): @err_handler_def:9: "
                "err_handler_def:9: attempt to concatenate local 'err' (a table value)")
        return ReplyError(
            f"ERR Error running script (call to f_{sha_text}): @user_script:{line}: {_text(err)}")

    def _dispatch(self, args: tuple[Any, ...]) -> tuple[str, Any]:
        """Check and run one ``redis.call``: ("ok", lua value), ("err", message),
        or (kind, None) for redis.call's own errors (noargs, badargs, unknown...)."""
        if not args:
            return "noargs", None
        argv = []
        for a in args:
            if isinstance(a, bytes):
                argv.append(a)
            elif isinstance(a, (int, float)) and not isinstance(a, bool):
                argv.append(_number_to_arg(a))
            else:
                return "badargs", None
        host = self._host
        assert host is not None
        kind = host.classify(argv)
        if kind != "ok":
            return kind, None
        reply = host.call(argv)
        if isinstance(reply, ReplyError):
            return "err", reply.message.encode()
        return "ok", self._to_lua(reply)

    def _own_error(self, kind: str, line: int) -> bytes:
        text = self._texts[kind]
        if self.modern:
            return b"ERR " + text
        return b"@user_script: %d: %s" % (line, text)

    def _lua_call(self, *args: Any) -> Any:
        """``redis.call``: a C function to Lua, so the caller's frame (and line) stays."""
        status, value = self._dispatch(args)
        if status == "ok":
            return value
        line = self._user_line()
        msg = value if status == "err" else self._own_error(status, line)
        self._pending = (self._table({b"err": msg}) if self.modern else msg, line)
        raise _ScriptRaise

    def _lua_pcall(self, *args: Any) -> Any:
        """``redis.pcall``: the same, but an error comes back as an {err=...} table."""
        status, value = self._dispatch(args)
        if status == "ok":
            return value
        msg = value if status == "err" else self._own_error(status, self._user_line())
        return self._table({b"err": msg})

    def _take_pending(self) -> tuple[Any, Any]:
        pending, self._pending = self._pending, None
        return pending if pending is not None else (None, None)

    def _to_lua(self, reply: Reply) -> Any:
        """Redis -> Lua: nil becomes false, status {ok=...}, arrays tables."""
        if reply is None:
            return False
        if isinstance(reply, Status):
            return self._table({b"ok": bytes(reply)})
        if isinstance(reply, (bytes, int)):
            return reply
        if isinstance(reply, list):
            return self._table([self._to_lua(r) for r in reply])
        if isinstance(reply, ReplyError):
            return self._table({b"err": reply.message.encode()})
        raise TypeError(f"cannot pass {reply!r} to Lua")

    def _to_reply(self, value: Any) -> Reply:
        """Lua -> Redis: numbers truncate, false is nil, tables stop at the first nil."""
        if value is None or value is False:
            return None
        if value is True:
            return 1
        if isinstance(value, bytes):
            return value
        if isinstance(value, (int, float)):
            return _lua_number_to_reply(value)
        if self._is_table(value):
            err = value[b"err"]
            if isinstance(err, bytes):
                return ReplyError(err.decode(errors="replace"))
            ok = value[b"ok"]
            if isinstance(ok, bytes):
                return Status(ok)
            out: list[Reply] = []
            i = 1
            while True:
                item = value[i]
                if item is None:
                    return out
                out.append(self._to_reply(item))
                i += 1
        return None  # functions, userdata: Redis converts them to nil


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)
