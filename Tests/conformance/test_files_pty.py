"""files.* and pty.*: shapes (validated against schema/ by the harness) and exact values."""

import base64
import os
import time

import pytest


@pytest.fixture
def caps(bridge):
    return bridge.ok("initialize")["capabilities"]


@pytest.fixture
def home(bridge):
    return bridge.run("pwd")["stdout"].strip()


def decoded_pty(bridge, pid):
    return b"".join(base64.b64decode(n["params"]["data"], validate=True) for n in bridge.notifications("pty.output", pid))


def test_files_roundtrip(bridge, caps, home):
    assert caps["files"] is True
    assert bridge.ok("files.write", {"path": "a/b/t.txt", "content": "héllo\n"}) == {"path": f"{home}/a/b/t.txt", "size": 7}
    assert bridge.ok("files.read", {"path": "a/b/t.txt"}) == {"content": "héllo\n"}
    assert bridge.ok("files.read", {"path": f"{home}/a/b/t.txt", "encoding": "base64"}) == {
        "content": base64.b64encode("héllo\n".encode()).decode()}
    raw = bytes(range(256))
    assert bridge.ok("files.write", {"path": "bin", "content": base64.b64encode(raw).decode(),
                                     "encoding": "base64"})["size"] == 256
    assert base64.b64decode(bridge.ok("files.read", {"path": "bin", "encoding": "base64"})["content"]) == raw
    assert bridge.run("od -An -v -tx1 bin | tr -d ' \\n'")["stdout"] == raw.hex(), "the file holds the exact bytes"
    assert bridge.ok("files.exists", {"path": "a/b/t.txt"}) == {"exists": True}
    assert bridge.ok("files.exists", {"path": "a/b/nope"}) == {"exists": False}


def test_files_list_info_rename_remove(bridge, caps, home):
    t0 = time.time()
    bridge.run("mkdir -p d/sub && printf 12345 > d/f && chmod 640 d/f && ln -s f d/l")
    entries = {e["name"]: e for e in bridge.ok("files.list", {"path": "d"})["entries"]}
    assert set(entries) == {"sub", "f", "l"}
    f = entries["f"]
    assert (f["path"], f["type"], f["size"], f["mode"]) == (f"{home}/d/f", "file", 5, 0o640)
    assert t0 - 2 <= f["modifiedTime"] <= time.time() + 2
    assert (entries["sub"]["type"], entries["l"]["type"]) == ("dir", "symlink")
    assert bridge.ok("files.info", {"path": "d/f"}) == f
    assert bridge.ok("files.makeDir", {"path": "d/new/deep"}) == {"created": True}
    assert bridge.ok("files.makeDir", {"path": "d/new/deep"}) == {"created": False}
    moved = bridge.ok("files.rename", {"from": "d/f", "to": "d/g"})
    assert (moved["name"], moved["path"], moved["size"]) == ("g", f"{home}/d/g", 5)
    assert bridge.ok("files.remove", {"path": "d/g"}) == {}
    assert bridge.ok("files.exists", {"path": "d/g"}) == {"exists": False}
    assert os.path.isdir(f"{home}/d/new/deep")


def test_files_errors(bridge, caps, home):
    bridge.run("mkdir -p d && touch d/f")
    err = bridge.err("files.read", {"path": "d/missing"})
    assert (err["code"], err["data"]) == (-32005, {"kind": "FileNotFound", "path": f"{home}/d/missing"})
    err = bridge.err("files.read", {"path": "d"})
    assert (err["code"], err["data"]) == (-32013, {"kind": "IsADirectory", "path": f"{home}/d"})
    err = bridge.err("files.list", {"path": "d/f"})
    assert (err["code"], err["data"]) == (-32006, {"kind": "NotADirectory", "path": f"{home}/d/f"})


def test_pty_size_input_resize_and_exit(bridge, caps):
    assert caps["pty"] is True
    pid = bridge.ok("pty.create", {"cols": 80, "rows": 24, "cmd": "stty size; read x; echo got:$x; read y; stty size"})["pid"]
    procs = {p["pid"]: p for p in bridge.ok("commands.list")["processes"]}
    assert procs[pid]["isPty"] is True
    deadline = time.monotonic() + 10
    while b"24 80" not in decoded_pty(bridge, pid):
        assert time.monotonic() < deadline, decoded_pty(bridge, pid)
        time.sleep(0.02)
    assert bridge.ok("pty.sendInput", {"pid": pid, "data": base64.b64encode(b"abc\n").decode()}) == {}
    assert bridge.ok("pty.resize", {"pid": pid, "cols": 100, "rows": 30}) == {}
    assert bridge.ok("pty.sendInput", {"pid": pid, "data": base64.b64encode(b"\n").decode()}) == {}
    ex = bridge.wait_exit_notification(pid)
    assert ex.msg["params"] == {"sandboxId": "default", "pid": pid, "exitCode": 0}
    out = decoded_pty(bridge, pid)
    assert b"24 80\r\n" in out and b"got:abc\r\n" in out and out.endswith(b"30 100\r\n")
    last_output = max(i for i, r in enumerate(bridge.records)
                      if isinstance(r.msg, dict) and r.msg.get("method") == "pty.output" and r.msg["params"]["pid"] == pid)
    assert last_output < ex.index, "pty.output precedes its commands.exit"


def test_pty_killed_with_commands_kill(bridge, caps):
    pid = bridge.ok("pty.create", {"cols": 80, "rows": 24, "cmd": "sleep 1000"})["pid"]
    assert bridge.ok("commands.kill", {"pid": pid}) == {"killed": True}
    assert bridge.wait_exit_notification(pid).msg["params"] == {"sandboxId": "default", "pid": pid, "exitCode": 137,
                                                                "signal": "SIGKILL"}
