"""`sandbox-rpc mcp` on raw pipes: revision negotiation in both eras, protocol errors, and bad
input no SDK would send. Needs no SDK."""

from __future__ import annotations

import time

import pytest

from conftest import TOOLS, validate, wait_for_file, wait_gone

MODERN = "2026-07-28"


def envelope(version: str = MODERN, capabilities: bool = True) -> dict:
    meta = {"io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"}}
    if capabilities:
        meta["io.modelcontextprotocol/clientCapabilities"] = {}
    return {"_meta": meta}


def initialize(server, version: str) -> dict:
    response = server.call("initialize", {"protocolVersion": version, "capabilities": {},
                                          "clientInfo": {"name": "raw", "version": "1"}})
    server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return response["result"]


@pytest.mark.parametrize("asked, answered", [
    ("2025-11-25", "2025-11-25"),
    ("2025-06-18", "2025-06-18"),
    ("2025-03-26", "2025-03-26"),
    ("2024-11-05", "2024-11-05"),
    ("2099-01-01", "2025-11-25"),
    (MODERN, "2025-11-25"),  # 2026-07-28 has no handshake
])
def test_initialize_answers_the_clients_revision_when_it_can(raw, asked, answered):
    server = raw()
    result = initialize(server, asked)
    assert result["protocolVersion"] == answered
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert result["serverInfo"]["name"] == "sandbox-rpc" and result["serverInfo"]["version"]
    assert "sandbox" in result["instructions"]


def test_structured_output_only_from_2025_06_18_on(raw):
    old = raw()
    initialize(old, "2025-03-26")
    tools = old.call("tools/list")["result"]["tools"]
    assert {t["name"] for t in tools} == TOOLS
    assert all("outputSchema" not in t and "title" not in t and "annotations" in t for t in tools)
    result = old.call("tools/call", {"name": "run_command", "arguments": {"command": "echo hi"}})["result"]
    assert "structuredContent" not in result and "hi" in result["content"][0]["text"]

    new = raw()
    initialize(new, "2025-06-18")
    tools = new.call("tools/list")["result"]["tools"]
    assert all("outputSchema" in t and "title" in t for t in tools)
    result = new.call("tools/call", {"name": "run_command", "arguments": {"command": "echo hi"}})["result"]
    assert result["structuredContent"]["stdout"] == "hi\n"
    assert "resultType" not in result


def test_discover_and_modern_requests(raw):
    server = raw()
    result = server.call("server/discover", envelope())["result"]
    assert result["supportedVersions"] == [MODERN]
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert result["resultType"] == "complete" and result["ttlMs"] == 0 and result["cacheScope"] == "private"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "sandbox-rpc"

    listed = server.call("tools/list", envelope())["result"]
    assert listed["resultType"] == "complete" and listed["cacheScope"] == "private" and listed["ttlMs"] == 0
    assert all("outputSchema" in t for t in listed["tools"])

    called = server.call("tools/call", {"name": "run_command", "arguments": {"command": "echo modern"}, **envelope()})
    assert called["result"]["resultType"] == "complete"
    assert called["result"]["structuredContent"]["stdout"] == "modern\n"
    assert server.call("ping", envelope())["result"] == {"resultType": "complete"}


def test_unsupported_modern_revision_is_32022_naming_the_supported_ones(raw):
    server = raw()
    error = server.call("server/discover", envelope("2099-12-31"))["error"]
    assert error["code"] == -32022
    assert error["data"]["supported"] == [MODERN] and error["data"]["requested"] == "2099-12-31"
    error = server.call("tools/list", envelope("2099-12-31"))["error"]
    assert error["code"] == -32022


def test_modern_request_without_client_capabilities_is_invalid_params(raw):
    server = raw()
    error = server.call("tools/list", envelope(capabilities=False))["error"]
    assert error["code"] == -32602 and "clientCapabilities" in error["message"]


def test_protocol_faults_are_jsonrpc_errors(raw):
    server = raw()
    initialize(server, "2025-11-25")
    assert server.call("resources/list")["error"]["code"] == -32601
    assert server.call("ping")["result"] == {}
    error = server.call("tools/call", {"arguments": {}})["error"]  # no tool name: a malformed request
    assert error["code"] == -32602 and "name" in error["message"]
    server.send("{not json")
    assert server.read()["error"]["code"] == -32700


def call_tool(server, name: str, arguments) -> dict:
    response = server.call("tools/call", {"name": name, "arguments": arguments})
    assert "result" in response, response
    return response["result"]


def test_unknown_tool_is_a_tool_error(raw):
    server = raw()
    initialize(server, "2025-11-25")
    result = call_tool(server, "format_disk", {})
    assert result["isError"] is True
    assert "format_disk" in result["content"][0]["text"] and "run_command" in result["content"][0]["text"]


@pytest.mark.parametrize("name, arguments, argument", [
    ("run_command", {}, "command"),
    ("run_command", {"command": ""}, "command"),
    ("run_command", {"command": 42}, "command"),
    ("run_command", {"command": "true", "timeout": "10"}, "timeout"),
    ("run_command", {"command": "true", "timeout": -5}, "timeout"),
    ("run_command", {"command": "true", "env": ["A=1"]}, "env"),
    ("run_command", {"command": "true", "env": {"A=B": "1"}}, "env.A=B"),
    ("run_command", {"command": "true", "cwd": "missing-dir"}, "cwd"),
    ("run_command", {"command": "true", "verbose": True}, "verbose"),
    ("start_command", {"command": "true", "stdin": "yes"}, "stdin"),
    ("read_output", {}, "pid"),
    ("read_output", {"pid": 1, "since": {"stdout": -1, "stderr": 0}}, "since.stdout"),
    ("read_output", {"pid": 1, "since": {"stdout": 0}}, "since.stderr"),
    ("send_input", {"pid": 1}, "data"),
    ("kill_process", {"pid": 1, "signal": "SIGWHATEVER"}, "signal"),
    ("read_file", {"path": "x", "offset": -1}, "offset"),
    ("list_files", {"depth": 0}, "depth"),
    ("create_sandbox", {"isolation": "none"}, "isolation"),
    ("create_sandbox", {"env": {"A=B": "1"}}, "env.A=B"),
    ("kill_sandbox", {}, "sandboxId"),
])
def test_invalid_arguments_are_tool_errors_naming_the_argument(raw, name, arguments, argument):
    server = raw()
    initialize(server, "2025-11-25")
    result = call_tool(server, name, arguments)
    assert result["isError"] is True, result
    assert "structuredContent" not in result
    message = result["content"][0]["text"]
    assert f"`{argument}`" in message, message


def test_arguments_must_be_an_object(raw):
    server = raw()
    initialize(server, "2025-11-25")
    result = call_tool(server, "run_command", ["echo hi"])
    assert result["isError"] is True and "object" in result["content"][0]["text"]


def test_cancelled_call_is_not_answered_and_its_command_is_killed(raw, home):
    server = raw()
    initialize(server, "2025-11-25")
    request = server.request("tools/call", {"name": "run_command",
                                            "arguments": {"command": f"echo $$ > {home}/pid; exec sleep 60"}})
    pid = int(wait_for_file(home / "pid"))
    server.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request, "reason": "test"}})
    assert wait_gone(pid)
    # The next answer is the ping's: nothing for the cancelled call.
    ping = server.request("ping")
    assert server.read() == {"jsonrpc": "2.0", "id": ping, "result": {}}


def test_progress_notifications_carry_the_token_and_stop_before_the_response(raw):
    server = raw()
    initialize(server, "2025-11-25")
    response = server.call("tools/call", {"name": "run_command", "arguments": {"command": "echo a; sleep 2.5; echo b"},
                                          "_meta": {"progressToken": "tok-1"}})
    assert response["result"]["structuredContent"]["stdout"] == "a\nb\n"
    progress = [n["params"] for n in server.notifications]
    assert len(progress) >= 2 and all(n["method"] == "notifications/progress" for n in server.notifications)
    assert all(p["progressToken"] == "tok-1" for p in progress)
    assert [p["progress"] for p in progress] == sorted(p["progress"] for p in progress)
    assert any(p.get("message", "").endswith(": a") for p in progress), progress
    assert server.read(timeout=1.5) is None  # nothing after the response


def test_every_output_matches_its_schema_on_the_wire(raw, home):
    server = raw()
    initialize(server, "2025-11-25")
    schemas = {t["name"]: t["outputSchema"] for t in server.call("tools/list")["result"]["tools"]}
    started = call_tool(server, "start_command", {"command": "echo x; sleep 0.2", "stdin": True})
    pid = started["structuredContent"]["pid"]
    calls = [
        ("run_command", {"command": "echo hi"}),
        ("list_processes", {}),
        ("read_output", {"pid": pid, "wait": 5}),
        ("kill_process", {"pid": pid}),
        ("write_file", {"path": "f.txt", "content": "x"}),
        ("read_file", {"path": "f.txt"}),
        ("list_files", {}),
        ("create_sandbox", {}),
    ]
    results = [("start_command", started)] + [(name, call_tool(server, name, args)) for name, args in calls]
    sandbox = results[-1][1]["structuredContent"]["sandboxId"]
    results.append(("kill_sandbox", call_tool(server, "kill_sandbox", {"sandboxId": sandbox})))
    for name, result in results:
        assert result["isError"] is False, (name, result)
        validate(result["structuredContent"], schemas[name])


def test_end_of_input_ends_the_server_and_its_processes(raw, home):
    server = raw()
    initialize(server, "2025-11-25")
    started = call_tool(server, "start_command", {"command": f"echo $$ > {home}/pid; exec sleep 60"})
    pid = int(wait_for_file(home / "pid"))
    assert started["structuredContent"]["pid"] == pid
    server.proc.stdin.close()
    assert server.proc.wait(timeout=10) == 0
    assert wait_gone(pid)


def test_stdout_carries_only_jsonrpc(raw):
    server = raw("--log-level", "debug")
    initialize(server, "2025-11-25")
    call_tool(server, "run_command", {"command": "echo to-stdout; echo to-stderr >&2"})
    server.proc.stdin.close()
    rest = server.proc.stdout.read()
    assert rest == b""
    assert b"sandbox-rpc" in server.proc.stderr.read()  # the logs went to stderr


def test_command_line_sets_up_the_sandbox(raw, home):
    server = raw("--env", "GREETING=hello there", "--timeout", "1", "--tool-output-bytes", "4")
    initialize(server, "2025-11-25")
    result = call_tool(server, "run_command", {"command": "echo $GREETING"})
    assert result["structuredContent"]["stdout"] == "he\n[… 8 bytes omitted …]\ne\n"
    timed = call_tool(server, "run_command", {"command": "sleep 10"})
    assert timed["isError"] is True and timed["structuredContent"]["timedOut"] is True
    created = call_tool(server, "create_sandbox", {})["structuredContent"]
    assert created["home"] != str(home)
    other = call_tool(server, "run_command", {"command": "echo $GREETING", "sandboxId": created["sandboxId"]})
    assert other["structuredContent"]["stdout"] == "he\n[… 8 bytes omitted …]\ne\n"


@pytest.mark.parametrize("args, status, says", [
    (["--help"], 0, "usage: sandbox-rpc mcp"),
    (["--bogus"], 2, "unknown option --bogus"),
    (["--cwd", "/no/such/dir"], 2, "not an existing directory"),
    (["--timeout", "soon"], 2, "--timeout"),
    (["--env", "NOEQUALS"], 2, "--env"),
])
def test_bad_command_lines(args, status, says):
    import subprocess

    from conftest import BIN, require
    import os

    require(os.access(BIN, os.X_OK), f"no sandbox-rpc binary at {BIN}")
    done = subprocess.run([BIN, "mcp", *args], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert done.returncode == status
    assert says in (done.stdout if status == 0 else done.stderr)
