"""`sandbox-rpc mcp` driven by the official `mcp` Python SDK's stdio client: every tool, progress,
cancellation, and every result checked against its tool's outputSchema (Session.call does that)."""

from __future__ import annotations

import base64
from pathlib import Path

import anyio
import pytest

from conftest import MCP_MAJOR, TOOLS, connect, is_running, wait_for_file_async, wait_gone_async

pytestmark = pytest.mark.anyio


def text(result: dict) -> str:
    return result["content"][0]["text"]


async def test_connects_and_lists_every_tool_with_schemas(mode, home):
    async with connect(mode, home) as session:
        expected = "2026-07-28" if mode == "modern" else "2025-11-25"
        assert session.protocol_version == expected
        tools = await session.tools()
        assert {tool["name"] for tool in tools} == TOOLS
        for tool in tools:
            assert tool["description"] and tool["title"]
            for key in ("inputSchema", "outputSchema"):
                schema = tool[key]
                assert schema["type"] == "object", (tool["name"], key)
                import jsonschema

                jsonschema.Draft202012Validator.check_schema(schema)
            assert "annotations" in tool


async def test_run_command(mode, home):
    async with connect(mode, home) as session:
        result = await session.call("run_command", {"command": "echo out; echo err >&2; pwd; exit 3"})
        assert not result.get("isError")
        out = result["structuredContent"]
        assert out["stdout"] == f"out\n{home}\n"
        assert out["stderr"] == "err\n"
        assert out["exitCode"] == 3 and out["timedOut"] is False and "signal" not in out
        assert out["truncated"] == {"stdout": 0, "stderr": 0}
        assert "out" in text(result) and "--- stderr ---\nerr" in text(result) and "exit code 3" in text(result)

        (home / "sub").mkdir()
        result = await session.call("run_command", {"command": "pwd; echo $GREETING", "cwd": "sub", "env": {"GREETING": "hello"}})
        assert result["structuredContent"]["stdout"] == f"{home}/sub\nhello\n"


async def test_run_command_timeout_keeps_partial_output(mode, home):
    async with connect(mode, home) as session:
        result = await session.call("run_command", {"command": "echo started; sleep 30", "timeout": 1})
        assert result["isError"] is True
        out = result["structuredContent"]
        assert out["timedOut"] is True and out["exitCode"] == 137 and out["signal"] == "SIGKILL"
        assert out["stdout"] == "started\n"
        assert "timed out after 1 s" in text(result)


async def test_run_command_shortens_long_output_stating_what_was_left_out(mode, home):
    async with connect(mode, home, "--tool-output-bytes", "1000") as session:
        result = await session.call("run_command", {"command": "seq 1 100000"})
        out = result["structuredContent"]
        full = "".join(f"{i}\n" for i in range(1, 100001))
        assert out["stdout"].startswith("1\n2\n3\n") and out["stdout"].endswith("99999\n100000\n")
        assert out["truncated"]["stdout"] == len(full) - 1000
        assert f"[… {len(full) - 1000} bytes omitted …]" in out["stdout"]
        assert f"{len(full) - 1000} bytes omitted" in text(result)


async def test_run_command_reports_progress(mode, home):
    updates = []

    async def progress(value, total, message):
        updates.append((value, message))

    async with connect(mode, home) as session:
        result = await session.call(
            "run_command", {"command": "for i in 1 2 3; do echo line $i; sleep 1; done"}, progress=progress)
        assert result["structuredContent"]["stdout"] == "line 1\nline 2\nline 3\n"
    assert len(updates) >= 2, updates
    values = [value for value, _ in updates]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert any("line" in (message or "") for _, message in updates), updates


async def test_cancelling_a_call_kills_its_command(mode, home):
    pid_file = home / "pid"
    async with connect(mode, home) as session:
        await session.tools()
        command = {"command": f"echo $$ > {pid_file}; exec sleep 60"}
        if MCP_MAJOR >= 2:
            # 2.x sends notifications/cancelled for a call its caller abandons.
            with anyio.move_on_after(1.5):
                await session.call("run_command", command)
        else:
            # 1.x does not: send it by hand, for the id the call is about to get.
            import mcp.types as types

            request_id = session.target._request_id
            async with anyio.create_task_group() as group:
                group.start_soon(session.call, "run_command", command)
                await anyio.sleep(1.5)
                await session.target.send_notification(types.ClientNotification(
                    types.CancelledNotification(params=types.CancelledNotificationParams(requestId=request_id))))
                await anyio.sleep(0.5)
                group.cancel_scope.cancel()  # no response comes for a cancelled request
        pid = int(await wait_for_file_async(pid_file))
        assert await wait_gone_async(pid), "the cancelled command still runs"
        # The session goes on.
        result = await session.call("run_command", {"command": "echo still here"})
        assert result["structuredContent"]["stdout"] == "still here\n"


async def test_background_process_with_stdin(mode, home):
    async with connect(mode, home) as session:
        started = await session.call("start_command", {"command": "cat", "stdin": True})
        pid = started["structuredContent"]["pid"]
        assert str(pid) in text(started)

        listed = await session.call("list_processes")
        assert [p["command"] for p in listed["structuredContent"]["processes"] if p["pid"] == pid] == ["cat"]

        sent = await session.call("send_input", {"pid": pid, "data": "hello\n"})
        assert sent["structuredContent"] == {"pid": pid, "bytes": 6, "closed": False}
        out = {}
        for _ in range(50):
            out = (await session.call("read_output", {"pid": pid}))["structuredContent"]
            if out["stdout"]:
                break
            await anyio.sleep(0.1)
        assert out["stdout"] == "hello\n" and out["running"] is True
        assert out["next"] == {"stdout": 6, "stderr": 0}

        again = (await session.call("read_output", {"pid": pid}))["structuredContent"]
        assert again["stdout"] == "" and again["next"] == {"stdout": 6, "stderr": 0}

        sent = await session.call("send_input", {"pid": pid, "data": "bye\n", "close": True})
        assert sent["structuredContent"]["closed"] is True
        done = (await session.call("read_output", {"pid": pid, "wait": 10}))["structuredContent"]
        assert done["stdout"] == "bye\n" and done["running"] is False and done["exitCode"] == 0

        everything = (await session.call("read_output", {"pid": pid, "since": {"stdout": 0, "stderr": 0}}))["structuredContent"]
        assert everything["stdout"] == "hello\nbye\n" and everything["next"] == {"stdout": 10, "stderr": 0}

        closed = await session.call("send_input", {"pid": pid, "data": "more"})
        assert closed["isError"] is True and "exited" in text(closed)


async def test_kill_process(mode, home):
    async with connect(mode, home) as session:
        pid = (await session.call("start_command", {"command": "echo ready; exec sleep 60"}))["structuredContent"]["pid"]
        seen = ""
        for _ in range(50):
            seen += (await session.call("read_output", {"pid": pid}))["structuredContent"]["stdout"]
            if seen:
                break
            await anyio.sleep(0.1)
        assert seen == "ready\n"
        killed = await session.call("kill_process", {"pid": pid, "signal": "SIGTERM"})
        assert killed["structuredContent"] == {"pid": pid, "killed": True}
        out = (await session.call("read_output", {"pid": pid, "wait": 10}))["structuredContent"]
        assert out["running"] is False and out["exitCode"] == 143 and out["signal"] == "SIGTERM"
        assert out["stdout"] == ""  # read already
        assert not is_running(pid)
        again = await session.call("kill_process", {"pid": pid})
        assert again["structuredContent"] == {"pid": pid, "killed": False}
        assert (await session.call("list_processes"))["structuredContent"]["processes"] == []


async def test_background_timeout(mode, home):
    async with connect(mode, home) as session:
        pid = (await session.call("start_command", {"command": "sleep 30", "timeout": 1}))["structuredContent"]["pid"]
        out = (await session.call("read_output", {"pid": pid, "wait": 10}))["structuredContent"]
        assert out["running"] is False and out["error"] == "Timeout" and out["signal"] == "SIGKILL"


async def test_files(mode, home):
    async with connect(mode, home) as session:
        written = await session.call("write_file", {"path": "a/b/notes.txt", "content": "héllo\nwörld\n"})
        assert written["structuredContent"] == {"path": f"{home}/a/b/notes.txt", "size": 14}
        assert (home / "a/b/notes.txt").read_text() == "héllo\nwörld\n"

        read = (await session.call("read_file", {"path": "a/b/notes.txt"}))["structuredContent"]
        assert read == {"path": "a/b/notes.txt", "content": "héllo\nwörld\n", "encoding": "utf8", "size": 14,
                        "offset": 0, "length": 14, "remaining": 0}

        # A part ending inside "é" (bytes 1-2) comes without it; the next part starts with it whole.
        part = await session.call("read_file", {"path": "a/b/notes.txt", "length": 2})
        assert part["structuredContent"]["content"] == "h" and part["structuredContent"]["remaining"] == 13
        assert "read on with offset 1" in text(part)
        rest = (await session.call("read_file", {"path": "a/b/notes.txt", "offset": 1}))["structuredContent"]
        assert rest["content"] == "éllo\nwörld\n"

        blob = bytes(range(256))
        await session.call("write_file", {"path": "blob.bin", "content": base64.b64encode(blob).decode(), "encoding": "base64"})
        assert (home / "blob.bin").read_bytes() == blob
        back = (await session.call("read_file", {"path": "blob.bin", "encoding": "base64"}))["structuredContent"]
        assert base64.b64decode(back["content"]) == blob

        listed = (await session.call("list_files", {"depth": 3}))["structuredContent"]
        entries = {e["path"]: e for e in listed["entries"]}
        assert entries[f"{home}/a"]["type"] == "dir"
        assert entries[f"{home}/a/b/notes.txt"] == {"name": "notes.txt", "path": f"{home}/a/b/notes.txt", "type": "file", "size": 14}
        assert listed["omitted"] == 0
        top = (await session.call("list_files"))["structuredContent"]
        assert {e["name"] for e in top["entries"]} == {"a", "blob.bin"}

        missing = await session.call("read_file", {"path": "nope.txt"})
        assert missing["isError"] is True and "nope.txt" in text(missing)


async def test_more_sandboxes(mode, home, tmp_path: Path):
    async with connect(mode, home) as session:
        created = await session.call("create_sandbox")
        sandbox = created["structuredContent"]
        assert sandbox["sandboxId"] and sandbox["isolation"] in ("none", "bwrap", "docker")
        sid = sandbox["sandboxId"]

        result = await session.call("run_command", {"command": "pwd; touch mine", "sandboxId": sid})
        assert result["structuredContent"]["stdout"] == sandbox["home"] + "\n"
        assert Path(sandbox["home"], "mine").exists() and not (home / "mine").exists()
        listed = (await session.call("list_files", {"sandboxId": sid}))["structuredContent"]
        assert [e["name"] for e in listed["entries"]] == ["mine"]

        killed = await session.call("kill_sandbox", {"sandboxId": sid})
        assert killed["structuredContent"] == {"sandboxId": sid, "killed": True}
        gone = await session.call("run_command", {"command": "true", "sandboxId": sid})
        assert gone["isError"] is True and sid in text(gone)
        again = await session.call("kill_sandbox", {"sandboxId": sid})
        assert again["structuredContent"]["killed"] is False

        # The session's own sandbox is untouched.
        result = await session.call("run_command", {"command": "pwd"})
        assert result["structuredContent"]["stdout"] == f"{home}\n"


async def test_bad_arguments_are_tool_errors_naming_the_argument(mode, home):
    async with connect(mode, home) as session:
        cases = [
            ("run_command", {}, "`command`"),
            ("run_command", {"command": "true", "timeout": "soon"}, "`timeout`"),
            ("run_command", {"command": "true", "timeout": -1}, "`timeout`"),
            ("run_command", {"command": "true", "cwd": "no/such/dir"}, "`cwd`"),
            ("run_command", {"command": "true", "env": {"A": 1}}, "`env.A`"),
            ("run_command", {"cmd": "true"}, "`cmd`"),
            ("kill_process", {"pid": 1, "signal": "SIGNOPE"}, "`signal`"),
            ("read_output", {"pid": "one"}, "`pid`"),
            ("write_file", {"path": "x", "content": "***", "encoding": "base64"}, "`content`"),
            ("read_file", {"path": "x", "encoding": "latin1"}, "`encoding`"),
        ]
        for name, arguments, named in cases:
            result = await session.call(name, arguments)
            assert result["isError"] is True, (name, arguments, result)
            assert named in text(result), (name, arguments, text(result))
        unknown = await session.call("read_output", {"pid": 999999})
        assert unknown["isError"] is True and "999999" in text(unknown)
