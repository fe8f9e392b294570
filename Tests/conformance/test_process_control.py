"""Timeouts, kill, list, stdin, connect/disconnect, wait, cancellation, pipes held by descendants,
and the ordering of output vs exit vs response."""

import base64
import hashlib
import time
from pathlib import Path

import pytest

from conftest import is_gone, is_running, proc_stat, signum, wait_gone, zombies_of


def unused_pid() -> int:
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    for pid in range(pid_max - 1, 1, -1):
        if proc_stat(pid) is None:
            return pid
    raise RuntimeError("no free pid")


def background(bridge, cmd, **params):
    return bridge.ok("commands.run", {"cmd": cmd, "background": True, **params})["pid"]


def printed_lines(bridge, pid, count, timeout=10.0):
    """Wait until the streamed stdout of pid has `count` full lines; return them."""
    deadline = time.monotonic() + timeout
    while True:
        text = bridge.output_text(pid)
        lines = text.split("\n")[:-1]
        if len(lines) >= count:
            return lines[:count]
        assert time.monotonic() < deadline, f"pid {pid} printed {text!r}"
        time.sleep(0.02)


def printed_pids(bridge, pid, count, timeout=10.0):
    return [int(x) for x in printed_lines(bridge, pid, count, timeout)]


def exit_params(bridge, pid, timeout=10.0):
    return bridge.wait_exit_notification(pid, timeout).msg["params"]


def assert_killed_exit(params, pid, sig, error=None):
    expected = {"sandboxId": "default", "pid": pid, "exitCode": 128 + signum(sig), "signal": sig}
    if error:
        expected["error"] = error
    assert params == expected


# ------------------------------------------------------------------------------------------- timeout
def test_timeout_kills_the_group_and_returns_partial_output(bridge):
    t0 = time.monotonic()
    resp = bridge.call("commands.run", {"cmd": "echo start; sleep 1000 & echo $!; echo err >&2; wait", "timeout": 1},
                       timeout=20)
    elapsed = time.monotonic() - t0
    err = resp["error"]
    assert err["code"] == -32003
    data = err["data"]
    gpid = int(data["stdout"].splitlines()[1])
    sig = data["signal"]
    assert data == {"kind": "Timeout", "pid": data["pid"], "stdout": f"start\n{gpid}\n", "stderr": "err\n",
                    "exitCode": 128 + signum(sig), "signal": sig}
    assert sig in ("SIGKILL", "SIGTERM")
    assert 0.9 <= elapsed < 5, elapsed
    assert wait_gone([data["pid"], gpid], 5) == [], "the whole process group dies on timeout"


def test_timeout_of_background_run(bridge):
    pid = background(bridge, "sleep 1000 & echo $!; wait", timeout=1)
    gpid = printed_pids(bridge, pid, 1)[0]
    params = exit_params(bridge, pid, timeout=10)
    assert params["error"] == "Timeout"
    assert_killed_exit(params, pid, params["signal"], "Timeout")
    assert wait_gone([pid, gpid], 5) == []


def test_timeout_zero_means_none(bridge):
    r = bridge.run("sleep 1.2; echo late", timeout=0)
    assert (r["stdout"], r["exitCode"]) == ("late\n", 0)


def test_fractional_timeout(bridge):
    t0 = time.monotonic()
    err = bridge.err("commands.run", {"cmd": "sleep 5", "timeout": 0.3})
    assert err["code"] == -32003 and err["data"]["stdout"] == ""
    assert time.monotonic() - t0 < 3


# ------------------------------------------------------------------------------------------- kill
def test_kill_kills_the_group_and_answers_after_reaping(bridge):
    pid = background(bridge, "sleep 1000 & echo $!; wait")
    gpid = printed_pids(bridge, pid, 1)[0]
    assert bridge.ok("commands.kill", {"pid": pid}) == {"killed": True}
    r = bridge.run(f"kill -0 {pid} 2>/dev/null; echo $?")
    assert r["stdout"] == "1\n", "after a SIGKILL kill is answered, the pid no longer exists (reaped)"
    assert_killed_exit(exit_params(bridge, pid), pid, "SIGKILL")
    assert wait_gone([gpid], 5) == [], "the grandchild dies with its group"
    assert bridge.ok("commands.kill", {"pid": pid}) == {"killed": False}
    assert zombies_of(bridge.pid) == []


def test_kill_with_sigterm(bridge):
    pid = background(bridge, "sleep 1000")
    assert bridge.ok("commands.kill", {"pid": pid, "signal": "SIGTERM"}) == {"killed": True}
    assert_killed_exit(exit_params(bridge, pid), pid, "SIGTERM")


def test_kill_unknown_pid_is_process_not_found(bridge):
    pid = unused_pid()
    err = bridge.err("commands.kill", {"pid": pid})
    assert (err["code"], err["data"]) == (-32002, {"kind": "ProcessNotFound", "pid": pid})


def test_kill_a_running_foreground_run(bridge):
    rid = bridge.request("commands.run", {"cmd": "echo up; sleep 1000", "stream": True})
    rec = bridge.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "commands.output", what="output")
    pid = rec.msg["params"]["pid"]
    assert bridge.ok("commands.kill", {"pid": pid}) == {"killed": True}
    result = bridge.wait_response(rid)["result"]
    assert result == {"pid": pid, "stdout": "up\n", "stderr": "", "exitCode": 137, "signal": "SIGKILL"}


# ------------------------------------------------------------------------------------------- list
def test_list_shows_running_processes_only(bridge):
    sb = bridge.ok("sandbox.create", {"isolation": "none"})
    sid, home = sb["sandboxId"], sb["home"]
    bridge.run("mkdir sub", sandboxId=sid)
    t0 = time.time()
    p1 = background(bridge, "sleep 1000", sandboxId=sid, tag="web", envs={"X": "1"})
    p2 = background(bridge, "sleep 1001", sandboxId=sid, cwd="sub")
    t1 = time.time()
    procs = {p["pid"]: p for p in bridge.ok("commands.list", {"sandboxId": sid})["processes"]}
    assert set(procs) == {p1, p2}
    for p in procs.values():
        assert t0 - 1 <= p["startedAt"] <= t1 + 1
    assert procs[p1] == {"pid": p1, "cmd": "sleep 1000", "tag": "web", "envs": {"X": "1"}, "cwd": home,
                         "isPty": False, "startedAt": procs[p1]["startedAt"]}
    assert procs[p2] == {"pid": p2, "cmd": "sleep 1001", "envs": {}, "cwd": f"{home}/sub",
                         "isPty": False, "startedAt": procs[p2]["startedAt"]}
    assert bridge.ok("commands.kill", {"pid": p1, "sandboxId": sid}) == {"killed": True}
    assert [p["pid"] for p in bridge.ok("commands.list", {"sandboxId": sid})["processes"]] == [p2]
    rid = bridge.request("commands.run", {"cmd": "sleep 1.5", "sandboxId": sid})
    deadline = time.monotonic() + 5
    while len(bridge.ok("commands.list", {"sandboxId": sid})["processes"]) != 2:
        assert time.monotonic() < deadline, "a running foreground run is listed too"
        time.sleep(0.05)
    assert bridge.wait_response(rid)["result"]["exitCode"] == 0
    assert [p["pid"] for p in bridge.ok("commands.list", {"sandboxId": sid})["processes"]] == [p2]


# ------------------------------------------------------------------------------------------- stdin
def test_send_and_close_stdin(bridge):
    pid = background(bridge, "cat; echo done; sleep 1000", stdin=True)
    assert bridge.ok("commands.sendStdin", {"pid": pid, "data": "hello\n"}) == {}
    bridge.wait_output(pid, "hello\n")
    data = base64.b64encode("wörld\n".encode()).decode()
    assert bridge.ok("commands.sendStdin", {"pid": pid, "data": data, "encoding": "base64"}) == {}
    assert bridge.ok("commands.closeStdin", {"pid": pid}) == {}
    bridge.wait_output(pid, "done\n")
    assert bridge.output_text(pid) == "hello\nwörld\ndone\n"
    assert bridge.ok("commands.closeStdin", {"pid": pid}) == {}, "closeStdin is idempotent"
    err = bridge.err("commands.sendStdin", {"pid": pid, "data": "late\n"})
    assert (err["code"], err["data"]) == (-32009, {"kind": "StdinClosed", "pid": pid})
    assert bridge.ok("commands.kill", {"pid": pid}) == {"killed": True}
    exit_params(bridge, pid)
    err = bridge.err("commands.sendStdin", {"pid": pid, "data": "x"})
    assert (err["code"], err["data"]) == (-32008, {"kind": "ProcessNotRunning", "pid": pid})


def test_stdin_of_a_foreground_run(bridge):
    rid = bridge.request("commands.run", {"cmd": "read line; echo got:$line; cat", "stdin": True})
    deadline = time.monotonic() + 5
    while True:
        procs = bridge.ok("commands.list")["processes"]
        if procs:
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pid = procs[0]["pid"]
    bridge.ok("commands.sendStdin", {"pid": pid, "data": "one\ntwo\n"})
    bridge.ok("commands.closeStdin", {"pid": pid})
    assert bridge.wait_response(rid)["result"] == {"pid": pid, "stdout": "got:one\ntwo\n", "stderr": "", "exitCode": 0}


def test_big_stdin_message(bridge):
    pid = background(bridge, "sha256sum", stdin=True)
    data = "0123456789abcdef" * (4 * 1024 * 1024 // 16)
    assert bridge.ok("commands.sendStdin", {"pid": pid, "data": data}, timeout=30) == {}
    bridge.ok("commands.closeStdin", {"pid": pid})
    assert exit_params(bridge, pid)["exitCode"] == 0
    assert bridge.output_text(pid) == hashlib.sha256(data.encode()).hexdigest() + "  -\n"


def test_send_stdin_without_stdin_true_is_stdin_closed(bridge):
    pid = background(bridge, "sleep 1000")
    err = bridge.err("commands.sendStdin", {"pid": pid, "data": "x"})
    assert (err["code"], err["data"]) == (-32009, {"kind": "StdinClosed", "pid": pid})


def test_one_megabyte_through_stdin(bridge):
    pid = background(bridge, "wc -c", stdin=True)
    chunk = "x" * 65536
    for _ in range(16):
        assert bridge.ok("commands.sendStdin", {"pid": pid, "data": chunk}, timeout=20) == {}
    assert bridge.ok("commands.closeStdin", {"pid": pid}) == {}
    assert exit_params(bridge, pid)["exitCode"] == 0
    assert bridge.output_text(pid) == f"{16 * 65536}\n"


# ------------------------------------------------------------------------------------------- connect / disconnect
def test_disconnect_then_connect_misses_nothing_and_repeats_nothing(bridge):
    pid = background(bridge, "cat", stdin=True)
    bridge.ok("commands.sendStdin", {"pid": pid, "data": "a\n"})
    bridge.wait_output(pid, "a\n")
    assert bridge.ok("commands.disconnect", {"pid": pid}) == {}
    n = len(bridge.notifications(pid=pid))
    bridge.ok("commands.sendStdin", {"pid": pid, "data": "b\n"})
    time.sleep(0.5)
    assert len(bridge.notifications(pid=pid)) == n, "no streaming while disconnected"
    assert is_running(pid)
    rid = bridge.request("commands.connect", {"pid": pid})
    assert bridge.wait_response(rid)["result"] == {"pid": pid, "stdout": "a\nb\n", "stderr": ""}
    after = bridge.response_record(rid).index
    bridge.ok("commands.sendStdin", {"pid": pid, "data": "c\n"})
    bridge.ok("commands.closeStdin", {"pid": pid})
    ex = bridge.wait_exit_notification(pid)
    assert ex.msg["params"] == {"sandboxId": "default", "pid": pid, "exitCode": 0}
    later = [r.msg for r in bridge.records[after + 1:]
             if isinstance(r.msg, dict) and r.msg.get("method") == "commands.output" and r.msg["params"]["pid"] == pid]
    assert "".join(m["params"]["data"] for m in later) == "c\n"
    assert bridge.output_text(pid) == "a\nc\n"


def test_connect_while_connected_does_not_double_the_stream(bridge):
    pid = background(bridge, "cat", stdin=True)
    bridge.ok("commands.sendStdin", {"pid": pid, "data": "a\n"})
    bridge.wait_output(pid, "a\n")
    assert bridge.ok("commands.connect", {"pid": pid}) == {"pid": pid, "stdout": "a\n", "stderr": ""}
    bridge.ok("commands.sendStdin", {"pid": pid, "data": "b\n"})
    bridge.ok("commands.closeStdin", {"pid": pid})
    bridge.wait_exit_notification(pid)
    assert bridge.output_text(pid) == "a\nb\n"
    assert len(bridge.notifications("commands.exit", pid)) == 1


def test_connect_starts_streaming_a_process_run_without_stream(bridge):
    pid = background(bridge, "cat", stdin=True, stream=False)
    bridge.ok("commands.sendStdin", {"pid": pid, "data": "a\n"})
    time.sleep(0.3)  # cat echoes "a" while nobody is subscribed
    assert bridge.notifications(pid=pid) == []
    assert bridge.ok("commands.connect", {"pid": pid}) == {"pid": pid, "stdout": "a\n", "stderr": ""}
    bridge.ok("commands.sendStdin", {"pid": pid, "data": "b\n"})
    bridge.wait_output(pid, "b\n")
    bridge.ok("commands.closeStdin", {"pid": pid})
    assert bridge.wait_exit_notification(pid).msg["params"] == {"sandboxId": "default", "pid": pid, "exitCode": 0}
    assert bridge.output_text(pid) == "b\n"


def test_connect_to_exited_unwaited_process(bridge):
    pid = background(bridge, "echo out; echo err >&2", stream=False)
    deadline = time.monotonic() + 5
    while pid in [p["pid"] for p in bridge.ok("commands.list")["processes"]]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert bridge.notifications(pid=pid) == [], "stream: false sends nothing"
    rid = bridge.request("commands.connect", {"pid": pid})
    assert bridge.wait_response(rid)["result"] == {"pid": pid, "stdout": "out\n", "stderr": "err\n"}
    ex = bridge.wait_exit_notification(pid)
    assert ex.index > bridge.response_record(rid).index, "connect's response comes before the exit it triggers"
    assert ex.msg["params"] == {"sandboxId": "default", "pid": pid, "exitCode": 0}
    assert bridge.notifications("commands.output", pid) == [], "what was kept came in the response, not twice"
    assert bridge.ok("commands.wait", {"pid": pid}) == {"pid": pid, "stdout": "out\n", "stderr": "err\n", "exitCode": 0}


def test_connect_unknown_pid(bridge):
    pid = unused_pid()
    err = bridge.err("commands.connect", {"pid": pid})
    assert (err["code"], err["data"]) == (-32002, {"kind": "ProcessNotFound", "pid": pid})


# ------------------------------------------------------------------------------------------- wait
def test_wait_returns_the_result(bridge):
    pid = background(bridge, "sleep 0.5; echo done; exit 4", stream=False)
    assert bridge.ok("commands.wait", {"pid": pid}) == {"pid": pid, "stdout": "done\n", "stderr": "", "exitCode": 4}


def test_two_waiters_get_the_same_result(bridge):
    pid = background(bridge, "sleep 0.5; echo x", stream=False)
    a = bridge.request("commands.wait", {"pid": pid})
    b = bridge.request("commands.wait", {"pid": pid})
    expected = {"pid": pid, "stdout": "x\n", "stderr": "", "exitCode": 0}
    assert bridge.wait_response(a)["result"] == expected
    assert bridge.wait_response(b)["result"] == expected


def test_wait_on_already_exited_process(bridge):
    pid = background(bridge, "echo quick", stream=False)
    time.sleep(0.5)
    assert bridge.ok("commands.wait", {"pid": pid}) == {"pid": pid, "stdout": "quick\n", "stderr": "", "exitCode": 0}


def test_wait_timeout_leaves_process_running(bridge):
    pid = background(bridge, "echo partial; sleep 1000")
    bridge.wait_output(pid, "partial\n")
    err = bridge.err("commands.wait", {"pid": pid, "timeout": 0.3})
    assert err["code"] == -32003
    assert err["data"] == {"kind": "Timeout", "pid": pid, "stdout": "partial\n", "stderr": "", "exitCode": None}
    assert is_running(pid)
    assert bridge.ok("commands.kill", {"pid": pid}) == {"killed": True}
    result = bridge.ok("commands.wait", {"pid": pid})
    assert result == {"pid": pid, "stdout": "partial\n", "stderr": "", "exitCode": 137, "signal": "SIGKILL"}


def test_last_1024_exited_processes_are_remembered(bridge):
    sid = bridge.ok("sandbox.create", {"isolation": "none"})["sandboxId"]

    def start_all(n):
        ids = [bridge.request("commands.run", {"cmd": "true", "background": True, "stream": False, "sandboxId": sid})
               for _ in range(n)]
        pids = [bridge.wait_response(rid, 60)["result"]["pid"] for rid in ids]
        deadline = time.monotonic() + 30
        while bridge.ok("commands.list", {"sandboxId": sid})["processes"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return pids

    oldest = start_all(1)[0]  # exits before any of the next 1024 starts
    newer = start_all(1024)
    for pid in (newer[0], newer[-1]):
        assert bridge.ok("commands.wait", {"pid": pid, "sandboxId": sid}) == {
            "pid": pid, "stdout": "", "stderr": "", "exitCode": 0}
    err = bridge.err("commands.wait", {"pid": oldest, "sandboxId": sid})
    assert (err["code"], err["data"]) == (-32002, {"kind": "ProcessNotFound", "pid": oldest})


def test_wait_unknown_pid(bridge):
    pid = unused_pid()
    err = bridge.err("commands.wait", {"pid": pid})
    assert (err["code"], err["data"]) == (-32002, {"kind": "ProcessNotFound", "pid": pid})


# ------------------------------------------------------------------------------------------- cancellation
@pytest.mark.parametrize("how,rid", [("$/cancelRequest", "cancel-me"), ("notifications/cancelled", 4242)])
def test_cancel_foreground_run_kills_it(bridge, how, rid):
    bridge.request("commands.run", {"cmd": "echo started; sleep 1000 & echo $!; wait", "stream": True}, id=rid)
    rec = bridge.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "commands.output", what="output")
    pid = rec.msg["params"]["pid"]
    lines = printed_lines(bridge, pid, 2)
    assert lines[0] == "started"
    gpid = int(lines[1])
    bridge.notify(how, {"id": rid} if how == "$/cancelRequest" else {"requestId": rid})
    resp = bridge.wait_response(rid)
    assert resp == {"jsonrpc": "2.0", "id": rid,
                    "error": {"code": -32800, "message": resp["error"]["message"], "data": {"kind": "RequestCancelled"}}}
    assert wait_gone([pid, gpid], 5) == [], "a cancelled foreground run is killed, with its group"


def test_cancel_matches_the_id_exactly(bridge):
    bridge.request("commands.run", {"cmd": "sleep 1000"}, id=5)
    time.sleep(0.3)
    start = len(bridge.records)
    bridge.notify("$/cancelRequest", {"id": "5"})
    bridge.notify("$/cancelRequest", {"id": 6})
    assert bridge.quiet_for(0.5, start) == [], "the string id \"5\" is not the number id 5"
    bridge.notify("$/cancelRequest", {"id": 5})
    assert bridge.wait_response(5)["error"]["code"] == -32800


def test_cancel_wait_does_not_kill(bridge):
    pid = background(bridge, "sleep 1000")
    bridge.request("commands.wait", {"pid": pid}, id="w1")
    time.sleep(0.3)
    bridge.notify("$/cancelRequest", {"id": "w1"})
    resp = bridge.wait_response("w1")
    assert (resp["error"]["code"], resp["error"]["data"]) == (-32800, {"kind": "RequestCancelled"})
    time.sleep(0.3)
    assert is_running(pid)
    assert pid in [p["pid"] for p in bridge.ok("commands.list")["processes"]]


def test_cancel_of_finished_request_changes_nothing(bridge):
    r = bridge.call("commands.run", {"cmd": "echo x"}, id="done-1")
    assert r["result"]["stdout"] == "x\n"
    start = len(bridge.records)
    bridge.notify("$/cancelRequest", {"id": "done-1"})
    assert bridge.quiet_for(0.4, start) == []


# ------------------------------------------------------------------------------------------- pipes held open
def test_background_grandchild_holding_pipes_does_not_delay_result(bridge):
    sid = bridge.ok("sandbox.create", {"isolation": "none"})["sandboxId"]
    t0 = time.monotonic()
    r = bridge.run("sleep 100 & echo $!; echo done", sandboxId=sid)
    assert time.monotonic() - t0 < 3
    gpid = int(r["stdout"].splitlines()[0])
    assert r == {"pid": r["pid"], "stdout": f"{gpid}\ndone\n", "stderr": "", "exitCode": 0}
    assert is_running(gpid), "the descendant keeps running (until its sandbox dies)"
    assert bridge.ok("sandbox.kill", {"sandboxId": sid}) == {"killed": True}
    assert wait_gone([gpid], 5) == []


def test_output_written_before_exit_is_all_read_although_a_grandchild_holds_the_pipe(bridge):
    sid = bridge.ok("sandbox.create", {"isolation": "none"})["sandboxId"]
    r = bridge.run("sleep 100 & head -c 5000000 /dev/zero | tr '\\0' a", sandboxId=sid, stream=True)
    assert (r["stdout"], r["exitCode"]) == ("a" * 5_000_000, 0)
    assert bridge.output_bytes[(sid, r["pid"], "stdout")] == 5_000_000
    bridge.ok("sandbox.kill", {"sandboxId": sid})


def test_background_run_exit_not_held_by_grandchild(bridge):
    t0 = time.monotonic()
    pid = background(bridge, "sleep 100 & echo $!")
    params = exit_params(bridge, pid, timeout=5)
    assert time.monotonic() - t0 < 3
    assert params == {"sandboxId": "default", "pid": pid, "exitCode": 0}


def test_output_of_descendant_after_exit_is_drained_and_discarded(bridge):
    sid = bridge.ok("sandbox.create", {"isolation": "none"})["sandboxId"]
    r = bridge.run("(sleep 0.3; exec yes) & echo $!", sandboxId=sid, stream=True)
    ypid = int(r["stdout"])
    time.sleep(0.5)

    def written():
        for line in Path(f"/proc/{ypid}/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])

    w0 = written()
    time.sleep(0.5)
    assert written() - w0 > 1_000_000, "the descendant's writes are read (and dropped), it is not blocked"
    assert bridge.ok("ping") == {}
    assert bridge.run("echo still")["stdout"] == "still\n"
    exit_index = max(i for i, rec in enumerate(bridge.records)
                     if isinstance(rec.msg, dict) and rec.msg.get("method") == "commands.exit"
                     and rec.msg["params"]["pid"] == r["pid"])
    later = [rec for rec in bridge.records[exit_index + 1:]
             if isinstance(rec.msg, dict) and rec.msg.get("method") == "commands.output"
             and rec.msg["params"]["pid"] == r["pid"]]
    assert later == [], "nothing of a pid after its commands.exit"
    bridge.ok("sandbox.kill", {"sandboxId": sid})
    assert wait_gone([ypid], 5) == []


# ------------------------------------------------------------------------------------------- ordering
def pid_records(bridge, pid):
    return [r for r in bridge.records if isinstance(r.msg, dict) and r.msg.get("method")
            and (r.msg.get("params") or {}).get("pid") == pid]


def test_foreground_streamed_notifications_precede_response(bridge):
    cmd = "for i in $(seq 1 300); do echo out$i; echo err$i >&2; done"
    t0 = time.time()
    rid = bridge.request("commands.run", {"cmd": cmd, "stream": True})
    resp = bridge.wait_response(rid, 20)
    t1 = time.time()
    rec = bridge.response_record(rid)
    pid = resp["result"]["pid"]
    out = "".join(f"out{i}\n" for i in range(1, 301))
    err = "".join(f"err{i}\n" for i in range(1, 301))
    assert resp["result"] == {"pid": pid, "stdout": out, "stderr": err, "exitCode": 0}
    time.sleep(0.3)
    recs = pid_records(bridge, pid)
    assert recs and all(r.index < rec.index for r in recs), "every notification of a foreground run precedes its response"
    assert [r.msg["method"] for r in recs][-1] == "commands.exit"
    assert [r.msg["method"] for r in recs].count("commands.exit") == 1
    assert recs[-1].msg["params"] == {"sandboxId": "default", "pid": pid, "exitCode": 0}
    assert bridge.output_text(pid, "stdout") == out
    assert bridge.output_text(pid, "stderr") == err
    stamps = [n["params"]["timestamp"] for n in bridge.notifications("commands.output", pid)]
    assert all(t0 - 1 <= t <= t1 + 1 for t in stamps), "timestamps are Unix epoch seconds"
    for stream in ("stdout", "stderr"):
        s = [n["params"]["timestamp"] for n in bridge.notifications("commands.output", pid)
             if n["params"]["stream"] == stream]
        assert s == sorted(s), f"{stream} timestamps never go back"


def test_background_response_precedes_notifications_and_outputs_precede_exit(bridge):
    rid = bridge.request("commands.run", {"cmd": "echo first; for i in $(seq 1 200); do echo $i; done; echo e >&2",
                                          "background": True})
    pid = bridge.wait_response(rid)["result"]["pid"]
    resp_index = bridge.response_record(rid).index
    exit_rec = bridge.wait_exit_notification(pid)
    time.sleep(0.3)
    recs = pid_records(bridge, pid)
    assert all(r.index > resp_index for r in recs), "the {pid} response is written before any notification of that pid"
    assert recs[-1] is exit_rec or recs[-1].index == exit_rec.index
    assert [r.msg["method"] for r in recs].count("commands.exit") == 1
    assert bridge.output_text(pid) == "first\n" + "".join(f"{i}\n" for i in range(1, 201))
    assert bridge.output_text(pid, "stderr") == "e\n"


def test_concurrent_streams_are_demultiplexed_exactly(bridge):
    pids = {background(bridge, f"for i in $(seq 1 5000); do echo p{k}-$i; done; echo e{k} >&2"): k for k in range(10)}
    for pid, k in pids.items():
        assert bridge.wait_exit_notification(pid, 30).msg["params"]["exitCode"] == 0
    for pid, k in pids.items():
        assert bridge.output_text(pid) == "".join(f"p{k}-{i}\n" for i in range(1, 5001))
        assert bridge.output_text(pid, "stderr") == f"e{k}\n"


def test_streamed_foreground_timeout_exit_precedes_error(bridge):
    rid = bridge.request("commands.run", {"cmd": "echo x; sleep 100", "stream": True, "timeout": 0.5})
    err = bridge.wait_response(rid)["error"]
    pid, sig = err["data"]["pid"], err["data"]["signal"]
    assert (err["code"], err["data"]) == (-32003, {"kind": "Timeout", "pid": pid, "stdout": "x\n", "stderr": "",
                                                   "exitCode": 128 + signum(sig), "signal": sig})
    time.sleep(0.3)
    recs = pid_records(bridge, pid)
    assert [r.msg["method"] for r in recs] == ["commands.output", "commands.exit"]
    assert recs[-1].msg["params"] == {"sandboxId": "default", "pid": pid, "exitCode": 128 + signum(sig), "signal": sig,
                                      "error": "Timeout"}
    assert recs[-1].index < bridge.response_record(rid).index


def test_cancelled_streamed_run_reports_its_exit_before_the_response(bridge):
    rid = bridge.request("commands.run", {"cmd": "echo y; sleep 100", "stream": True})
    rec = bridge.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "commands.output", what="output")
    pid = rec.msg["params"]["pid"]
    bridge.notify("$/cancelRequest", {"id": rid})
    assert bridge.wait_response(rid)["error"]["code"] == -32800
    time.sleep(0.3)
    exits = [r for r in pid_records(bridge, pid) if r.msg["method"] == "commands.exit"]
    assert len(exits) == 1 and exits[0].index < bridge.response_record(rid).index
    p = exits[0].msg["params"]
    assert p["exitCode"] == 128 + signum(p["signal"])


def test_background_without_stream_sends_nothing(bridge):
    pid = background(bridge, "echo quiet", stream=False)
    assert bridge.ok("commands.wait", {"pid": pid})["stdout"] == "quiet\n"
    time.sleep(0.2)
    assert bridge.notifications(pid=pid) == []


def test_foreground_without_stream_sends_nothing(bridge):
    r = bridge.run("echo quiet; echo loud >&2")
    time.sleep(0.2)
    assert bridge.notifications(pid=r["pid"]) == []
    assert is_gone(r["pid"])
