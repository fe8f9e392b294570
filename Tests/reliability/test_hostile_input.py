"""Hostile input with a known right answer: invalid UTF-8, NULs, 10,000- and 100,000-deep nesting,
10,000-digit numbers, 10 MB strings, lines over --max-message-bytes. Each counts as a fuzz case.

Also the regression tests for what the fuzzers found (see README.md, "Findings").
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time

import pytest

import reliability_harness as rh

TEN_MB = 10_000_000


def parse_errors(msgs: list) -> list[dict]:
    return [m for m in msgs if isinstance(m, dict) and m.get("id", 0) is None and "error" in m
            and m["error"]["code"] == -32700]


def count_case() -> None:
    rh.figures.fuzzed("hostile")


# --------------------------------------------------------------------------- invalid UTF-8, NULs
BAD_BYTES = {
    "lone 0xff": b"\xff",
    "lone continuation byte": b"\x80",
    "overlong '/'": b"\xc0\xaf",
    "overlong NUL": b"\xc0\x80",
    "encoded surrogate": b"\xed\xa0\x80",
    "above U+10FFFF": b"\xf4\x90\x80\x80",
    "5-byte form": b"\xf8\x88\x80\x80\x80",
    "truncated 3-byte": b"\xe2\x82",
    "raw NUL": b"\x00",
    "raw control char": b"\x01",
    "raw escape": b"\x1b",
}


@pytest.mark.parametrize("where", ["method", "id", "params value", "params key"])
@pytest.mark.parametrize("name", sorted(BAD_BYTES))
def test_invalid_utf8_and_control_bytes_are_one_parse_error(bridge, name, where):
    bad = BAD_BYTES[name]
    line = {
        "method": b'{"jsonrpc":"2.0","id":"u","method":"pi' + bad + b'ng"}',
        "id": b'{"jsonrpc":"2.0","id":"u' + bad + b'","method":"ping"}',
        "params value": b'{"jsonrpc":"2.0","id":"u","method":"ping","params":{"s":"a' + bad + b'b"}}',
        "params key": b'{"jsonrpc":"2.0","id":"u","method":"ping","params":{"k' + bad + b'":1}}',
    }[where]
    msgs = rh.exchange(bridge, line)
    assert len(parse_errors(msgs)) == 1, msgs
    assert "u" not in bridge.table or bridge.table.get("u")["answered"] == 0
    count_case()


@pytest.mark.parametrize("line", [
    b"\x00", b"\x00" * 1000, b"\x00{}", b'{"jsonrpc":"2.0","id":1,"method":"ping"}\x00',
    b"\xef\xbb\xbf" + b'{"jsonrpc":"2.0","id":1,"method":"ping"}', b"\xff" * 5000,
], ids=["nul", "1000 nuls", "nul then object", "nul after request", "bom", "5000 x 0xff"])
def test_nul_and_junk_lines_are_parse_errors(bridge, line):
    msgs = rh.exchange(bridge, line)
    assert len(parse_errors(msgs)) == 1, msgs
    count_case()


def test_nul_escape_inside_a_string_is_valid_json(bridge):
    """`\\u0000` is a valid JSON string; in an id it is echoed, in a cmd it is InvalidParams."""
    r = bridge.call("ping", id="a\u0000b")
    assert r == {"jsonrpc": "2.0", "id": "a\u0000b", "result": {}}
    e = bridge.err("commands.run", {"cmd": "echo a\u0000b"})
    assert (e["code"], e["data"]["kind"], e["data"]["field"]) == (-32602, "InvalidParams", "cmd")
    e = bridge.err("commands.run", {"cmd": "true", "envs": {"A": "x\u0000y"}})
    assert (e["code"], e["data"]["kind"]) == (-32602, "InvalidParams")
    count_case()


# --------------------------------------------------------------------------- deep nesting
def _nest(depth: int, shape: str) -> bytes:
    return {
        "arrays": b"[" * depth + b"]" * depth,
        "objects": b'{"a":' * depth + b"0" + b"}" * depth,
        "unclosed": b"[" * depth,
        "mixed": b'[{"a":' * (depth // 2) + b"0" + b"}]" * (depth // 2),
    }[shape]


@pytest.mark.parametrize("depth", [10_000, 100_000])
@pytest.mark.parametrize("shape", ["arrays", "objects", "unclosed", "mixed"])
@pytest.mark.parametrize("where", ["top", "params", "id"])
def test_deep_nesting_is_one_parse_error(bridge, depth, shape, where):
    nested = _nest(depth, shape)
    line = {"top": nested,
            "params": b'{"jsonrpc":"2.0","id":"deep","method":"ping","params":{"x":' + nested + b"}}",
            "id": b'{"jsonrpc":"2.0","id":' + nested + b',"method":"ping"}'}[where]
    msgs = rh.exchange(bridge, line)
    assert len(parse_errors(msgs)) == 1, [json.dumps(m)[:300] for m in msgs]
    assert "deep" not in bridge.table or bridge.table.get("deep")["answered"] == 0
    count_case()


def test_deep_nesting_in_a_batch_and_a_thousand_nested_lines(bridge):
    msgs = rh.exchange(bridge, b'[{"jsonrpc":"2.0","id":1,"method":"ping"},' + _nest(10_000, "arrays") + b"]")
    assert len(parse_errors(msgs)) == 1
    payload = b"\n".join(_nest(1000 + i, "arrays") for i in range(1000))
    msgs = rh.exchange(bridge, payload)
    assert len(parse_errors(msgs)) == 1000
    rh.figures.fuzzed("hostile", 1001)


# --------------------------------------------------------------------------- huge numbers
@pytest.mark.parametrize("text", ["1" * 10_000, "-" + "9" * 10_000, "1e999999", "-1e-999999", "1E+400",
                                  "0." + "0" * 10_000 + "1", "123456789012345678901234567890.5e-3"])
def test_huge_number_ids_are_echoed_as_written(bridge, text):
    line = ('{"jsonrpc":"2.0","id":%s,"method":"ping"}' % text).encode()
    rh.exchange(bridge, line)
    value = json.loads(text)
    rec = bridge.response_record(value, 10)
    assert f'"id":{text},'.encode() in rec.raw, rec.raw[:200]
    count_case()


@pytest.mark.parametrize("method,member", [
    ("commands.wait", '"pid":NUM'), ("commands.kill", '"pid":NUM'), ("commands.run", '"cmd":"exit 0","timeout":NUM'),
    ("commands.wait", '"pid":1,"timeout":NUM'), ("pty.create", '"cmd":"exit 0","cols":NUM,"rows":24'),
    ("sandbox.create", '"limits":{"pids":NUM}'), ("sandbox.create", '"timeout":NUM'),
    ("sandbox.getHost", '"port":NUM'), ("files.list", '"path":".","depth":NUM'),
    ("commands.run", '"cmd":"exit 0","maxOutputBytes":NUM'),
])
@pytest.mark.parametrize("number", ["1" * 10_000, "-" + "1" * 400, "1e999999", "-1e999999", "1e-999999"])
def test_huge_numbers_in_params(bridge, method, member, number):
    """Answered with a result or an error (never Internal: the harness checks), and fast."""
    line = ('{"jsonrpc":"2.0","id":"n","method":"%s","params":{%s}}' % (method, member.replace("NUM", number))).encode()
    rh.exchange(bridge, line)
    resp = bridge.wait_response("n", 10)
    if "error" in resp:
        assert resp["error"]["code"] != -32603
    count_case()
    bridge.ok("sandbox.kill", {})


# --------------------------------------------------------------------------- 10 MB strings
def test_ten_megabyte_strings_where_they_are_data(bridge):
    big = "i" * TEN_MB
    assert bridge.call("ping", id=big, timeout=60)["id"] == big
    e = bridge.err("m" * TEN_MB, timeout=60)
    assert (e["code"], e["data"]["kind"], len(e["data"]["method"])) == (-32601, "MethodNotFound", TEN_MB)
    resp = bridge.call("ping", {"unknown": "u" * TEN_MB}, timeout=60)  # {} or InvalidParams: params are closed
    assert resp.get("result") == {} or resp["error"]["code"] == -32602
    content = "".join(chr(0x20 + i % 90) for i in range(1000)) * (TEN_MB // 1000)
    w = bridge.ok("files.write", {"path": "big.txt", "content": content}, timeout=60)
    assert w["size"] == TEN_MB
    assert bridge.ok("files.read", {"path": "big.txt"}, timeout=60)["content"] == content
    raw = os.urandom(TEN_MB // 2)
    bridge.ok("files.write", {"path": "big.bin", "content": base64.b64encode(raw).decode(), "encoding": "base64"}, timeout=60)
    assert base64.b64decode(bridge.ok("files.read", {"path": "big.bin", "encoding": "base64"}, timeout=60)["content"]) == raw
    pid = bridge.ok("commands.run", {"cmd": "wc -c", "background": True, "stdin": True})["pid"]
    bridge.ok("commands.sendStdin", {"pid": pid, "data": "s" * TEN_MB}, timeout=60)
    bridge.ok("commands.closeStdin", {"pid": pid})
    assert bridge.ok("commands.wait", {"pid": pid}, timeout=30)["stdout"].strip() == str(TEN_MB)
    sid = bridge.ok("sandbox.create", {"metadata": {"k": "v" * TEN_MB}}, timeout=60)["sandboxId"]
    listed = {s["sandboxId"]: s for s in bridge.ok("sandbox.list", timeout=60)["sandboxes"]}
    assert listed[sid]["metadata"] == {"k": "v" * TEN_MB}
    pid = bridge.ok("commands.run", {"cmd": "sleep 30", "background": True, "tag": "t" * TEN_MB}, timeout=60)["pid"]
    procs = {p["pid"]: p for p in bridge.ok("commands.list", timeout=60)["processes"]}
    assert procs[pid]["tag"] == "t" * TEN_MB
    e = bridge.err("commands.run", {"cmd": "true", "user": "u" * 100_000}, timeout=60)  # 10 MB: F1
    assert e["data"]["kind"] in ("PermissionDenied", "InvalidParams")
    e = bridge.err("commands.run", {"cmd": "true", "cwd": "d" * TEN_MB}, timeout=60)
    assert e["data"]["kind"] in ("FileNotFound", "InvalidParams")
    e = bridge.err("commands.wait", {"pid": 1, "sandboxId": "s" * TEN_MB}, timeout=60)
    assert e["data"]["kind"] in ("SandboxNotFound", "InvalidParams")
    rh.figures.fuzzed("hostile", 13)


# --------------------------------------------------------------------------- --max-message-bytes
LIMIT = 65536


def padded_run(marker: str, size: int) -> bytes:
    """A commands.run request of exactly `size` bytes that creates `marker` when it runs."""
    head = '{"jsonrpc":"2.0","id":"%s","method":"commands.run","params":{"cmd":"touch %s","tag":"' % (marker, marker)
    tail = '"}}'
    return (head + "p" * (size - len(head) - len(tail)) + tail).encode()


def test_lines_over_max_message_bytes_are_skipped_not_run(start_bridge, tmp_path):
    b = start_bridge("--max-message-bytes", str(LIMIT))
    home = b.ok("sandbox.create", {"cwd": str(tmp_path)})["sandboxId"]
    del home

    def over_limit_errors(msgs):
        return [m for m in msgs if isinstance(m, dict) and m.get("id", 0) is None and "error" in m
                and m["error"]["code"] == -32600 and m["error"]["data"].get("kind") == "LimitExceeded"]

    # One byte over: refused, not run.
    line = padded_run("over", LIMIT + 1)
    msgs = rh.exchange(b, line)
    errs = over_limit_errors(msgs)
    assert len(errs) == 1 and errs[0]["error"]["data"]["limit"] == LIMIT, msgs
    # Exactly at the limit, and at the limit plus the \r of a CRLF: run.
    for marker, extra in (("exact", b""), ("crlf", b"\r")):
        rh.register_requests(b, padded_run(marker, LIMIT))
        b.send_bytes(padded_run(marker, LIMIT) + extra + b"\n")
        assert b.wait_response(marker, 10)["result"]["exitCode"] == 0
    assert not (tmp_path / "over").exists()
    # Over-long line of invalid UTF-8, then a valid request in the same write.
    msgs = rh.exchange(b, b"\xff" * (LIMIT * 3) + b"\n" + b'{"jsonrpc":"2.0","id":"after","method":"ping"}')
    assert len(over_limit_errors(msgs)) == 1
    assert b.wait_response("after", 10)["result"] == {}
    # A whitespace-only line past the limit is blank: no answer at all.
    msgs = rh.exchange(b, b" \t" * LIMIT)
    assert over_limit_errors(msgs) == [] and parse_errors(msgs) == []
    rh.figures.fuzzed("hostile", 5)


HUGE_LINE_MIB = rh.size("RELIABILITY_HUGE_LINE_MIB", 40, 400)


def test_a_huge_line_is_skipped_without_being_buffered(start_bridge):
    """40 MiB (short form) or 400 MiB (long form) over a 64 KiB limit: skipped as it streams past."""
    b = start_bridge("--max-message-bytes", str(LIMIT))
    b.ok("ping")
    rss0 = rh.vm_rss_kib(b.pid)
    peak = [rss0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rh.vm_rss_kib(b.pid) or 0)
            time.sleep(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        chunk = b'{"jsonrpc":"2.0","id":"x","method":"ping","params":{"a":"' + b"a" * (4 * rh.MiB)
        for _ in range(HUGE_LINE_MIB // 4):
            b.send_bytes(chunk, timeout=60)
        msgs = rh.exchange(b, b'"}}', timeout=60)
    finally:
        stop.set()
        t.join()
    assert len([m for m in msgs if m.get("error", {}).get("data", {}).get("kind") == "LimitExceeded"]) == 1
    assert peak[0] - rss0 < 32 * 1024, f"RSS grew {peak[0] - rss0} KiB while skipping a {HUGE_LINE_MIB} MiB line"
    rh.figures.fuzzed("hostile")


@pytest.mark.skipif(not rh.LONG, reason="long form only: the 64 KiB-limit bridge above covers the mechanism "
                    "(and Tests/conformance a line past 64 MiB)")
def test_default_limit_is_64_mib(bridge):
    line = b'{"jsonrpc":"2.0","id":"big","method":"ping","params":{"a":"' + b"a" * (64 * rh.MiB) + b'"}}'
    msgs = rh.exchange(bridge, line, timeout=120)
    errs = [m for m in msgs if m.get("error", {}).get("data", {}).get("kind") == "LimitExceeded"]
    assert len(errs) == 1 and errs[0]["error"]["data"]["limit"] == 64 * rh.MiB
    rh.figures.fuzzed("hostile")
