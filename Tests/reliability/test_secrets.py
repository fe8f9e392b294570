"""Secrets and privileges: the bridge's environment (API keys) reaches no command unless --inherit-env;
commands see only descriptors 0, 1 and 2 (never the bridge's stdin/stdout, another sandbox's pipes, a
keeper's socket); command output reaches the bridge's stdout only inside notifications; the bridge's
and the keepers' descriptors do not leak.
"""

from __future__ import annotations

import json
import re
import time

import reliability_harness as rh

SECRET = rh.SECRET_VALUE
SHOW_ENV = "cat /proc/self/environ | tr '\\0' '\\n'; env; (bash -c 'env'); set"
# `ls` as a child of the shell (not exec'd in its place, not in a pipeline whose pipes the shell holds).
SHOW_FDS = "ls /proc/$$/fd; true"


def scan_stdout_for(b, needle: str) -> list[str]:
    """Everything the bridge wrote that holds `needle` (output notifications are kept for this)."""
    with b.cond:
        recs = list(b.records)
    return [json.dumps(r.msg)[:200] for r in recs if needle in json.dumps(r.msg)]


# --------------------------------------------------------------------------- the environment
def run_everywhere(b, cmd: str) -> list[tuple[str, str]]:
    """Run cmd in every way a command can be started; returns (how, output) pairs."""
    out = []
    sid = b.ok("sandbox.create", {"envs": {"SANDBOX_VAR": "1"}})["sandboxId"]
    out.append(("foreground", b.run(cmd)["stdout"]))
    out.append(("stdin", b.run(cmd, stdin=True)["stdout"]))
    out.append(("other sandbox", b.run(cmd, sandboxId=sid)["stdout"]))
    out.append(("with envs", b.run(cmd, envs={"X": "y"})["stdout"]))
    out.append(("as nobody", b.run(cmd, user="nobody", cwd="/")["stdout"]))
    pid = b.ok("commands.run", {"cmd": cmd, "background": True})["pid"]
    b.wait_exit_notification(pid)
    out.append(("background", b.output_text(pid)))
    pid = b.ok("pty.create", {"cmd": cmd, "cols": 200, "rows": 50})["pid"]
    b.wait_exit_notification(pid)
    import base64
    out.append(("pty", b"".join(base64.b64decode(n["params"]["data"]) for n in b.notifications("pty.output", pid))
                .decode(errors="replace")))
    return out


def test_the_bridges_environment_reaches_no_command(bridge):
    with rh.figures.fault("secret in the bridge's environment"):
        results = run_everywhere(bridge, SHOW_ENV)
        for how, text in results:
            assert "PATH=" in text, f"{how}: no environment printed: {text[:300]}"
            assert SECRET not in text and rh.SECRET_NAME not in text, f"{how}: the bridge's secret reached the command"
        assert scan_stdout_for(bridge, SECRET) == []
        rh.figures.leak_check("secret in commands' environment", [how for how, t in results if SECRET in t])


def test_inherit_env_is_the_only_way_in(make_bridge):
    b = make_bridge("--inherit-env")
    assert f"{rh.SECRET_NAME}={SECRET}" in b.run("env")["stdout"]


def test_another_user_cannot_read_the_secret_from_proc(bridge):
    """A command run as another user cannot read the bridge's or a keeper's environment (where the
    secret is) or write to the bridge's stdout through /proc."""
    bridge.run("true")
    keepers = rh.keepers_of(bridge.pid)
    assert keepers
    targets = [bridge.pid, *keepers]
    script = "; ".join(f"cat /proc/{p}/environ" for p in targets) + "; for f in /proc/[0-9]*/environ; do cat $f; done"
    r = bridge.run(script + " 2>/dev/null | tr '\\0' '\\n'; true", user="nobody", cwd="/")
    assert SECRET not in r["stdout"]
    r = bridge.run(f"echo INJECTED > /proc/{bridge.pid}/fd/1; echo $?", user="nobody", cwd="/")
    assert r["stdout"].strip() != "0", "another user wrote to the bridge's stdout"
    rh.figures.leak_check("secret readable by another user", [SECRET] if SECRET in r["stdout"] else [])


# --------------------------------------------------------------------------- descriptors
def test_commands_see_only_descriptors_0_1_2(bridge):
    with rh.figures.fault("descriptor inheritance"):
        # Plenty of other pipes in the bridge: processes with stdin in two sandboxes, streaming.
        other = bridge.ok("sandbox.create", {})["sandboxId"]
        streaming = []
        for sid in ("default", other):
            for _ in range(5):
                streaming.append(bridge.ok("commands.run", {"cmd": "while :; do echo x; sleep 0.05; done",
                                                            "background": True, "stdin": True, "sandboxId": sid})["pid"])
        for pid in streaming:  # seen from outside too
            assert sorted(rh.fd_table(pid)) == [0, 1, 2], f"pid {pid}: {rh.fd_table(pid)}"
        results = run_everywhere(bridge, SHOW_FDS)
        for how, text in results:
            assert text.split() == ["0", "1", "2"], f"{how}: descriptors {text!r}"
        # And under concurrency: 64 runs started at once while others are being started.
        rids = [bridge.request("commands.run", {"cmd": SHOW_FDS, "stdin": i % 2 == 0}) for i in range(64)]
        for rid in rids:
            assert bridge.wait_response(rid, 30)["result"]["stdout"].split() == ["0", "1", "2"]
        leaked = [how for how, text in results if text.split() != ["0", "1", "2"]]
        rh.figures.leak_check("descriptors inherited by commands", leaked)


def test_command_output_reaches_stdout_only_inside_notifications(bridge):
    """A command writing to every descriptor number, to its parent's descriptors and to /dev/tty: the
    bridge's stdout still carries protocol lines only (the harness checks every line), and the text
    appears only as that command's output."""
    cmd = ("for fd in $(seq 0 255); do echo \"LEAK-$fd\" >&$fd; done 2>/dev/null; "
           "for fd in 0 1 2 3 4 5; do echo LEAK-parent >> /proc/$PPID/fd/$fd; done 2>/dev/null; "
           "echo LEAK-tty > /dev/tty 2>/dev/null; true")
    bridge.retain_output = True
    r = bridge.run(cmd, stream=True)
    pid = r["pid"]
    # Inside the loop fd 2 is /dev/null, and fd 10 is bash's own saved copy of the real stderr.
    assert r["stdout"] == "LEAK-1\n" and re.findall(r"LEAK-\w+", r["stderr"]) == ["LEAK-10"], r
    for line in scan_stdout_for(bridge, "LEAK"):
        msg = json.loads(line) if line.endswith("}") else None
        assert msg is None or msg.get("params", {}).get("pid") == pid or msg.get("result", {}).get("pid") == pid, line
    pid2 = bridge.ok("pty.create", {"cmd": cmd, "cols": 80, "rows": 24})["pid"]
    bridge.wait_exit_notification(pid2)
    assert bridge.ok("ping") == {}


def cloexec_missing(pid: int) -> list[str]:
    """The bridge's descriptors (3 and up) that would survive an exec."""
    out = []
    for fd, target in rh.fd_table(pid).items():
        if fd < 3:
            continue
        try:
            flags = next(line for line in open(f"/proc/{pid}/fdinfo/{fd}") if line.startswith("flags:"))
        except (OSError, StopIteration):
            continue
        if not int(flags.split()[1], 8) & 0o2000000:
            out.append(f"{fd} -> {target}")
    return out


def test_bridge_and_keeper_descriptors_do_not_leak(bridge):
    """Every way a process can start, fail or end, then the descriptor tables of the bridge and its
    keepers are what they were; the keeper holds only its socket and signalfd besides /dev/null and the
    log; nothing in the bridge lacks O_CLOEXEC."""
    b = bridge
    b.run("true")
    sid = b.ok("sandbox.create", {})["sandboxId"]
    b.run("true", sandboxId=sid)
    b.ok("sandbox.kill", {"sandboxId": sid})
    idle = len(rh.fd_table(b.pid))
    keeper = rh.keepers_of(b.pid)[0]
    keeper_idle = rh.fd_table(keeper)
    for _ in range(20):
        b.run("echo x")
        b.run("echo x", stdin=True)
        b.err("commands.run", {"cmd": "true", "cwd": "missing"})
        b.err("commands.run", {"cmd": "true", "user": "no-such-user-here"})
        b.err("commands.run", {"cmd": "sleep 5", "timeout": 0.05})
        pid = b.ok("commands.run", {"cmd": "cat", "background": True, "stdin": True})["pid"]
        b.ok("commands.sendStdin", {"pid": pid, "data": "hi\n"})
        b.ok("commands.disconnect", {"pid": pid})
        b.ok("commands.connect", {"pid": pid})
        b.ok("commands.closeStdin", {"pid": pid})
        b.ok("commands.wait", {"pid": pid})
        pid = b.ok("commands.run", {"cmd": "sleep 100", "background": True, "stdin": True})["pid"]
        b.ok("commands.kill", {"pid": pid})
        rid = b.request("commands.run", {"cmd": "sleep 100"})
        time.sleep(0.02)
        b.notify("$/cancelRequest", {"id": rid})
        assert b.wait_response(rid)["error"]["data"]["kind"] == "RequestCancelled"
        pty = b.ok("pty.create", {"cmd": "echo hi", "cols": 80, "rows": 24})["pid"]
        b.wait_exit_notification(pty)
        b.ok("files.write", {"path": "f", "content": "x"})
        b.ok("files.read", {"path": "f"})
        b.ok("files.list", {"path": "."})
        s = b.ok("sandbox.create", {})["sandboxId"]
        b.run("true", sandboxId=s)
        b.ok("sandbox.kill", {"sandboxId": s})
    time.sleep(0.5)
    after = rh.fd_table(b.pid)
    keeper_after = rh.fd_table(keeper)
    kinds = sorted(t.split(":")[0] for fd, t in keeper_after.items() if fd > 2)
    no_cloexec = cloexec_missing(b.pid)
    rh.figures.leak_check("bridge descriptors after every kind of start and end",
                          [] if len(after) == idle else [f"{idle} -> {len(after)}"])
    rh.figures.leak_check("keeper descriptors after every kind of start and end",
                          [] if keeper_after == keeper_idle else [f"{keeper_idle} -> {keeper_after}"])
    rh.figures.leak_check("bridge descriptors without O_CLOEXEC", no_cloexec)
    assert len(after) == idle, f"bridge descriptors {idle} -> {len(after)}: {after}"
    assert keeper_after == keeper_idle, f"keeper descriptors changed: {keeper_idle} -> {keeper_after}"
    assert kinds == ["anon_inode", "socket"], f"the keeper holds more than its socket and signalfd: {keeper_after}"
    assert no_cloexec == [], f"bridge descriptors without O_CLOEXEC: {no_cloexec}"
