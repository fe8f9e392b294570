"""Framing, ids, batches, JSON-RPC errors for bad input, notifications (PROTOCOL.md: Framing)."""

import json
import re
import subprocess
import time

import pytest

ID_TOKEN = re.compile(rb'"id"\s*:\s*(-?[0-9][0-9.eE+-]*|null|"(?:[^"\\]|\\.)*")')


def raw_id_token(raw: bytes) -> bytes:
    found = ID_TOKEN.findall(raw)
    assert len(found) == 1, f"expected one id member in {raw[:300]!r}"
    return found[0]


def is_null_id_error(m):
    return isinstance(m, dict) and "error" in m and "id" in m and m["id"] is None


def only_messages_after(bridge, start, wait=0.5):
    return bridge.quiet_for(wait, start)


def assert_serving(bridge):
    """The bridge still answers, and nothing but that answer arrives."""
    start = len(bridge.records)
    rid = bridge.request("ping")
    assert bridge.wait_response(rid) == {"jsonrpc": "2.0", "id": rid, "result": {}}
    return start


# ------------------------------------------------------------------------------------------- ids
@pytest.mark.parametrize("id_text", [
    '"abc"', '"\\ud83d\\ude00 \\u0000"', '"ü \\"quoted\\" \\\\ id"', '""', "7", "0", "-3", "1.0", "-2.5",
    "18446744073709551621",  # 2^64 + 5
    "-9007199254740993",  # -(2^53 + 1)
    "null",
    '"' + "x" * 100_000 + '"',
])
def test_id_is_echoed_exactly(bridge, id_text):
    bridge.send_raw('{"jsonrpc":"2.0","id":%s,"method":"ping"}\n' % id_text)
    rid = json.loads(id_text)
    rec = bridge.response_record(rid)
    assert rec.msg == {"jsonrpc": "2.0", "id": rid, "result": {}}
    assert type(rec.msg["id"]) is type(rid)
    if not isinstance(rid, str):
        assert raw_id_token(rec.raw) == id_text.encode(), "a number id must come back as the same JSON text"


def test_string_and_number_ids_are_distinct(bridge):
    bridge.send_raw('{"jsonrpc":"2.0","id":"1","method":"ping"}\n{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
    assert bridge.wait_response("1")["id"] == "1"
    assert bridge.wait_response(1)["id"] == 1
    time.sleep(0.3)
    assert len(bridge.records) == 2


@pytest.mark.parametrize("id_text", ["true", "{}", "[1]", '{"a":1}'])
def test_invalid_id_type_is_invalid_request_with_id_null(bridge, id_text):
    bridge.send_raw('{"jsonrpc":"2.0","id":%s,"method":"ping"}\n' % id_text, register=False)
    rec = bridge.wait_for(is_null_id_error, what="an error with id null")
    err = rec.msg["error"]
    assert (err["code"], err["data"]["kind"]) == (-32600, "InvalidRequest")
    assert isinstance(err["data"]["reason"], str) and err["data"]["reason"]
    assert len(bridge.records) == 1
    assert_serving(bridge)


# ------------------------------------------------------------------------------------------- batches
def test_batch_answered_with_array_of_responses(bridge):
    bridge.send([
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "ping"},
        {"jsonrpc": "2.0", "id": "two", "method": "ping"},
    ])
    rec = bridge.response_record(1)
    assert isinstance(rec.msg, list)
    assert sorted(rec.msg, key=lambda m: str(m["id"])) == [
        {"jsonrpc": "2.0", "id": 1, "result": {}},
        {"jsonrpc": "2.0", "id": "two", "result": {}},
    ]
    time.sleep(0.3)
    assert len(bridge.records) == 1


def test_all_notification_batch_gets_nothing(bridge):
    bridge.send([{"jsonrpc": "2.0", "method": "ping"}, {"jsonrpc": "2.0", "method": "no.such.method"},
                 {"jsonrpc": "2.0", "method": "ping", "params": [1]}])
    time.sleep(0.5)
    assert bridge.records == []
    assert_serving(bridge)
    time.sleep(0.3)
    assert len(bridge.records) == 1


def test_empty_batch_is_one_invalid_request(bridge):
    bridge.send_raw("[]\n")
    rec = bridge.wait_for(lambda m: True, what="an answer to []")
    assert isinstance(rec.msg, dict), "[] is answered with a single error, not an array"
    assert rec.msg["id"] is None
    assert (rec.msg["error"]["code"], rec.msg["error"]["data"]["kind"]) == (-32600, "InvalidRequest")
    time.sleep(0.3)
    assert len(bridge.records) == 1


def test_mixed_batch(bridge):
    bridge.send([
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "ping"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "id": "5", "method": "no.such"},
        1,
        {"jsonrpc": "2.0", "id": 6, "method": "ping", "params": [1, 2]},
    ])
    rec = bridge.response_record(1)
    batch = rec.msg
    assert isinstance(batch, list) and len(batch) == 5
    by_id = {}
    nulls = []
    for m in batch:
        if m["id"] is None:
            nulls.append(m)
        else:
            by_id[json.dumps(m["id"])] = m
    assert set(by_id) == {"1", '"5"', "6"}
    assert by_id["1"] == {"jsonrpc": "2.0", "id": 1, "result": {}}
    e5 = by_id['"5"']["error"]
    assert (e5["code"], e5["data"]) == (-32601, {"kind": "MethodNotFound", "method": "no.such"})
    e6 = by_id["6"]["error"]
    assert (e6["code"], e6["data"]["kind"], e6["data"]["field"]) == (-32602, "InvalidParams", "params")
    assert [(m["error"]["code"], m["error"]["data"]["kind"]) for m in nulls] == [(-32600, "InvalidRequest")] * 2
    time.sleep(0.3)
    assert len(bridge.records) == 1


def test_batch_of_non_objects(bridge):
    bridge.send_raw("[1,2,3]\n")
    rec = bridge.wait_for(lambda m: True, what="an answer to [1,2,3]")
    assert isinstance(rec.msg, list) and len(rec.msg) == 3
    for m in rec.msg:
        assert m["id"] is None
        assert (m["error"]["code"], m["error"]["data"]["kind"]) == (-32600, "InvalidRequest")


def test_batch_that_is_not_json_is_one_parse_error(bridge):
    bridge.send_raw('[{"jsonrpc":"2.0","method":"ping","id":1},{"jsonrpc"\n', register=False)
    rec = bridge.wait_for(lambda m: True, what="an answer")
    assert isinstance(rec.msg, dict) and rec.msg["id"] is None
    assert (rec.msg["error"]["code"], rec.msg["error"]["data"]["kind"]) == (-32700, "ParseError")


# ------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("line", [
    b'{"jsonrpc":"2.0","method":"ping","id":1',
    b"{]",
    b"nul",
    b'{"jsonrpc":"2.0","method":"ping","id":1} trailing',
    b'{"jsonrpc":"2.0","method":"ping","id":1,}',
    b"{'jsonrpc':'2.0'}",
    b'{"jsonrpc":"2.0","method":"ping","id":"\xff\xfe"}',  # not UTF-8
])
def test_parse_error_has_id_null_and_keeps_serving(bridge, line):
    bridge.send_raw(line + b"\n", register=False)
    rec = bridge.wait_for(lambda m: True, what="a parse error")
    assert rec.msg["id"] is None
    err = rec.msg["error"]
    assert (err["code"], err["data"]["kind"]) == (-32700, "ParseError")
    assert re.search(r"[0-9]", err["data"]["reason"]), "the reason names the byte offset"
    assert_serving(bridge)
    time.sleep(0.2)
    assert len(bridge.records) == 2


@pytest.mark.parametrize("line,rid", [
    ('{"jsonrpc":"1.0","method":"ping","id":9}', 9),
    ('{"method":"ping","id":10}', 10),
    ('{"jsonrpc":"2.0","id":11}', 11),
    ('{"jsonrpc":"2.0","method":5,"id":12}', 12),
    ('{"jsonrpc":2.0,"method":"ping","id":"s13"}', "s13"),
    ('"hello"', None),
    ("42", None),
    ("null", None),
])
def test_invalid_request(bridge, line, rid):
    bridge.send_raw(line + "\n")
    rec = bridge.wait_for(lambda m: True, what="an invalid-request error")
    assert rec.msg["id"] == rid and type(rec.msg["id"]) is type(rid)
    err = rec.msg["error"]
    assert (err["code"], err["data"]["kind"]) == (-32600, "InvalidRequest")
    assert isinstance(err["data"]["reason"], str) and err["data"]["reason"]
    assert_serving(bridge)


def test_method_not_found(bridge):
    err = bridge.err("no.such.method", {"x": 1}, id="m1")
    assert err["code"] == -32601
    assert err["data"] == {"kind": "MethodNotFound", "method": "no.such.method"}


@pytest.mark.parametrize("method,params,field", [
    ("commands.run", {}, "cmd"),
    ("commands.run", {"cmd": 5}, "cmd"),
    ("commands.run", {"cmd": None}, "cmd"),
    ("commands.run", {"cmd": "true", "timeout": -1}, "timeout"),
    ("commands.run", {"cmd": "true", "timeout": "soon"}, "timeout"),
    ("commands.run", {"cmd": "true", "envs": {"FOO": 1}}, "envs.FOO"),
    ("commands.run", {"cmd": "true", "envs": ["A=b"]}, "envs"),
    ("commands.run", {"cmd": "true", "encoding": "hex"}, "encoding"),
    ("commands.run", {"cmd": "true", "background": "yes"}, "background"),
    ("commands.run", {"cmd": "true", "stream": 1}, "stream"),
    ("commands.run", {"cmd": "true", "maxOutputBytes": -5}, "maxOutputBytes"),
    ("commands.run", {"cmd": "true", "sandboxId": 5}, "sandboxId"),
    ("commands.run", {"cmd": "true", "envs": {"A=B": "x"}}, "envs.A=B"),
    ("commands.kill", {}, "pid"),
    ("commands.wait", {"pid": 1.5}, "pid"),
    ("commands.kill", {"pid": "12"}, "pid"),
    ("commands.kill", {"pid": 1, "signal": "SIGNOPE"}, "signal"),
    ("commands.wait", {"pid": 5, "timeout": -2}, "timeout"),
    ("commands.sendStdin", {"pid": 5}, "data"),
    ("commands.sendStdin", {"pid": 5, "data": "x", "encoding": "rot13"}, "encoding"),
    ("commands.sendStdin", {"pid": 5, "data": "!!not base64!!", "encoding": "base64"}, "data"),
    ("sandbox.create", {"limits": {"pids": "x"}}, "limits.pids"),
    ("sandbox.create", {"envs": {"A": None}}, "envs.A"),
    ("sandbox.create", {"timeout": -1}, "timeout"),
    ("sandbox.setTimeout", {"sandboxId": "default", "timeout": "x"}, "timeout"),
])
def test_invalid_params_names_the_field(bridge, method, params, field):
    err = bridge.err(method, params)
    assert err["code"] == -32602
    data = err["data"]
    assert (data["kind"], data["field"]) == ("InvalidParams", field)
    assert isinstance(data["reason"], str) and data["reason"]
    assert err["message"] == f"invalid params: {field}: {data['reason']}"


@pytest.mark.parametrize("method,params", [("ping", []), ("ping", [1]), ("commands.run", ["touch positional-ran"])])
def test_positional_params_are_invalid_params(bridge, method, params):
    err = bridge.err(method, params)
    assert err["code"] == -32602
    assert (err["data"]["kind"], err["data"]["field"]) == ("InvalidParams", "params")
    assert bridge.run("test -e positional-ran; echo $?")["stdout"] == "1\n", "nothing ran"


def _padded_run(cmd: str, total: int, rid: int) -> bytes:
    head = '{"jsonrpc":"2.0","id":%d,"method":"commands.run","params":{"cmd":"%s #' % (rid, cmd)
    tail = '"}}'
    line = head + "a" * (total - len(head) - len(tail)) + tail
    assert len(line.encode()) == total
    return line.encode()


def test_over_long_line_is_limit_exceeded_and_skipped(make_bridge):
    bridge = make_bridge("--max-message-bytes", "1000")
    bridge.send_raw(_padded_run("echo exact", 1000, 1) + b"\n")
    assert bridge.wait_response(1, 20)["result"]["stdout"] == "exact\n"
    bridge.send_raw(_padded_run("touch too-long-ran", 1001, 2) + b"\n")
    rec = bridge.wait_for(is_null_id_error, what="LimitExceeded")
    err = rec.msg["error"]
    assert (err["code"], err["data"]) == (-32600, {"kind": "LimitExceeded", "limit": 1000})
    assert bridge.ok("ping") == {}
    assert bridge.run("test -e too-long-ran; echo $?")["stdout"] == "1\n", "the over-long line must not run"
    assert len([m for r in bridge.records for m in [r.msg] if is_null_id_error(m)]) == 1


def test_huge_line_is_skipped_and_server_keeps_serving(make_bridge):
    bridge = make_bridge("--max-message-bytes", "1000")
    bridge.send_raw(_padded_run("touch huge-ran", 5_000_000, 3) + b"\n" + b'{"jsonrpc":"2.0","id":4,"method":"ping"}\n')
    assert bridge.wait_response(4, 20) == {"jsonrpc": "2.0", "id": 4, "result": {}}
    rec = bridge.wait_for(is_null_id_error, what="LimitExceeded")
    assert rec.msg["error"]["data"] == {"kind": "LimitExceeded", "limit": 1000}
    assert bridge.run("test -e huge-ran; echo $?")["stdout"] == "1\n"


def test_whitespace_only_line_is_blank_even_past_the_limit(make_bridge):
    bridge = make_bridge("--max-message-bytes", "1000")
    bridge.send_raw(b" " * 2000 + b"\n" + b"\t \t\n")
    time.sleep(0.3)
    assert_serving(bridge)
    time.sleep(0.2)
    assert len(bridge.records) == 1


def test_blank_lines_ignored_and_crlf_accepted(bridge):
    bridge.send_raw(b"\n\n   \n\t\r\n" + b'{"jsonrpc":"2.0","id":"crlf","method":"ping"}\r\n')
    assert bridge.wait_response("crlf") == {"jsonrpc": "2.0", "id": "crlf", "result": {}}
    time.sleep(0.3)
    assert len(bridge.records) == 1


def test_lines_split_and_joined_across_writes(bridge):
    line1 = b'{"jsonrpc":"2.0","id":"split","method":"ping"}\n'
    bridge.send_raw(line1[:10], register=False)
    time.sleep(0.2)
    bridge.send_raw(line1[10:] + b'{"jsonrpc":"2.0","id":"a","method":"ping"}\n{"jsonrpc":"2.0","id":"b","method":"ping"}\n',
                    register=False)
    for rid in ("split", "a", "b"):
        bridge.table.add(rid, "ping")
    for rid in ("split", "a", "b"):
        assert bridge.wait_response(rid) == {"jsonrpc": "2.0", "id": rid, "result": {}}


# ------------------------------------------------------------------------------------------- notifications
def test_notifications_are_never_answered(bridge):
    for msg in [
        {"jsonrpc": "2.0", "method": "ping"},
        {"jsonrpc": "2.0", "method": "no.such.method", "params": {}},
        {"jsonrpc": "2.0", "method": "ping", "params": [1]},
        {"jsonrpc": "2.0", "method": "commands.kill", "params": {"pid": "not-a-pid"}},
        {"jsonrpc": "2.0", "method": "commands.wait", "params": {"pid": 999999}},
        {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "never-sent"}},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 424242}},
        {"jsonrpc": "2.0", "method": "$/cancelRequest"},
        {"jsonrpc": "2.0", "method": "initialize"},
    ]:
        bridge.send(msg)
    time.sleep(0.5)
    assert bridge.records == []
    assert_serving(bridge)
    time.sleep(0.3)
    assert len(bridge.records) == 1


# ------------------------------------------------------------------------------------------- where stdin comes from
def test_requests_from_a_regular_file_are_all_answered(bridge_bin, base_args, tmp_path):
    """epoll cannot watch a regular file: `sandbox-rpc < requests.jsonl` reads it on a thread of its own."""
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "commands.run",
                                             "params": {"cmd": f"echo {i}"}}) + "\n" for i in range(1, 6))
                        + '{"jsonrpc":"2.0","id":"last","method":"ping"}')  # no newline at the end
    with open(requests, "rb") as stdin:
        done = subprocess.run([bridge_bin, *base_args, "--root", str(tmp_path / "root")], stdin=stdin,
                              capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    answers = {m["id"]: m for m in map(json.loads, done.stdout.splitlines())}
    assert sorted(answers, key=str) == sorted([1, 2, 3, 4, 5, "last"], key=str)
    assert [answers[i]["result"]["stdout"] for i in range(1, 6)] == [f"{i}\n" for i in range(1, 6)]
    assert answers["last"]["result"] == {}


def test_a_closed_stdout_is_not_taken_by_the_bridges_own_descriptors(bridge_bin, base_args, tmp_path):
    """Started with descriptor 1 closed, the bridge opens /dev/null there first: otherwise the first
    descriptor it makes (its epoll) would become its "stdout", the first answer would fail to be
    written, and the bridge would end before the second request."""
    proc = subprocess.Popen(["bash", "-c", 'exec 1>&-; exec "$@"', "bash", bridge_bin, *base_args,
                             "--root", str(tmp_path / "root")],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        for i in (1, 2):
            marker = tmp_path / f"ran-{i}"
            request = {"jsonrpc": "2.0", "id": i, "method": "commands.run", "params": {"cmd": f"touch {marker}"}}
            proc.stdin.write((json.dumps(request) + "\n").encode())
            proc.stdin.flush()
            deadline = time.monotonic() + 10
            while not marker.exists():
                assert time.monotonic() < deadline, f"request {i} did not run; stderr: {proc.stderr.read1(4096)!r}"
                time.sleep(0.02)
            time.sleep(0.2)  # its answer has been written (to /dev/null)
        proc.stdin.close()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_long_line_between_short_ones_keeps_their_order(bridge):
    """A line past 256 KiB is read and parsed away from the reactor thread, which takes stdin back
    afterwards: the requests around it still take effect in the order they were sent."""
    content = "x" * 3_000_000
    lines = [{"jsonrpc": "2.0", "id": "before", "method": "files.write", "params": {"path": "f", "content": "short"}},
             {"jsonrpc": "2.0", "id": "long", "method": "files.write", "params": {"path": "f", "content": content}},
             {"jsonrpc": "2.0", "id": "size", "method": "commands.run", "params": {"cmd": "wc -c < f"}},
             {"jsonrpc": "2.0", "id": "after", "method": "ping"}]
    for msg in lines:
        bridge.register(msg)
    bridge.send_raw("".join(json.dumps(m) + "\n" for m in lines), register=False)
    assert bridge.wait_response("long", 30)["result"]["size"] == 3_000_000
    assert bridge.wait_response("size", 30)["result"]["stdout"] == "3000000\n"
    assert bridge.wait_response("after") == {"jsonrpc": "2.0", "id": "after", "result": {}}
    for _ in range(3):  # and the reactor reads stdin again
        assert bridge.ok("ping") == {}
