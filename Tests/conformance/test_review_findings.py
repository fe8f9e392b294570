"""Regressions from the code review: each failed (hung, crashed or answered wrongly) before its fix."""
import time


def test_a_dead_keeper_ends_its_sandbox_and_default_comes_back(bridge):
    r = bridge.call("commands.run", {"cmd": "kill -9 $PPID"})  # bash's parent is the sandbox's keeper
    assert ("error" in r and r["error"]["data"]["kind"] == "SandboxKilled") or r["result"]["signal"] == "SIGKILL"
    bridge.wait_for(lambda m: m.get("method") == "sandbox.exit", what="sandbox.exit")
    assert bridge.run("echo again")["stdout"] == "again\n"
    assert bridge.ok("sandbox.kill", {}) == {"killed": True}
    assert bridge.ok("shutdown", timeout=10) == {}


def test_killing_default_then_using_it_at_once_gets_a_whole_new_default(bridge):
    bridge.run("echo old > marker")
    kill = bridge.request("sandbox.kill", {})
    run = bridge.request("commands.run", {"cmd": "ls; pwd"})
    assert bridge.wait_response(kill)["result"] == {"killed": True}
    result = bridge.wait_response(run, 20)["result"]
    assert result["stdout"].splitlines()[0] != "marker"
    assert bridge.run("touch new && ls")["stdout"] == "new\n", "the new home exists and is its own"


def test_a_huge_sparse_file_is_refused_not_read_whole(bridge):
    bridge.run("truncate -s 100G sparse")
    e = bridge.err("files.read", {"path": "sparse"}, timeout=10)
    assert e["data"]["kind"] == "LimitExceeded" and "offset and length" in e["message"]
    chunk = bridge.ok("files.read", {"path": "sparse", "offset": 50 << 30, "length": 4, "encoding": "base64"})
    assert chunk == {"content": "AAAAAA==", "size": 100 << 30}
    assert bridge.ok("ping") == {}


def test_writing_into_a_fifo_is_refused_without_blocking(bridge):
    bridge.run("mkfifo pipe")
    started = time.monotonic()
    e = bridge.err("files.write", {"path": "pipe", "content": "x"}, timeout=5)
    assert e["data"]["kind"] in ("Unsupported", "FileNotFound") and time.monotonic() - started < 2
    assert bridge.ok("files.write", {"path": "regular", "content": "ok"})["size"] == 2
