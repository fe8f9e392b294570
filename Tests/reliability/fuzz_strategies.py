"""Hypothesis strategies for fuzzing the bridge: random JSON, params shaped by schema/ (and then
broken), random ids as JSON text, and hostile byte lines.

Everything generated is made harmless before it is sent (`defuse`): the bridge really runs what it is
given, as root, with isolation none. So every `cmd` starts with a short fixed command that ends in
`exit`, so the random rest is never run; file paths are made relative to the sandbox home (no leading
`/`, no `..`); a sandbox's `cwd` is a scratch directory; environment names that make bash run code
(`BASH_ENV`, `BASH_FUNC_*`, ...) are renamed; pty sessions always get a command.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

import reliability_harness as rh

PROTOCOL = rh.schema_check.protocol()
DEFS = PROTOCOL.defs

# Every client method but `shutdown` (it ends the bridge; it has its own tests), then the client's
# notifications.
REQUEST_METHODS = sorted(m for m in PROTOCOL.methods if m != "shutdown")
NOTIFICATION_METHODS = sorted(PROTOCOL.client_notifications)
ALL_METHODS = REQUEST_METHODS + NOTIFICATION_METHODS


def params_def(method: str) -> str:
    if method in PROTOCOL.methods:
        return PROTOCOL.methods[method]["params"]
    return PROTOCOL.client_notifications[method]


# --------------------------------------------------------------------------- markers
@dataclass(frozen=True)
class Known:
    """Stands for something the fuzz session has seen (a pid, a sandbox id, a request id); replaced by
    `FuzzState.resolve` when the case is sent, so that cases reach live processes and sandboxes."""
    kind: str  # "pid" | "sandbox" | "id"
    index: int


# --------------------------------------------------------------------------- JSON values
SPECIAL_NUMBERS = [0, -1, 1, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 + 5, -2**63 - 1,
                   10**30, -10**30, 1e300, -1e300, 5e-324, 0.5, 1.5, -0.0, 1e-7, 65535, 65536]
SPECIAL_STRINGS = ["", " ", "\x00", "a\x00b", "\ufffd", "\u2028", "é", "😀", "\\", "\"", "\n", "\r\n", "\t",
                   "default", "SIGKILL", "SIGTERM", "SIGRTMIN+1", "SIGFOO", "utf8", "base64", "none", "auto",
                   "bwrap", "root", "nobody", "65534", ".", "..", "~", "$HOME", "*", "%s%n", "AAAA", "=",
                   "x" * 300]

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(SPECIAL_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40), st.sampled_from(SPECIAL_STRINGS))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.one_of(st.text(max_size=12), st.sampled_from(SPECIAL_STRINGS)), inner,
                                            max_size=5)),
    max_leaves=12)


# --------------------------------------------------------------------------- schema-shaped params
def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = DEFS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _typed(schema: dict, name: str = "") -> st.SearchStrategy:
    """A value that fits `schema` most of the time (bounds are stretched on purpose)."""
    schema = _resolve(schema)
    if name == "pid" or schema is DEFS.get("Pid"):
        return st.one_of(st.builds(Known, st.just("pid"), st.integers(0, 1000)),
                         st.integers(-5, 2**31 + 5), st.sampled_from(SPECIAL_NUMBERS))
    if name in ("sandboxId",):
        return st.one_of(st.builds(Known, st.just("sandbox"), st.integers(0, 1000)), st.just("default"),
                         st.text(max_size=20))
    if name in ("id", "requestId") and schema.get("type") == ["string", "number", "null"]:
        return st.one_of(st.builds(Known, st.just("id"), st.integers(0, 1000)), json_scalars)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return st.one_of([_typed(s, name) for s in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_typed({**schema, "type": k}, name) for k in kind])
    if kind == "string":
        options = [st.text(max_size=30), st.sampled_from(SPECIAL_STRINGS)]
        if "pattern" in schema:
            options.append(st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: len(s) < 200))
        if "examples" in schema:
            options.append(st.sampled_from(schema["examples"]))
        return st.one_of(options)
    if kind == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        options = [st.integers(), st.sampled_from([n for n in SPECIAL_NUMBERS if isinstance(n, int)])]
        if lo is not None or hi is not None:
            a = lo if lo is not None else -(2**40)
            b = hi if hi is not None else a + 2**20
            options += [st.integers(a, b), st.sampled_from([a - 1, a, b, b + 1])]
        return st.one_of(options)
    if kind == "number":
        small = st.floats(0, 2, allow_nan=False)  # mostly short timeouts: cases must end quickly
        return st.one_of(small, st.integers(0, 3), st.sampled_from([0, 0.001, 1e-9, -1, -0.0, 1e300, 2**64]),
                         st.floats(allow_nan=False, allow_infinity=False))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(_typed(schema.get("items", {}), name), max_size=4)
    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        return _object(schema)
    return json_values


def _object(schema: dict) -> st.SearchStrategy:
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra = schema.get("additionalProperties", True)

    @st.composite
    def build(draw):
        out: dict[str, Any] = {}
        for key, sub in props.items():
            present = draw(st.integers(0, 9)) < (9 if key in required else 4)
            if not present:
                continue
            broken = draw(st.integers(0, 9)) == 0  # one in ten: any JSON value instead
            out[key] = draw(json_values if broken else _typed(sub, key))
        if isinstance(extra, dict) and extra:  # a map (envs, metadata): some entries
            for _ in range(draw(st.integers(0, 3))):
                key = draw(st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(
                    ["PATH", "HOME", "LANG", "FOO", "A=B", "", "X\x00Y", "LD_PRELOAD", "TERM", "SHELL"])))
                out[key] = draw(_typed(extra) if draw(st.integers(0, 9)) else json_values)
        if draw(st.integers(0, 9)) == 0:  # an unknown member
            out[draw(st.text(max_size=12))] = draw(json_values)
        return out

    return build()


def params_strategy(method: str) -> st.SearchStrategy:
    """Params for `method`: mostly shaped by its schema (with broken members), sometimes any JSON value
    (an array, a string, a number), sometimes absent."""
    shaped = _object(DEFS[params_def(method)])
    return st.one_of(shaped, shaped, shaped, shaped, shaped, shaped, json_values, st.just(None), st.just([]))


# --------------------------------------------------------------------------- defusing
SAFE_PREFIXES = [
    "exit 0;",
    "echo out; echo err >&2; exit 3;",
    "head -c 70000 /dev/zero; printf '\\377\\303'; exit 0;",
    "sleep 0.2; exit 0;",
    "timeout 1 cat >/dev/null; exit 0;",
    "kill -TERM $$; exit 0;",
]
PTY_PREFIXES = ["exit 0;", "sleep 0.5; exit 0;", "printf 'x%.0s' {1..3000}; exit 0;"]
CODE_RUNNING_ENV = re.compile(r"^(BASH_|ENV$|SHELLOPTS$|BASHOPTS$|PS4$|PROMPT_COMMAND$|LD_|GCONV_PATH$|PYTHON)")
PATH_KEYS = {"path", "from", "to", "cwd"}


def _safe_path(value: str) -> str:
    value = value.replace("..", "__")
    return value.lstrip("/")


def _defuse_envs(envs: Any) -> Any:
    if not isinstance(envs, dict):
        return envs
    return {("FUZZ_" + k if isinstance(k, str) and CODE_RUNNING_ENV.match(k) else k): v for k, v in envs.items()}


def defuse(method: str, params: Any, prefix_index: int, scratch: str) -> Any:
    """Make generated params safe to run (see the module docstring); keeps everything else as drawn."""
    if not isinstance(params, dict):
        return params
    p = dict(params)
    if method in ("commands.run", "pty.create"):
        prefixes = PTY_PREFIXES if method == "pty.create" else SAFE_PREFIXES
        prefix = prefixes[prefix_index % len(prefixes)]
        cmd = p.get("cmd")
        if isinstance(cmd, str):
            p["cmd"] = prefix + cmd
        elif method == "pty.create" and "cmd" not in p:
            p["cmd"] = prefix  # no interactive login shell fed with random input
        elif method == "pty.create":
            p["cmd"] = prefix + json.dumps(cmd)
    for key in ("envs",):
        if key in p:
            p[key] = _defuse_envs(p[key])
    for key in PATH_KEYS & set(p):
        value = p[key]
        if isinstance(value, str):
            if method == "sandbox.create" and key == "cwd":
                p[key] = f"{scratch}/{_safe_path(value)}" if value else scratch
            elif method.startswith("files.") or key == "cwd":
                p[key] = _safe_path(value)
    return p


# --------------------------------------------------------------------------- ids as JSON text
@dataclass(frozen=True)
class IdText:
    """An id written as JSON text (so `1.0`, `-0`, `1e400` and 10,000-digit numbers reach the bridge as
    written)."""
    text: str

    @property
    def value(self) -> Any:
        return json.loads(self.text)

    @property
    def valid(self) -> bool:
        v = self.value
        return v is None or isinstance(v, (str, int, float)) and not isinstance(v, bool)

    @property
    def is_number(self) -> bool:
        v = self.value
        return isinstance(v, (int, float)) and not isinstance(v, bool)


_number_texts = st.one_of(
    st.integers().map(str),
    st.integers(0, 10**40).map(str),
    st.integers(-10**40, 0).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1.0", "-0", "-0.0", "0.0", "1E+2", "1e5", "2.50", "1e400", "-1e400", "1e-400", "1e999999",
                     "18446744073709551621", "9007199254740993", "0.1", "1" * 400, "-" + "9" * 1000,
                     "0." + "0" * 500 + "1", "12345678901234567890.123456789e-5"]),
)
_string_texts = st.one_of(
    st.text(max_size=40).map(lambda s: json.dumps(s)),
    st.text(max_size=40).map(lambda s: json.dumps(s, ensure_ascii=False)),
    st.sampled_from(['""', '"\\u0000"', '"\\/"', '"\\ud83d\\ude00"', '"a\\nb"', '"\\"\\\\"', '" "', '"null"', '"1"']),
)
_invalid_texts = st.sampled_from(["true", "false", "{}", "[]", "[1]", '{"a":1}', "[null]"])
id_texts = st.one_of(_number_texts, _number_texts, _string_texts, _string_texts,
                     st.just("null"), _invalid_texts).map(IdText)


def id_key_of(text: str) -> tuple:
    return rh.schema_check.id_key(json.loads(text))


# --------------------------------------------------------------------------- envelopes
@st.composite
def envelopes(draw) -> tuple[str, list[IdText]]:
    """One line: a request/notification/malformed envelope, or a batch of them. Returns the JSON text
    and the ids of its well-formed requests (those must be answered)."""

    def member(draw_, ident: IdText | None) -> tuple[str, IdText | None]:
        parts = []
        jsonrpc = draw_(st.sampled_from(['"2.0"'] * 8 + ['"1.0"', "2", "2.0", "null", '"2.0 "']) | st.just(None))
        if jsonrpc is not None:
            parts.append(f'"jsonrpc":{jsonrpc}')
        if ident is not None:
            parts.append(f'"id":{ident.text}')
        method_kind = draw_(st.integers(0, 9))
        method: Any = None
        if method_kind < 7:
            method = draw_(st.sampled_from(["ping", "initialize", "sandbox.list", "commands.list", "nope", "",
                                            "$/cancelRequest", "rpc.discover", "PING", "ping "]))
            parts.append(f'"method":{json.dumps(method)}')
        elif method_kind < 9:
            method = draw_(json_values)
            parts.append(f'"method":{json.dumps(method)}')
        params_kind = draw_(st.integers(0, 9))
        if params_kind < 5:
            pass
        elif params_kind < 8:
            parts.append(f'"params":{json.dumps(draw_(json_values))}')
        else:
            parts.append('"params":{}')
        if draw_(st.integers(0, 19)) == 0:
            key = draw_(st.text(max_size=8).filter(lambda k: k not in ("jsonrpc", "id", "method", "params")))
            parts.append(f'{json.dumps(key)}:{json.dumps(draw_(json_values))}')
        if draw_(st.integers(0, 19)) == 0:
            parts.append('"result":{}')
        parts = draw_(st.permutations(parts))
        text = "{" + ",".join(parts) + "}"
        # What the bridge runs as a request (and answers later, from a task): JSON-RPC 2.0 with a string
        # method and a valid id, whatever else the object holds.
        well_formed = jsonrpc == '"2.0"' and ident is not None and ident.valid and isinstance(method, str)
        return text, ident if well_formed else None

    def maybe_id(i: IdText) -> IdText | None:
        return i if draw(st.integers(0, 9)) < 8 else None

    if draw(st.integers(0, 9)) < 8:
        text, ident = member(draw, maybe_id(draw(id_texts)))
        return text, [ident] if ident else []
    # In a batch no two members share an id: the answers could not be told apart.
    ids = draw(st.lists(id_texts, min_size=1, max_size=5, unique_by=lambda i: repr(id_key_of(i.text))))
    items = [member(draw, maybe_id(i)) for i in ids]
    junk = draw(st.lists(json_scalars.map(lambda v: json.dumps(v)), max_size=2))
    texts = [t for t, _ in items] + junk
    texts = draw(st.permutations(texts))
    return "[" + ",".join(texts) + "]", [i for _, i in items if i]


# --------------------------------------------------------------------------- hostile byte lines
BAD_UTF8 = [b"\xff", b"\xfe", b"\xc0\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xed\xbf\xbf",
            b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xc3", b"\xe2\x82", b"\xef\xbb\xbf", b"\x00",
            b"\x00\x00\x00\x00", b"\r", b"\x1b[2J", b"\x7f"]
TEMPLATES = [
    b'{"jsonrpc":"2.0","id":"@ID@","method":"ping"}',
    b'{"jsonrpc":"2.0","id":"@ID@","method":"commands.run","params":{"cmd":"exit 0","background":true}}',
    b'{"jsonrpc":"2.0","id":"@ID@","method":"commands.wait","params":{"pid":1,"timeout":0.1}}',
    b'{"jsonrpc":"2.0","id":"@ID@","method":"files.exists","params":{"path":"x"}}',
    b'{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"@ID@"}}',
    b'[{"jsonrpc":"2.0","id":"@ID@","method":"ping"},{"jsonrpc":"2.0","method":"ping"}]',
    b'{"jsonrpc":"2.0","id":"@ID@","method":"sandbox.create","params":{"envs":{"A":"b"},"metadata":{"k":"v"}}}',
]


def _nested(depth: int, kind: int) -> bytes:
    if kind == 0:
        return b"[" * depth + b"]" * depth
    if kind == 1:
        return b'{"a":' * depth + b"1" + b"}" * depth
    if kind == 2:
        return b"[" * depth  # never closed
    return b'[{"a":' * (depth // 2) + b"null" + b"}]" * (depth // 2)


class Line(bytes):
    """Bytes whose repr is short: Hypothesis prints a failing case's arguments."""

    def __repr__(self) -> str:
        text = bytes.__repr__(self)
        return text if len(text) <= 600 else f"{text[:500]}...{text[-60:]} ({len(self):,} bytes)"


def byte_lines() -> st.SearchStrategy:
    return _byte_lines().map(Line)


@st.composite
def _byte_lines(draw) -> bytes:
    """One chunk of bytes to write (it may hold several lines, or none finished: a `\\n` is added)."""
    kind = draw(st.integers(0, 9))
    if kind <= 1:  # random bytes
        return draw(st.binary(max_size=300))
    if kind <= 5:  # a valid message, mutated
        data = bytearray(draw(st.sampled_from(TEMPLATES)))
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.integers(0, 5))
            pos = draw(st.integers(0, len(data)))
            if op == 0 and data:
                data[min(pos, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
            elif op == 1:
                data[pos:pos] = draw(st.sampled_from(BAD_UTF8))
            elif op == 2:
                end = draw(st.integers(pos, len(data)))
                del data[pos:end]
            elif op == 3:
                data[pos:pos] = draw(st.binary(max_size=8))
            elif op == 4:
                data = data[:pos]
            else:
                data[pos:pos] = draw(st.sampled_from([b"\n", b"\r\n", b" ", b"\t", b"\x0b", b"\x0c"]))
        return bytes(data)
    if kind == 6:  # deep nesting, at the top or inside params or an id
        depth = draw(st.sampled_from([127, 128, 129, 130, 1000, 10_000, 100_000]))
        nested = _nested(depth, draw(st.integers(0, 3)))
        where = draw(st.integers(0, 2))
        if where == 0:
            return nested
        if where == 1:
            return b'{"jsonrpc":"2.0","id":"@ID@","method":"ping","params":{"x":' + nested + b"}}"
        return b'{"jsonrpc":"2.0","id":' + nested + b',"method":"ping"}'
    if kind == 7:  # huge numbers wherever a number may go
        number = draw(st.sampled_from([b"1" * 10_000, b"-" + b"9" * 5000, b"1e999999", b"-1e-999999", b"1E+400",
                                       b"0." + b"0" * 10_000 + b"1", b"18446744073709551616", b"1.7976931348623157e309",
                                       b"-0", b"0e0", b"01", b"1.", b".5", b"+1", b"0x10", b"NaN", b"Infinity"]))
        slot = draw(st.sampled_from([
            b'{"jsonrpc":"2.0","id":NUM,"method":"ping"}',
            b'{"jsonrpc":"2.0","id":"@ID@","method":"commands.wait","params":{"pid":NUM}}',
            b'{"jsonrpc":"2.0","id":"@ID@","method":"commands.wait","params":{"pid":1,"timeout":NUM}}',
            b'{"jsonrpc":"2.0","id":"@ID@","method":"commands.run","params":{"cmd":"exit 0","timeout":NUM}}',
            b'{"jsonrpc":"2.0","id":"@ID@","method":"pty.create","params":{"cmd":"exit 0","cols":NUM,"rows":NUM}}',
            b'{"jsonrpc":"2.0","id":"@ID@","method":"sandbox.create","params":{"limits":{"pids":NUM,"cpuSeconds":NUM}}}',
            b'{"jsonrpc":"2.0","id":"@ID@","method":"sandbox.getHost","params":{"port":NUM}}',
            b'{"jsonrpc":"2.0","id":"@ID@","method":"files.list","params":{"path":".","depth":NUM}}',
            b'[NUM]',
            b'NUM',
        ]))
        return slot.replace(b"NUM", number)
    if kind == 8:  # JSON-looking junk
        return draw(st.sampled_from([b"{", b"}", b"[", b"]", b'"', b'"\\', b'"\\u12', b'"\\ud800"', b"null", b"true",
                                     b"[]", b"{}", b"[[]]", b'{"":""}', b'{"jsonrpc":"2.0"}', b"\xef\xbb\xbf{}",
                                     b'{"a":1,"a":2}', b"/* c */{}", b"{'a':1}", b'{"method":"ping","id":1,}',
                                     b"[1,]", b"\x00{}", b"{}\x00", b'{"jsonrpc":"2.0","id":1,"method":"ping"}{}',
                                     b'{"jsonrpc":"2.0","id":1,"method":"ping"} x', b"\t\t\t", b"\r", b"\r\r\n"]))
    # control characters and invalid UTF-8 inside strings of a valid request
    bad = draw(st.sampled_from(BAD_UTF8 + [b"\x01", b"\x1f", b"\n"]))
    where = draw(st.sampled_from([b"method", b"id", b"cmd", b"key"]))
    if where == b"method":
        return b'{"jsonrpc":"2.0","id":"@ID@","method":"pi' + bad + b'ng"}'
    if where == b"id":
        return b'{"jsonrpc":"2.0","id":"u' + bad + b'","method":"ping"}'
    if where == b"cmd":
        return b'{"jsonrpc":"2.0","id":"@ID@","method":"commands.run","params":{"cmd":"exit 0;' + bad + b'"}}'
    return b'{"jsonrpc":"2.0","id":"@ID@","method":"ping","params":{"k' + bad + b'":1}}'


def finite(value: Any) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))
