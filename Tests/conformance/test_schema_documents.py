"""schema/ itself: valid documents, every method of PROTOCOL.md described, refs resolve, and
examples of good and bad server messages are told apart. Needs no binary."""

import json

import pytest
from jsonschema import Draft202012Validator

import schema_check
from schema_check import RequestTable, check_server_message

P = schema_check.protocol()

METHODS = [
    "initialize", "ping", "shutdown",
    "sandbox.create", "sandbox.kill", "sandbox.list", "sandbox.setTimeout", "sandbox.getHost",
    "commands.run", "commands.list", "commands.kill", "commands.sendStdin", "commands.closeStdin",
    "commands.connect", "commands.disconnect", "commands.wait",
    "pty.create", "pty.sendInput", "pty.resize",
    "files.read", "files.write", "files.list", "files.exists", "files.remove", "files.rename",
    "files.makeDir", "files.info",
]
SERVER_NOTIFICATIONS = ["commands.output", "commands.exit", "sandbox.exit", "pty.output"]
ERROR_PAIRS = {
    (-32700, "ParseError"), (-32600, "InvalidRequest"), (-32600, "LimitExceeded"), (-32601, "MethodNotFound"),
    (-32602, "InvalidParams"), (-32603, "Internal"), (-32001, "SandboxNotFound"), (-32002, "ProcessNotFound"),
    (-32003, "Timeout"), (-32004, "PermissionDenied"), (-32005, "FileNotFound"), (-32006, "NotADirectory"),
    (-32007, "AlreadyExists"), (-32008, "ProcessNotRunning"), (-32009, "StdinClosed"), (-32010, "LimitExceeded"),
    (-32011, "Unsupported"), (-32012, "SandboxKilled"), (-32013, "IsADirectory"), (-32800, "RequestCancelled"),
}


def test_protocol_schema_is_valid_draft_2020_12():
    assert P.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(P.schema)


def test_openrpc_document_names_every_method_with_params_and_result():
    assert P.openrpc["openrpc"].startswith("1.3.")
    assert sorted(P.methods) == sorted(METHODS)
    assert sorted(P.server_notifications) == sorted(SERVER_NOTIFICATIONS)
    assert sorted(P.client_notifications) == ["$/cancelRequest", "notifications/cancelled"]
    for m in P.openrpc["methods"]:
        assert m["paramStructure"] == "by-name"
        for param in m["params"]:
            ref = param["schema"]["$ref"]
            assert ref.startswith("protocol.schema.json#/$defs/")
            node = P.schema
            for part in ref.split("#/", 1)[1].split("/"):
                node = node[part]  # KeyError: a dangling reference
        if m["name"] in P.methods:
            assert P.methods[m["name"]]["result"] in P.defs


def test_every_error_code_and_kind_is_in_the_schema():
    assert set(P.error_defs) == ERROR_PAIRS
    assert {(e["code"], e["data"]["kind"]) for e in P.openrpc["components"]["errors"].values()} == ERROR_PAIRS


def test_envelopes_are_defined():
    for name in ["Request", "Notification", "SuccessResponse", "ErrorResponse", "Response", "Batch", "BatchResponse",
                 "ClientRequest", "ClientNotification", "ServerNotification", "ClientMessage", "ServerMessage"]:
        assert name in P.defs, name


def _ok(def_name, value):
    return not list(P.validator(def_name).iter_errors(value))


def test_client_request_params_are_checked_per_method():
    good = {"jsonrpc": "2.0", "id": 1, "method": "commands.run", "params": {"cmd": "echo hi", "envs": {"A": "b"}}}
    assert _ok("ClientRequest", good)
    assert not _ok("ClientRequest", {**good, "params": ["echo hi"]})
    assert not _ok("ClientRequest", {**good, "params": {"cmd": 5}})
    assert not _ok("ClientRequest", {**good, "params": {"cmd": "x", "envs": {"A": 1}}})
    assert not _ok("ClientRequest", {**good, "method": "nope"})
    assert _ok("ClientRequest", {"jsonrpc": "2.0", "id": None, "method": "ping"})
    assert _ok("ClientNotification", {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "r1"}})
    assert _ok("ClientNotification", {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}})
    assert not _ok("Batch", [])


RESULT = {"pid": 12, "stdout": "hi\n", "stderr": "", "exitCode": 0}


@pytest.mark.parametrize("msg,good", [
    ({"jsonrpc": "2.0", "id": 1, "result": RESULT}, True),
    ({"jsonrpc": "2.0", "id": 1, "result": {**RESULT, "signal": "SIGKILL", "exitCode": 137}}, True),
    ({"jsonrpc": "2.0", "id": 1, "result": {**RESULT, "truncated": {"stdout": 3, "stderr": 0}}}, True),
    ({"jsonrpc": "2.0", "id": 1, "result": {**RESULT, "truncated": {"stdout": 0, "stderr": 0}}}, False),
    ({"jsonrpc": "2.0", "id": 1, "result": {**RESULT, "signal": None}}, False),
    ({"jsonrpc": "2.0", "id": 1, "result": {**RESULT, "extra": 1}}, False),
    ({"jsonrpc": "2.0", "id": 1, "result": {"pid": 12}}, False),  # foreground run answered like a background one
    ({"jsonrpc": "2.0", "id": "bg", "result": {"pid": 12}}, True),
    ({"jsonrpc": "2.0", "id": 2, "result": {}}, False),  # an id nobody sent
    ({"jsonrpc": "1.0", "id": 1, "result": RESULT}, False),
    ({"jsonrpc": "2.0", "id": 1, "result": RESULT, "error": None}, False),
    ({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error",
                                              "data": {"kind": "ParseError", "reason": "unexpected end at byte 9"}}}, True),
    ({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "line too long",
                                              "data": {"kind": "LimitExceeded", "limit": 1000}}}, True),
    ({"jsonrpc": "2.0", "id": None, "error": {"code": -32601, "message": "no",
                                              "data": {"kind": "MethodNotFound", "method": "x"}}}, False),
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": -32003, "message": "timeout", "data": {
        "kind": "Timeout", "pid": 12, "stdout": "a", "stderr": "", "exitCode": 137, "signal": "SIGKILL"}}}, True),
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": -32003, "message": "timeout", "data": {"kind": "Timeout"}}}, False),
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "invalid params: cmd: missing",
                                           "data": {"kind": "InvalidParams", "field": "cmd", "reason": "missing"}}}, True),
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "missing cmd",
                                           "data": {"kind": "InvalidParams", "field": "cmd", "reason": "missing"}}}, False),
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": -32001, "message": "no sandbox"}}, False),
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": -32013, "message": "dir",
                                           "data": {"kind": "IsADirectory", "path": "/x"}}}, False),  # not a run error
    ({"jsonrpc": "2.0", "method": "commands.output", "params": {
        "sandboxId": "default", "pid": 12, "stream": "stderr", "data": "x", "timestamp": 1700000000.25}}, True),
    ({"jsonrpc": "2.0", "method": "commands.output", "params": {
        "sandboxId": "default", "pid": 12, "stream": "stderr", "data": "x"}}, False),
    ({"jsonrpc": "2.0", "method": "commands.exit", "params": {
        "sandboxId": "default", "pid": 12, "exitCode": 143, "signal": "SIGTERM", "error": "Timeout"}}, True),
    ({"jsonrpc": "2.0", "method": "sandbox.exit", "params": {"sandboxId": "sb1", "reason": "timeout"}}, True),
    ({"jsonrpc": "2.0", "method": "sandbox.exit", "params": {"sandboxId": "sb1", "reason": "boom"}}, False),
    ({"jsonrpc": "2.0", "method": "pty.output", "params": {"sandboxId": "sb1", "pid": 3, "data": "aGk="}}, True),
    ({"jsonrpc": "2.0", "method": "pty.output", "params": {"sandboxId": "sb1", "pid": 3, "data": "hi!"}}, False),
    ({"jsonrpc": "2.0", "method": "commands.ouput", "params": {}}, False),
    ({"jsonrpc": "2.0", "id": 5, "method": "ping"}, False),  # the server sends no requests
    ([{"jsonrpc": "2.0", "id": "bg", "result": {"pid": 3}},
      {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "m",
                                               "data": {"kind": "InvalidRequest", "reason": "not an object"}}}], True),
    ([], False),
    ([{"jsonrpc": "2.0", "method": "commands.exit", "params": {"sandboxId": "d", "pid": 1, "exitCode": 0}}], False),
])
def test_server_message_examples(msg, good):
    table = RequestTable()
    table.add(1, "commands.run", {"cmd": "echo hi"})
    table.add("bg", "commands.run", {"cmd": "sleep 1", "background": True})
    problems = check_server_message(msg, table)
    assert (problems == []) is good, problems


def test_plain_mapping_tells_1_from_1_0():
    msg = {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert check_server_message(msg, {1: "ping"}) == []
    assert check_server_message(msg, {1.0: "ping"}) != []
    assert check_server_message({"jsonrpc": "2.0", "id": 1.0, "result": {}}, {1.0: "ping"}) == []
    with pytest.raises(schema_check.SchemaViolation):
        schema_check.validate_server_message({"jsonrpc": "2.0", "id": 1, "result": {"x": 1}}, {1: "ping"})


def test_parse_line_is_strict():
    assert schema_check.parse_line(b'{"a":18446744073709551621}') == {"a": 18446744073709551621}
    for bad in [b"NaN", b'{"a":Infinity}', b"\xff", b"hello", b""]:
        with pytest.raises(ValueError):
            schema_check.parse_line(bad)
    assert json.loads('"\\ufffd"') == "\ufffd"


def test_openrpc_params_and_errors_match_the_schema():
    errors = P.openrpc["components"]["errors"]
    for m in P.openrpc["methods"]:
        params_def = P.defs[m["x-paramsSchema"]["$ref"].rsplit("/", 1)[1]]
        if "$ref" in params_def:
            params_def = P.defs[params_def["$ref"].rsplit("/", 1)[1]]
        props = params_def.get("properties", {})
        assert [p["name"] for p in m["params"]] == list(props), m["name"]
        assert {p["name"] for p in m["params"] if p["required"]} == set(params_def.get("required", [])), m["name"]
        for e in m.get("errors", []):
            assert e["$ref"].rsplit("/", 1)[1] in errors, (m["name"], e)
        if m["name"] in P.methods:
            assert (-32602, "InvalidParams") in P.methods[m["name"]]["errors"], m["name"]
