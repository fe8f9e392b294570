"""initialize, ping, shutdown, EOF, signals, SIGKILL of the bridge: nothing it started survives."""

import json
import os
import shlex
import signal
import subprocess
import time

import pytest

import schema_check
from conftest import _help_text, children_of, proc_stat, wait_gone


def background(bridge, cmd, **params):
    return bridge.ok("commands.run", {"cmd": cmd, "background": True, **params})["pid"]


def start_family(bridge):
    """A background command with a grandchild and a setsid'd descendant; returns all their pids."""
    pid = background(bridge, "sleep 1000 & echo $!; setsid bash -c 'echo $$; exec sleep 1000' & wait")
    deadline = time.monotonic() + 10
    while bridge.output_text(pid).count("\n") < 2:
        assert time.monotonic() < deadline, bridge.output_text(pid)
        time.sleep(0.02)
    gpid, spid = (int(x) for x in bridge.output_text(pid).split("\n")[:2])
    deadline = time.monotonic() + 5
    while proc_stat(spid) is None or proc_stat(spid).session != spid:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert proc_stat(gpid).pgrp == pid and proc_stat(spid).session == spid != proc_stat(pid).session
    helpers = [c.pid for c in children_of(bridge.pid)]  # whatever the bridge runs itself (e.g. keepers)
    return [pid, gpid, spid, *helpers]


def test_initialize(bridge, bridge_bin):
    version = subprocess.run([bridge_bin, "--version"], capture_output=True, text=True, timeout=10)
    assert version.returncode == 0
    r = bridge.ok("initialize", {"clientInfo": {"name": "conformance", "version": "1"}})
    assert r == {"serverInfo": {"name": "sandbox-rpc", "version": r["serverInfo"]["version"]}, "protocolVersion": 1,
                 "capabilities": {"isolation": r["capabilities"]["isolation"], "pty": r["capabilities"]["pty"],
                                  "files": r["capabilities"]["files"]}}
    assert r["serverInfo"]["version"] in version.stdout
    assert "none" in r["capabilities"]["isolation"]
    assert bridge.ok("initialize") == r, "initialize is optional and repeatable"


def test_ping(bridge):
    rid = bridge.request("ping", {})
    assert bridge.wait_response(rid) == {"jsonrpc": "2.0", "id": rid, "result": {}}


def test_cli_help_and_version(bridge_bin):
    for flag in ["--help", "--version"]:
        p = subprocess.run([bridge_bin, flag], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, flag
        assert p.stdout.strip(), flag
    helptext = _help_text(bridge_bin)
    for flag in ["--max-message-bytes", "--inherit-env", "--root", "--log-level", "--version"]:
        assert flag in helptext
    p = subprocess.run([bridge_bin, "--no-such-flag"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and p.stdout == b"", "a bad option is reported on stderr, not on stdout"


def test_shutdown_answers_then_exits_0_and_kills_everything(bridge):
    pids = start_family(bridge)
    rid = bridge.request("shutdown")
    assert bridge.wait_response(rid) == {"jsonrpc": "2.0", "id": rid, "result": {}}
    assert bridge.wait_exit(10) == 0
    assert wait_gone(pids, 5) == []


def test_eof_with_nothing_in_flight_exits_at_once(bridge):
    pids = start_family(bridge)
    t0 = time.monotonic()
    bridge.close_stdin()
    assert bridge.wait_exit(10) == 0
    assert time.monotonic() - t0 < 2.5, "no request in flight: exit at once"
    assert wait_gone(pids, 5) == []


def test_eof_with_run_in_flight_is_answered(bridge_bin, base_args):
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "commands.run", "params": {"cmd": "sleep 1; echo hi"}})
    cmd = f"echo {shlex.quote(line)} | {shlex.join([bridge_bin, *base_args])}"
    p = subprocess.run(cmd, shell=True, capture_output=True, timeout=30)
    assert p.returncode == 0
    lines = p.stdout.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 2, p.stdout
    msg = schema_check.parse_line(lines[0])
    schema_check.validate_server_message(msg, {1: "commands.run"})
    assert msg == {"jsonrpc": "2.0", "id": 1,
                   "result": {"pid": msg["result"]["pid"], "stdout": "hi\n", "stderr": "", "exitCode": 0}}


def test_eof_grace_passes_then_everything_is_killed(make_bridge, bridge_bin):
    if "--eof-grace" not in _help_text(bridge_bin):
        pytest.fail("--eof-grace is not in --help")
    bridge = make_bridge("--eof-grace", "1")
    rid = bridge.request("commands.run", {"cmd": "sleep 1000 & echo $!; wait", "stream": True})
    rec = bridge.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "commands.output", what="output")
    pid = rec.msg["params"]["pid"]
    gpid = int(rec.msg["params"]["data"].split("\n")[0])
    t0 = time.monotonic()
    bridge.close_stdin()
    assert bridge.wait_exit(10) == 0
    assert 0.8 <= time.monotonic() - t0 < 4
    assert wait_gone([pid, gpid], 5) == []
    bridge.join_reader()
    err = bridge.wait_response(rid)["error"]
    assert (err["code"], err["data"]) == (-32012, {"kind": "SandboxKilled", "sandboxId": "default", "pid": pid}), \
        "a request still running when the grace ends is answered before the exit"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_kill_everything_and_exit_0(bridge, sig):
    pids = start_family(bridge)
    bridge.request("commands.run", {"cmd": "sleep 1000"})
    time.sleep(0.2)
    t0 = time.monotonic()
    bridge.proc.send_signal(sig)
    assert bridge.wait_exit(10) == 0
    assert time.monotonic() - t0 < 3, "signals kill at once (no EOF grace)"
    assert wait_gone(pids, 5) == []


def test_sigkill_of_bridge_leaves_no_survivors(bridge):
    pids = start_family(bridge)
    bridge.request("commands.run", {"cmd": "sleep 1000 & echo $!; wait", "stream": True})
    rec = bridge.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "commands.output"
                          and m["params"]["pid"] not in pids, what="output of the foreground run")
    pids += [rec.msg["params"]["pid"], int(rec.msg["params"]["data"].split("\n")[0])]
    bridge.proc.kill()
    bridge.proc.wait(10)
    assert wait_gone(pids, 5) == [], "commands, grandchildren and setsid'd descendants die with the bridge"


def test_stdout_carries_nothing_but_protocol_with_debug_logging(make_bridge):
    bridge = make_bridge("--log-level", "debug")
    r = bridge.run("echo hi; echo err >&2", stream=True)
    assert r["stdout"] == "hi\n"
    assert bridge.ok("ping") == {}
    bridge.close_stdin()
    assert bridge.wait_exit(10) == 0
    bridge.join_reader()
    assert bridge.violations == []
    assert os.path.getsize(bridge.stderr_file.name) > 0, "debug logs go to stderr"


def test_a_vanished_client_is_not_waited_for(bridge_bin, base_args, tmp_path):
    """The client died: its end of stdout is closed and stdin reaches EOF. Nothing is in flight,
    so the bridge exits at once, even with a streaming command whose output it cannot deliver."""
    proc = subprocess.Popen([bridge_bin, *base_args, "--root", str(tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"commands.run","params":'
                     b'{"cmd":"echo hi; sleep 1000","background":true}}\n')
    proc.stdin.flush()
    pid = json.loads(proc.stdout.readline())["result"]["pid"]
    assert json.loads(proc.stdout.readline())["params"]["data"] == "hi\n"
    proc.stdout.close()
    started = time.monotonic()
    proc.stdin.close()
    assert proc.wait(5) == 0
    assert time.monotonic() - started < 1.0, f"took {time.monotonic() - started:.2f}s"
    assert wait_gone([pid]) == []
