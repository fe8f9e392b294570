"""sandbox.create / kill / list / setTimeout, the implicit sandbox, unknown sandboxes, pid scoping."""

import os
import time

from conftest import is_running, signum, wait_gone


def create(bridge, **params):
    return bridge.ok("sandbox.create", {"isolation": "none", **params})


def background(bridge, cmd, **params):
    return bridge.ok("commands.run", {"cmd": cmd, "background": True, **params})["pid"]


def listed(bridge):
    return {s["sandboxId"]: s for s in bridge.ok("sandbox.list")["sandboxes"]}


def test_create_returns_id_isolation_home(bridge):
    a = create(bridge)
    b = create(bridge)
    for sb in (a, b):
        assert set(sb) == {"sandboxId", "isolation", "home"}
        assert sb["isolation"] == "none"
        assert os.path.isabs(sb["home"]) and os.path.isdir(sb["home"])
        assert sb["sandboxId"] != "default"
    assert a["sandboxId"] != b["sandboxId"] and a["home"] != b["home"]
    assert bridge.run("pwd", sandboxId=a["sandboxId"])["stdout"] == a["home"] + "\n"


def test_implicit_default_sandbox(bridge):
    assert bridge.run("echo hi")["stdout"] == "hi\n"
    sb = listed(bridge)["default"]
    assert (sb["sandboxId"], sb["isolation"]) == ("default", "none")


def test_list_shows_metadata_start_and_process_count(bridge):
    t0 = time.time()
    sid = create(bridge, metadata={"owner": "conformance", "n": "1"})["sandboxId"]
    t1 = time.time()
    sb = listed(bridge)[sid]
    assert sb == {"sandboxId": sid, "isolation": "none", "metadata": {"owner": "conformance", "n": "1"},
                  "startedAt": sb["startedAt"], "processCount": 0}
    assert t0 - 1 <= sb["startedAt"] <= t1 + 1
    pid = background(bridge, "sleep 1000", sandboxId=sid)
    assert listed(bridge)[sid]["processCount"] == 1
    bridge.ok("commands.kill", {"pid": pid, "sandboxId": sid})
    assert listed(bridge)[sid]["processCount"] == 0


def test_kill_sandbox_kills_everything_and_answers_pending_requests(bridge):
    sb = create(bridge)
    sid, home = sb["sandboxId"], sb["home"]
    bg = background(bridge, "sleep 1000 & echo $!; wait", sandboxId=sid)
    deadline = time.monotonic() + 5
    while "\n" not in bridge.output_text(bg):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    gpid = int(bridge.output_text(bg).split("\n")[0])
    run_id = bridge.request("commands.run", {"cmd": "sleep 1000", "sandboxId": sid})
    quiet = background(bridge, "sleep 1000", sandboxId=sid, stream=False)
    wait_id = bridge.request("commands.wait", {"pid": quiet, "sandboxId": sid})
    time.sleep(0.3)
    fg = [p["pid"] for p in bridge.ok("commands.list", {"sandboxId": sid})["processes"] if p["cmd"] == "sleep 1000"
          and p["pid"] != quiet]
    assert len(fg) == 1
    assert bridge.ok("sandbox.kill", {"sandboxId": sid}) == {"killed": True}

    err = bridge.wait_response(run_id)["error"]
    assert (err["code"], err["data"]) == (-32012, {"kind": "SandboxKilled", "sandboxId": sid, "pid": fg[0]})
    err = bridge.wait_response(wait_id)["error"]
    assert err["code"] == -32012 and err["data"]["kind"] == "SandboxKilled" and err["data"]["sandboxId"] == sid
    ex = bridge.wait_exit_notification(bg, sandbox_id=sid).msg["params"]
    assert ex["error"] == "SandboxKilled"
    assert ex == {"sandboxId": sid, "pid": bg, "exitCode": 128 + signum(ex["signal"]), "signal": ex["signal"],
                  "error": "SandboxKilled"}
    assert bridge.notifications("commands.exit", quiet) == [], "stream: false sends no commands.exit"
    assert wait_gone([bg, gpid, quiet, fg[0]], 5) == []
    assert not os.path.exists(home), "a sandbox's own home is removed when it is killed"
    assert sid not in listed(bridge)
    assert bridge.ok("sandbox.kill", {"sandboxId": sid}) == {"killed": False}
    err = bridge.err("commands.run", {"cmd": "true", "sandboxId": sid})
    assert (err["code"], err["data"]["kind"], err["data"]["sandboxId"]) in [
        (-32001, "SandboxNotFound", sid), (-32012, "SandboxKilled", sid)]


def test_sandbox_with_given_cwd_keeps_it(bridge, tmp_path):
    d = tmp_path / "work"
    d.mkdir()
    sb = create(bridge, cwd=str(d))
    assert sb["home"] == str(d)
    assert bridge.run("pwd; touch made-here", sandboxId=sb["sandboxId"])["stdout"] == f"{d}\n"
    assert bridge.ok("sandbox.kill", {"sandboxId": sb["sandboxId"]}) == {"killed": True}
    assert (d / "made-here").exists(), "a cwd the user gave is not removed"


def test_create_with_missing_cwd_is_file_not_found(bridge):
    err = bridge.err("sandbox.create", {"isolation": "none", "cwd": "/nonexistent-sandbox-cwd-1c2"})
    assert (err["code"], err["data"]) == (-32005, {"kind": "FileNotFound", "path": "/nonexistent-sandbox-cwd-1c2"})


def test_unknown_sandbox(bridge):
    for method, params in [("commands.run", {"cmd": "true"}), ("commands.list", {}),
                           ("commands.kill", {"pid": 12345}), ("commands.wait", {"pid": 12345}),
                           ("sandbox.setTimeout", {"timeout": 5})]:
        err = bridge.err(method, {**params, "sandboxId": "no-such-sandbox"})
        assert (err["code"], err["data"]) == (-32001, {"kind": "SandboxNotFound", "sandboxId": "no-such-sandbox"}), method
    assert bridge.ok("sandbox.kill", {"sandboxId": "no-such-sandbox"}) == {"killed": False}


def test_set_timeout_kills_the_sandbox_and_notifies(bridge):
    sid = create(bridge)["sandboxId"]
    pid = background(bridge, "sleep 1000", sandboxId=sid)
    t0 = time.monotonic()
    assert bridge.ok("sandbox.setTimeout", {"sandboxId": sid, "timeout": 1}) == {}
    rec = bridge.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "sandbox.exit", timeout=10,
                          what="sandbox.exit")
    assert 0.9 <= time.monotonic() - t0 < 4
    assert rec.msg["params"] == {"sandboxId": sid, "reason": "timeout"}
    ex = bridge.wait_exit_notification(pid, sandbox_id=sid).msg["params"]
    assert ex["error"] == "SandboxKilled"
    assert wait_gone([pid], 5) == []
    assert sid not in listed(bridge)


def test_create_timeout_and_set_timeout_zero_removes_it(bridge):
    doomed = create(bridge, timeout=1)["sandboxId"]
    kept = create(bridge, timeout=1)["sandboxId"]
    assert bridge.ok("sandbox.setTimeout", {"sandboxId": kept, "timeout": 0}) == {}
    rec = bridge.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "sandbox.exit", timeout=10,
                          what="sandbox.exit")
    assert rec.msg["params"] == {"sandboxId": doomed, "reason": "timeout"}
    time.sleep(1.0)
    assert [n["params"]["sandboxId"] for n in bridge.notifications("sandbox.exit")] == [doomed]
    assert kept in listed(bridge) and doomed not in listed(bridge)
    assert bridge.run("echo alive", sandboxId=kept)["stdout"] == "alive\n"


def test_pid_is_looked_up_only_in_its_sandbox(bridge):
    a = create(bridge)["sandboxId"]
    b = create(bridge)["sandboxId"]
    pid = background(bridge, "sleep 1000", sandboxId=a)
    for params in [{"pid": pid}, {"pid": pid, "sandboxId": b}]:
        for method in ["commands.kill", "commands.wait", "commands.connect", "commands.disconnect"]:
            err = bridge.err(method, params)
            assert (err["code"], err["data"]) == (-32002, {"kind": "ProcessNotFound", "pid": pid}), (method, params)
    assert pid not in [p["pid"] for p in bridge.ok("commands.list")["processes"]]
    assert pid not in [p["pid"] for p in bridge.ok("commands.list", {"sandboxId": b})["processes"]]
    assert is_running(pid)
    assert bridge.ok("commands.kill", {"pid": pid, "sandboxId": a}) == {"killed": True}


def test_streamed_run_in_killed_sandbox_reports_exit_before_its_error(bridge):
    sid = create(bridge)["sandboxId"]
    rid = bridge.request("commands.run", {"cmd": "echo y; sleep 100", "stream": True, "sandboxId": sid})
    rec = bridge.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "commands.output", what="output")
    pid = rec.msg["params"]["pid"]
    assert bridge.ok("sandbox.kill", {"sandboxId": sid}) == {"killed": True}
    err = bridge.wait_response(rid)["error"]
    assert (err["code"], err["data"]) == (-32012, {"kind": "SandboxKilled", "sandboxId": sid, "pid": pid})
    ex = bridge.wait_exit_notification(pid, sandbox_id=sid)
    assert ex.index < bridge.response_record(rid).index, "a foreground run's notifications precede its response"
    assert ex.msg["params"]["error"] == "SandboxKilled"
