"""Faults: the client closes the bridge's stdout or stdin mid-stream, a child closes its stdout early,
a command's shell is SIGKILLed while its grandchildren write, the bridge is SIGKILLed with hundreds of
commands running, the bridge runs out of file descriptors (`ulimit -n 64`) or disk (ENOSPC), a command
ignores SIGTERM. Each fault must leave the bridge serving (or, where the bridge is meant to end, ended
cleanly) and no process behind.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid

import pytest

import reliability_harness as rh

SIGKILL_COMMANDS = rh.size("RELIABILITY_SIGKILL_COMMANDS", 200, 1000)


def background(b, cmd: str, **params) -> int:
    return b.ok("commands.run", {"cmd": cmd, "background": True, **params})["pid"]


def marker_env() -> tuple[str, str]:
    """An environment variable that every process of a test's sandbox carries, to find them in /proc."""
    value = uuid.uuid4().hex
    return "RELIABILITY_MARK", value


def assert_none_left(pids, what: str, timeout: float = 10.0) -> None:
    left = rh.figures.leak_check(what, rh.wait_gone(list(pids), timeout))
    assert left == [], f"{what}: still running: {left}"


def assert_no_zombies(b) -> None:
    for keeper in rh.keepers_of(b.pid):
        z = rh.figures.leak_check("zombies under a keeper", rh.zombies_of(keeper))
        assert z == [], f"zombies under keeper {keeper}: {z}"
    z = rh.figures.leak_check("zombies under the bridge", rh.zombies_of(b.pid))
    assert z == [], f"zombies under the bridge: {z}"


# --------------------------------------------------------------------------- the client closes stdout
@pytest.mark.parametrize("moment", ["streaming", "idle", "mid-line"])
def test_client_closes_stdout_then_the_bridge_exits_and_leaves_nothing(raw_bridge, moment):
    """EPIPE on stdout: the bridge kills everything and exits 0 (it must not die of SIGPIPE, hang on a
    full pipe, or leave its commands running)."""
    with rh.figures.fault("client closes the bridge's stdout (EPIPE)"):
        b = raw_bridge()
        b.send({"jsonrpc": "2.0", "id": 1, "method": "commands.run",
                "params": {"cmd": "setsid sleep 1000 & sleep 1000 & echo started", "background": True}})
        b.send({"jsonrpc": "2.0", "id": 2, "method": "commands.run", "params": {"cmd": "sleep 1000"}})
        b.read_until(b"started")
        if moment == "streaming":
            b.send({"jsonrpc": "2.0", "id": 3, "method": "commands.run", "params": {"cmd": "yes", "background": True}})
            b.read_until(b"y\\ny\\n" * 100)
        elif moment == "mid-line":  # a 30 MB response, of which the client reads 1 MB
            b.send({"jsonrpc": "2.0", "id": 4, "method": "commands.run", "params": {"cmd": "head -c 30000000 /dev/zero | tr '\\0' z"}})
            b.read_until(b"z" * 1000)
        time.sleep(0.3)
        family = rh.descendants(b.pid)
        assert len(family) >= 4, family
        t0 = time.monotonic()
        b.proc.stdout.close()
        if moment == "idle":  # the bridge learns that stdout is gone when it next writes
            b.send({"jsonrpc": "2.0", "id": 5, "method": "ping"})
        code = b.proc.wait(10)
        assert code == 0, f"exit status {code} (a negative status is death by a signal); stderr: {b.stderr_text()}"
        assert time.monotonic() - t0 < 6
        assert_none_left(family, "processes left after the client closed stdout")


# --------------------------------------------------------------------------- the client closes stdin
def test_client_closes_stdin_in_the_middle_of_a_request_line(bridge):
    """A half-written line at EOF is one parse error; what was in flight is answered; then exit 0."""
    with rh.figures.fault("client closes stdin mid-request"):
        pid = background(bridge, "setsid sleep 1000 & sleep 1000")
        inflight = bridge.request("commands.run", {"cmd": "sleep 1; echo finished"})
        time.sleep(0.2)
        family = rh.descendants(bridge.pid)
        bridge.send_bytes(b'{"jsonrpc":"2.0","id":"half","method":"commands.run","params":{"cmd":"echo nev')
        bridge.close_stdin()
        assert bridge.wait_exit(10) == 0
        bridge.join_reader()
        assert bridge.wait_response(inflight, 1)["result"]["stdout"] == "finished\n"
        assert len(rh.id_null_errors(bridge)) == 1 and rh.id_null_errors(bridge)[0]["error"]["code"] == -32700
        assert "half" not in bridge.table
        assert_none_left(family + [pid], "processes left after stdin closed mid-request")


def test_client_closes_stdin_after_a_request_without_its_newline(bridge):
    """A complete last request without a newline still runs and is answered (`echo '{...}' | bridge`)."""
    with rh.figures.fault("client closes stdin after an unterminated request"):
        bridge.register({"jsonrpc": "2.0", "id": "last", "method": "commands.run"})
        bridge.send_bytes(b'{"jsonrpc":"2.0","id":"last","method":"commands.run","params":{"cmd":"sleep 0.5; echo last"}}')
        bridge.close_stdin()
        assert bridge.wait_exit(10) == 0
        bridge.join_reader()
        assert bridge.wait_response("last", 1)["result"]["stdout"] == "last\n"


def test_client_closes_stdin_halfway_through_a_10_mb_line(bridge):
    with rh.figures.fault("client closes stdin halfway through a 10 MB line"):
        pid = background(bridge, "sleep 1000")
        bridge.send_bytes(b'{"jsonrpc":"2.0","id":"big","method":"files.write","params":{"path":"x","content":"'
                          + b"a" * 5_000_000)
        bridge.close_stdin()
        assert bridge.wait_exit(10) == 0
        bridge.join_reader()
        assert [e["error"]["code"] for e in rh.id_null_errors(bridge)] == [-32700]
        assert_none_left([pid], "processes left after stdin closed mid-line")


# --------------------------------------------------------------------------- a child closes its stdout early
@pytest.mark.parametrize("cmd,result", [
    ("exec 1>&-; sleep 1; echo err >&2; exit 3", {"stdout": "", "stderr": "err\n", "exitCode": 3}),
    ("exec >&- 2>&-; sleep 1; exit 4", {"stdout": "", "stderr": "", "exitCode": 4}),
    ("echo before; exec 1>&- 2>&-; (sleep 1.5; exit 0) & sleep 1; exit 5", {"stdout": "before\n", "stderr": "", "exitCode": 5}),
], ids=["stdout", "both", "both-then-child"])
def test_child_closes_its_stdout_early_while_still_running(bridge, cmd, result):
    """The exit is reported when the process exits, not when its pipes close; no busy loop meanwhile."""
    with rh.figures.fault("child closes its stdout early"):
        cpu0 = rh.cpu_seconds(bridge.pid)
        t0 = time.monotonic()
        r = bridge.run(cmd, stream=True)
        elapsed = time.monotonic() - t0
        assert {k: r[k] for k in result} == result
        assert elapsed >= 0.95, f"answered after {elapsed:.2f}s: before the process exited"
        cpu = rh.cpu_seconds(bridge.pid) - cpu0
        assert cpu < 0.5, f"the bridge used {cpu:.2f}s of CPU while a process with closed pipes slept"
        # The same in the background: commands.exit only once the process has exited.
        t0 = time.monotonic()
        pid = background(bridge, cmd)
        ex = bridge.wait_exit_notification(pid, 10)
        assert ex.t - t0 >= 0.95
        assert ex.msg["params"]["exitCode"] == result["exitCode"]
        assert bridge.ok("ping") == {}


# --------------------------------------------------------------------------- kill -9 of a command's shell
GRANDCHILDREN = ("(while :; do head -c 65536 /dev/zero; echo t >> ticks_out; done) & "
                 "(while :; do head -c 65536 /dev/zero >&2; echo t >> ticks_err; done) & "
                 "echo $!; wait")


def ticks(b, name: str) -> int:
    return int(b.run(f"wc -l < {name}")["stdout"])


@pytest.mark.parametrize("mode", ["background", "foreground"])
def test_kill_9_of_a_commands_shell_while_its_grandchildren_write(bridge, mode):
    """The exit (137, SIGKILL) is reported although the grandchildren keep the pipes open and write;
    they are drained and never blocked; they die with their sandbox."""
    with rh.figures.fault("kill -9 of a command's shell while its grandchildren write"):
        bridge.retain_output = False
        if mode == "background":
            pid = background(bridge, GRANDCHILDREN, maxOutputBytes=4096)
        else:
            rid = bridge.request("commands.run", {"cmd": GRANDCHILDREN, "stream": True, "timeout": 0,
                                                  "maxOutputBytes": 4096})
            pid = bridge.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "commands.output",
                                  what="output of the run").msg["params"]["pid"]
        def loops():  # the two subshells that loop (their `head`s come and go)
            return [c for c in rh.direct_children(pid) if rh.comm(c) == "bash"]

        rh.wait_until(lambda: len(loops()) == 2, 10, "the grandchildren")
        grandchildren = loops()
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()
        if mode == "background":
            ex = bridge.wait_exit_notification(pid, 20).msg["params"]
        else:
            ex = bridge.wait_response(rid, 20)["result"]
        assert (ex["exitCode"], ex.get("signal")) == (137, "SIGKILL"), ex
        assert time.monotonic() - t0 < 5, "the exit waited for the grandchildren's output"
        assert bridge.ok("commands.wait", {"pid": pid})["exitCode"] == 137
        assert all(not rh.is_gone(g) for g in grandchildren), "the grandchildren live until their sandbox ends"
        before = (ticks(bridge, "ticks_out"), ticks(bridge, "ticks_err"))
        time.sleep(1.0)
        after = (ticks(bridge, "ticks_out"), ticks(bridge, "ticks_err"))
        # 1 MiB pipes: 16 chunks would fill one; far more means their output is read and discarded.
        assert after[0] - before[0] > 32 and after[1] - before[1] > 32, (before, after)
        assert bridge.ok("ping") == {}
        assert bridge.ok("sandbox.kill", {}) == {"killed": True}
        assert_none_left(grandchildren, "grandchildren left after their sandbox was killed")
        assert_no_zombies(bridge)


# --------------------------------------------------------------------------- the bridge SIGKILLed
FAMILIES = [
    "sleep 1000",
    "while :; do echo line; sleep 0.05; done",
    "sleep 1000 & sleep 1000 & wait",
    "setsid sleep 1000 & wait",
    "( (sleep 1000 &) & ); sleep 1000",
    "trap '' TERM HUP INT; sleep 1000",
    "nohup sleep 1000 >/dev/null 2>&1 & sleep 1000",
    "setsid bash -c 'trap \"\" TERM; sleep 1000' & wait",
]


def test_bridge_sigkilled_with_hundreds_of_commands_running_leaves_no_survivor(bridge):
    """200 commands (1,000 in the long form) across two sandboxes, with grandchildren, setsid'd and
    double-forked daemons, SIGTERM-ignorers, a streaming foreground run and a pty: after SIGKILL of the
    bridge, no process of theirs is left in /proc."""
    name, value = marker_env()
    with rh.figures.fault("bridge SIGKILLed with commands running", SIGKILL_COMMANDS):
        bridge.retain_output = False
        sandboxes = [bridge.ok("sandbox.create", {"envs": {name: value}})["sandboxId"] for _ in range(2)]
        pids = []
        for i in range(SIGKILL_COMMANDS - 3):
            pids.append(background(bridge, FAMILIES[i % len(FAMILIES)], sandboxId=sandboxes[i % 2]))
        bridge.request("commands.run", {"cmd": "while :; do echo fg; sleep 0.01; done", "sandboxId": sandboxes[0],
                                        "stream": True, "timeout": 0})
        bridge.ok("pty.create", {"cmd": "sleep 1000", "cols": 80, "rows": 24, "sandboxId": sandboxes[1]})
        bridge.request("commands.wait", {"pid": pids[0], "sandboxId": sandboxes[0]})
        marker = f"{name}={value}"
        expected = SIGKILL_COMMANDS + SIGKILL_COMMANDS // len(FAMILIES) * 4
        rh.wait_until(lambda: len(rh.processes_with_env(marker)) >= expected, 30,
                      f"{expected} processes of the commands")
        everything = set(rh.processes_with_env(marker)) | set(rh.descendants(bridge.pid))
        keepers = rh.keepers_of(bridge.pid)
        assert len(keepers) == 2, keepers
        bridge.proc.kill()
        bridge.proc.wait(10)
        bridge.join_reader()
        with bridge.cond:  # a SIGKILL may cut the line being written: that is no protocol violation
            bridge.violations[:] = [v for v in bridge.violations if not v.startswith("stdout ended with")]
        deadline = time.monotonic() + 10
        while rh.processes_with_env(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = rh.figures.leak_check("survivors of a SIGKILLed bridge", rh.processes_with_env(marker))
        assert left == [], f"{len(left)} processes survived the bridge's SIGKILL, e.g. {left[:10]}"
        assert_none_left(everything, "survivors of a SIGKILLed bridge (by pid)")
        print(f"SIGKILL of the bridge with {len(everything)} processes under it: none survived")


# --------------------------------------------------------------------------- EMFILE / ENOSPC
def test_out_of_file_descriptors_fails_cleanly_and_recovers(start_bridge):
    """`ulimit -n 64`: runs fail with a clear LimitExceeded, everything else keeps working, and all of it
    works again once descriptors are free."""
    with rh.figures.fault("EMFILE: ulimit -n 64 on the bridge"):
        b = start_bridge(shell_prefix="ulimit -n 64")
        assert b.ok("ping") == {}
        b.ok("files.write", {"path": "f", "content": "data"})
        idle_fds = len(rh.fd_table(b.pid))
        pids = []
        refusal = None
        for stdin in (True, False):  # 3 descriptors a run, then 2: until not even 2 are left
            for _ in range(40):
                r = b.call("commands.run", {"cmd": "sleep 1000", "background": True, "stdin": stdin})
                if "error" in r:
                    refusal = r["error"]
                    break
                pids.append(r["result"]["pid"])
        assert refusal is not None, "64 descriptors should not hold 60 runs"
        assert (refusal["code"], refusal["data"]["kind"]) == (-32010, "LimitExceeded"), refusal
        assert re.search(r"descriptor|too many open files|EMFILE", refusal["message"], re.I), \
            f"not a clear reason: {refusal['message']}"
        # Exhausted: everything answers (a result or a clear error), nothing is Internal (the harness checks).
        assert b.ok("ping") == {}
        for method, params in [("commands.run", {"cmd": "echo hi"}), ("pty.create", {"cmd": "true", "cols": 80, "rows": 24}),
                               ("files.read", {"path": "f"}), ("files.list", {"path": "."}),
                               ("commands.list", {}), ("sandbox.list", {}), ("initialize", {})]:
            resp = b.call(method, params)
            if "error" in resp:
                assert resp["error"]["data"]["kind"] == "LimitExceeded", (method, resp["error"])
        sid = b.call("sandbox.create", {})
        if "result" in sid:  # a new sandbox needs a keeper: a socketpair and a process
            resp = b.call("commands.run", {"cmd": "echo new", "sandboxId": sid["result"]["sandboxId"]})
            if "error" in resp:
                assert resp["error"]["data"]["kind"] == "LimitExceeded", resp["error"]
        # Free some descriptors: it all works again.
        for pid in pids[:6]:
            assert b.ok("commands.kill", {"pid": pid}) == {"killed": True}
        assert b.run("echo again")["stdout"] == "again\n"
        assert b.ok("files.read", {"path": "f"})["content"] == "data"
        pty = b.ok("pty.create", {"cmd": "exit 0", "cols": 80, "rows": 24})["pid"]
        b.wait_exit_notification(pty, 10)
        new = b.ok("sandbox.create", {})["sandboxId"]
        assert b.run("echo fresh", sandboxId=new)["stdout"] == "fresh\n"
        b.ok("sandbox.kill", {"sandboxId": new})
        for pid in pids[6:]:
            b.ok("commands.kill", {"pid": pid})
        rh.wait_until(lambda: len(rh.fd_table(b.pid)) <= idle_fds + 1, 10,
                      f"the bridge's descriptors back to {idle_fds} (+1 for a keeper)")
        rh.figures.leak_check("bridge descriptors after EMFILE")
        print(f"ulimit -n 64: {len(pids)} runs held, then LimitExceeded: {refusal['message']}")


def test_out_of_disk_space_is_a_clear_error(bridge):
    with rh.figures.fault("ENOSPC (files.write to /dev/full)"):
        e = bridge.err("files.write", {"path": "/dev/full", "content": "x" * 100_000})
        assert (e["code"], e["data"]["kind"]) == (-32010, "LimitExceeded") and "space" in e["message"], e
        assert bridge.ok("ping") == {}
        r = bridge.run("echo data > /dev/full; echo $?")  # and a command's ENOSPC is the command's business
        assert r["stdout"] == "1\n" and "No space left" in r["stderr"]


# --------------------------------------------------------------------------- SIGTERM ignored
IGNORER = "trap '' TERM; echo ready; sleep 1000"


def test_command_that_ignores_sigterm(bridge):
    with rh.figures.fault("a command that ignores SIGTERM", 5):
        pid = background(bridge, IGNORER)
        bridge.wait_output(pid, "ready")
        assert bridge.ok("commands.kill", {"pid": pid, "signal": "SIGTERM"}) == {"killed": True}
        time.sleep(1.0)
        assert not rh.is_gone(pid), "SIGTERM is ignored: still running"
        assert bridge.ok("commands.kill", {"pid": pid, "signal": "SIGKILL"}) == {"killed": True}
        assert rh.is_gone(pid), "commands.kill with SIGKILL answers after the process is reaped"
        ex = bridge.wait_exit_notification(pid, 5).msg["params"]
        assert (ex["exitCode"], ex["signal"]) == (137, "SIGKILL")
        # A timeout kills it too (SIGKILL, the whole group).
        t0 = time.monotonic()
        e = bridge.err("commands.run", {"cmd": IGNORER, "timeout": 1})
        assert e["data"]["kind"] == "Timeout" and e["data"]["stdout"] == "ready\n" and time.monotonic() - t0 < 4
        # So does killing its sandbox.
        pid = background(bridge, IGNORER)
        bridge.wait_output(pid, "ready")
        assert bridge.ok("sandbox.kill", {}) == {"killed": True}
        assert_none_left([pid], "a SIGTERM-ignoring command after sandbox.kill", 5)


@pytest.mark.parametrize("how", ["SIGTERM", "EOF", "shutdown"])
def test_bridge_ends_promptly_with_a_sigterm_ignoring_command(bridge, how):
    with rh.figures.fault("bridge ends with a SIGTERM-ignoring command running"):
        pid = background(bridge, IGNORER)
        bridge.wait_output(pid, "ready")
        family = rh.descendants(bridge.pid)
        t0 = time.monotonic()
        if how == "SIGTERM":
            bridge.proc.terminate()
        elif how == "EOF":
            bridge.close_stdin()  # nothing in flight: exit at once
        else:
            assert bridge.ok("shutdown") == {}
        assert bridge.wait_exit(10) == 0
        assert time.monotonic() - t0 < 3
        assert_none_left(family, f"processes left after {how}")
