"""Regression tests for the server bugs the reliability suite found, one test per finding (F1...).

An open finding's test is `xfail(strict=True)`: once the server is fixed it XPASSes, which pytest
reports as a failure; then the marker goes, the test stays as a regression test (like F1-F13), and the
finding's entry in KNOWN_FINDINGS, if it has one, goes too.
"""

from __future__ import annotations

import time

import pytest

import reliability_harness as rh

TEN_MB = 10_000_000


def server_bug(reason: str):
    return pytest.mark.xfail(strict=True, reason="server bug: " + reason)


def assert_not_internal(resp: dict, what: str) -> None:
    err = resp.get("error")
    assert not (err and err["code"] == -32603), f"{what}: -32603 Internal for bad input: {err}"


# Violations that the fuzzers meet while a finding is open: tolerated there (counted and printed), and
# tested here. Each entry: name -> predicate(violation text, the case's bytes). Remove an entry together
# with the xfail marker of its test once the server is fixed.
KNOWN_FINDINGS: dict = {}  # F1-F17 are fixed; their tests below are plain regression tests


# Open findings that kill the bridge, by the case that does it: the fuzzers count them and go on with a
# fresh bridge.
KNOWN_CRASHES: dict = {}  # F16 and F17 are fixed


def known_crash(payload: bytes) -> str | None:
    for name, matches in KNOWN_CRASHES.items():
        if matches(payload):
            return name
    return None


def known_finding(violation: str, payload: bytes = b"") -> str | None:
    """The open finding a harness violation is an instance of, if any."""
    for name, matches in KNOWN_FINDINGS.items():
        if matches(violation, payload):
            return name
    return None


# --------------------------------------------------------------------------- F1: crash
@pytest.mark.parametrize("method", ["commands.run", "pty.create"])
def test_huge_user_name_does_not_crash_the_bridge(bridge, method):
    """F1 (fixed in 21573c7): a 10 MB `user` reached getpwnam_r, and nss-systemd aborted the whole
    bridge ("Assertion '_nn_ <= ALLOCA_MAX' failed at src/shared/userdb-dropin.c"), killing every command."""
    resp = bridge.call(method, {"cmd": "true", "cols": 80, "rows": 24, "user": "u" * TEN_MB}, timeout=60)
    assert bridge.ok("ping", timeout=10) == {}, "the bridge died"
    assert resp["error"]["data"]["kind"] in ("PermissionDenied", "InvalidParams"), resp["error"]


# --------------------------------------------------------------------------- F2: keeper message size
@pytest.mark.parametrize("params", [
    {"cmd": "exit 0;#" + "a" * 2_000_000},
    {"cmd": "exit 0;#" + "a" * TEN_MB},
    {"cmd": "true", "envs": {"BIG": "x" * TEN_MB}},
], ids=["cmd 2 MB", "cmd 10 MB", "env 10 MB"])
def test_oversized_spawn_request_is_refused_cleanly(bridge, params):
    """F2 (fixed in 21573c7): a spawn request beyond the keeper's 1 MiB message buffer or the socket's
    send buffer was -32603 ('cannot start a process: Invalid argument', 'sendmsg(keeper): Message too long')."""
    resp = bridge.call("commands.run", params, timeout=60)
    assert_not_internal(resp, "commands.run")
    if "error" in resp:  # LimitExceeded (-32010), or InvalidParams naming the field
        assert resp["error"]["data"]["kind"] in ("LimitExceeded", "InvalidParams")
    else:  # or, like a 200 KB cmd today, the shell's own E2BIG
        assert resp["result"]["exitCode"] == 127 and "Argument list too long" in resp["result"]["stderr"]
    assert bridge.run("echo still")["stdout"] == "still\n"


# --------------------------------------------------------------------------- F3: NUL truncation
NUL_CASES = [
    ("commands.run", {"cmd": "pwd", "cwd": "d\u0000/usr/bin/id"}, "cwd"),
    ("commands.run", {"cmd": "id -un", "user": "nobody\u0000x"}, "user"),
    ("pty.create", {"cmd": "pwd", "cols": 80, "rows": 24, "cwd": "d\u0000x"}, "cwd"),
    ("files.write", {"path": "evil.sh\u0000.txt", "content": "x"}, "path"),
    ("files.read", {"path": "f\u0000.txt"}, "path"),
    ("files.info", {"path": "f\u0000.txt"}, "path"),
    ("files.exists", {"path": "f\u0000.txt"}, "path"),
    ("files.makeDir", {"path": "dir\u0000x"}, "path"),
    ("files.list", {"path": ".\u0000x"}, "path"),
    ("files.remove", {"path": "f\u0000.txt"}, "path"),
    ("files.rename", {"from": "f\u0000.txt", "to": "g"}, "from"),
    ("files.rename", {"from": "f", "to": "g\u0000.txt"}, "to"),
    ("sandbox.create", {"cwd": "/tmp\u0000/nonexistent"}, "cwd"),
]


@pytest.mark.parametrize("method,params,field", NUL_CASES, ids=[f"{m} {f}" for m, _, f in NUL_CASES])
def test_nul_in_a_string_that_reaches_a_system_call_is_invalid_params(bridge, method, params, field):
    """F3 (fixed in 21573c7): a NUL was cut off by the C call: files.write 'evil.sh\\0.txt' wrote 'evil.sh';
    a cwd 'd\\0/usr/bin/id' shifted the keeper's NUL-separated spawn message so that /usr/bin/id ran as
    argv[0]; user 'nobody\\0x' ran as nobody."""
    bridge.run("mkdir -p d; touch f")
    e = bridge.err(method, params)
    assert (e["code"], e["data"]["kind"], e["data"]["field"]) == (-32602, "InvalidParams", field), e


# --------------------------------------------------------------------------- F4: empty path
@pytest.mark.parametrize("method,params", [
    ("files.remove", {"path": ""}), ("files.read", {"path": ""}), ("files.write", {"path": "", "content": "x"}),
    ("files.list", {"path": ""}), ("files.rename", {"from": "", "to": "elsewhere"}),
], ids=["remove", "read", "write", "list", "rename"])
def test_empty_path_is_invalid_params(bridge, method, params):
    """F4 (fixed in 21573c7): an empty path meant the sandbox home: files.remove {path: ""} deleted the
    whole home, after which every command in the sandbox failed with FileNotFound."""
    bridge.run("touch kept")
    e = bridge.err(method, params)
    assert (e["code"], e["data"]["kind"]) == (-32602, "InvalidParams"), e
    assert bridge.run("ls")["stdout"] == "kept\n"


# --------------------------------------------------------------------------- F5/F6: EINVAL, ENAMETOOLONG
@pytest.mark.parametrize("to", ["d/sub", "d/sub/deeper"])
def test_rename_into_itself_is_not_internal(bridge, to):
    """F5 (fixed in 21573c7): files.rename of a directory into itself (EINVAL) was -32603 Internal."""
    bridge.run("mkdir -p d")
    resp = bridge.call("files.rename", {"from": "d", "to": to})
    assert "error" in resp
    assert_not_internal(resp, "files.rename")


LONG_NAME = "x" * 300  # NAME_MAX is 255
LONG_PATH = ("y" * 200 + "/") * 30  # PATH_MAX is 4096


@pytest.mark.parametrize("method,params", [
    ("files.write", {"path": LONG_NAME, "content": "x"}), ("files.write", {"path": LONG_PATH, "content": "x"}),
    ("files.makeDir", {"path": LONG_PATH}), ("files.info", {"path": LONG_NAME}), ("files.read", {"path": LONG_NAME}),
    ("files.list", {"path": LONG_PATH}), ("files.remove", {"path": LONG_NAME}),
    ("files.rename", {"from": LONG_NAME, "to": "x"}),
], ids=["write name", "write path", "makeDir", "info", "read", "list", "remove", "rename"])
def test_name_too_long_is_not_internal(bridge, method, params):
    """F6 (fixed in 21573c7): ENAMETOOLONG was -32603 Internal in every files.* method but exists."""
    assert_not_internal(bridge.call(method, params), method)


# --------------------------------------------------------------------------- F7/F8: unbounded file reads
def test_files_read_of_an_endless_file_is_bounded(start_bridge):
    """F7 (fixed in 21573c7): files.read had no bound: /dev/zero grew the bridge by ~300 MB/s until the
    machine ran out of memory, and was never answered."""
    b = start_bridge()
    b.ok("ping")
    rid = b.request("files.read", {"path": "/dev/zero"})
    limit_kib = 1024 * 1024
    deadline = time.monotonic() + 30
    peak = 0
    while time.monotonic() < deadline:
        peak = max(peak, rh.vm_rss_kib(b.pid) or 0)
        if peak > limit_kib:
            b.proc.kill()  # before it takes the machine down
            b.proc.wait()
            pytest.fail(f"bridge RSS passed {limit_kib // 1024} MiB reading /dev/zero", pytrace=False)
        with b.cond:
            if b.responses.get(rh.schema_check.id_key(rid)):
                break
        time.sleep(0.05)
    resp = b.wait_response(rid, 1)
    assert resp["error"]["data"]["kind"] == "LimitExceeded", resp
    assert b.ok("ping") == {}


def blocked_fifo_reads(b, n: int) -> list:
    """n files.read requests that block on FIFOs nobody writes to."""
    b.run(f"for i in $(seq 1 {n}); do mkfifo p$i; done")
    rids = [b.request("files.read", {"path": f"p{i}"}) for i in range(1, n + 1)]
    time.sleep(0.5)
    return rids


def test_a_blocked_files_read_blocks_nothing_else(start_bridge):
    """F8 (fixed in 21573c7): files.read of a FIFO without a writer blocked a Dispatch worker in open(2)
    forever; after ~64 of them every files.* request hung."""
    b = start_bridge()
    try:
        rids = blocked_fifo_reads(b, 70)
        t0 = time.monotonic()
        assert b.ok("files.exists", {"path": "p1"}, timeout=5) == {"exists": True}
        assert b.ok("files.write", {"path": "w", "content": "x"}, timeout=5)["size"] == 1
        assert time.monotonic() - t0 < 5
        for rid in rids:  # and the FIFO reads themselves are answered (content or an error)
            b.wait_response(rid, 5)
    finally:
        b.proc.kill()


@pytest.mark.parametrize("n,how", [(20, "SIGTERM"), (70, "EOF")])
def test_blocked_files_reads_do_not_stop_the_bridge_from_exiting(start_bridge, how, n):
    """F8 (fixed in 21573c7): with blocked FIFO reads the bridge no longer exited on SIGTERM or at EOF
    (20 of them delayed a SIGTERM exit by ~15 s): the workers are shared with the tasks that shut down."""
    b = start_bridge()
    try:
        blocked_fifo_reads(b, n)
        t0 = time.monotonic()
        if how == "SIGTERM":
            b.proc.terminate()
            limit = 3.0
        else:
            b.close_stdin()
            limit = 3.0 + 3.0  # --eof-grace, then a prompt exit
        try:
            code = b.proc.wait(limit + 2)
        except Exception:
            code = None
        assert code == 0 and time.monotonic() - t0 < limit, f"{how}: exit {code} after {time.monotonic() - t0:.1f}s"
    finally:
        b.proc.kill()


# --------------------------------------------------------------------------- F9: unlisted error
def test_pty_send_input_to_a_plain_process_answers_a_listed_error(bridge):
    """F9 (fixed in 21573c7): pty.sendInput to a process without a terminal answered -32009
    StdinClosed, which schema/openrpc.json does not list for pty.sendInput."""
    pid = bridge.ok("commands.run", {"cmd": "sleep 30", "background": True})["pid"]
    resp = bridge.call("pty.sendInput", {"pid": pid, "data": "aGkK"})
    assert "error" in resp
    listed = rh.schema_check.protocol().methods["pty.sendInput"]["errors"]
    err = resp["error"]
    assert (err["code"], err["data"]["kind"]) in listed, err


# --------------------------------------------------------------------------- F10: id not echoed
@pytest.mark.parametrize("text", ['"\\ud800"', '"a\\udc00b"', '"\\ud83d"'])
def test_id_with_a_lone_surrogate_is_echoed_or_refused(bridge, text):
    """F10 (fixed in 21573c7): a string id with an unpaired surrogate escape was answered under another
    id ("\\ufffd"): the client could not match it, and it could collide with a real "\\ufffd" request."""
    msgs = rh.exchange(bridge, ('{"jsonrpc":"2.0","id":%s,"method":"ping"}' % text).encode())
    time.sleep(0.2)
    with bridge.cond:
        raws = [r.raw for r in bridge.records if r.raw and b'"result":{}' in r.raw and b'"id":"' in r.raw]
    answered_exactly = any(f'"id":{text}'.encode() in raw for raw in raws)
    refused = any(m.get("id", 0) is None and "error" in m for m in msgs)
    wrong = [raw for raw in raws if b"\xef\xbf\xbd" in raw]
    assert (answered_exactly or refused) and not wrong, wrong or msgs


# --------------------------------------------------------------------------- F11: empty sandboxId
@pytest.mark.parametrize("method,params", [
    ("sandbox.setTimeout", {"sandboxId": "", "timeout": 1}), ("sandbox.getHost", {"sandboxId": "", "port": 1}),
    ("commands.run", {"sandboxId": "", "cmd": "true"}), ("commands.list", {"sandboxId": ""}),
    ("files.exists", {"sandboxId": "", "path": "x"}),
], ids=["setTimeout", "getHost", "run", "list", "files"])
def test_empty_sandbox_id_is_invalid_params(bridge, method, params):
    """F11 (fixed in 21573c7): an empty sandboxId was answered SandboxNotFound with data.sandboxId "",
    which schema/ forbids (SandboxId has minLength 1)."""
    e = bridge.err(method, params)
    assert (e["code"], e["data"]["kind"], e["data"]["field"]) == (-32602, "InvalidParams", "sandboxId"), e


# --------------------------------------------------------------------------- F12: keeper died
def test_a_sandbox_whose_keeper_died_can_still_be_killed(bridge):
    """F12 (fixed in e81ce42): a sandbox whose keeper died at once (limits.memoryBytes 116: its cgroup
    OOM-killed it) was left half-dead: no sandbox.exit, its commands answered SandboxKilled, and
    sandbox.kill on it was never answered."""
    resp = bridge.call("sandbox.create", {"limits": {"memoryBytes": 116}})
    if "error" in resp:  # refusing a limit too small to start anything is a fine answer too
        assert resp["error"]["data"]["kind"] in ("LimitExceeded", "InvalidParams")
        return
    sid = resp["result"]["sandboxId"]
    time.sleep(0.5)
    bridge.call("commands.run", {"cmd": "echo hi", "sandboxId": sid}, timeout=10)
    assert "result" in bridge.call("sandbox.kill", {"sandboxId": sid}, timeout=10)


# --------------------------------------------------------------------------- F13: message pattern
def test_invalid_params_message_with_a_colon_in_the_field_fits_the_schema(bridge):
    """F13 (fixed in b74c894): a ':' in an InvalidParams field (the env name 'A:B') gave a message that
    schema/'s pattern '^invalid params: [^:]+: .+' rejected."""
    e = bridge.err("commands.run", {"cmd": "true", "envs": {"A:B": 1}})
    assert e["data"]["field"] == "envs.A:B"


# --------------------------------------------------------------------------- F14: bwrap agent
@pytest.mark.parametrize("limits", [{"memoryBytes": 1048576}, {"pids": 1}], ids=["memory 1 MiB", "pids 1"])
def test_bwrap_sandbox_with_a_limit_too_small_to_start_is_refused_cleanly(bridge, limits):
    """F14 (fixed in 3d63eb7): a bwrap sandbox with a limit too small to start (memoryBytes 1 MiB,
    pids 1) was -32603 'the sandbox's agent did not start'."""
    caps = bridge.ok("initialize")["capabilities"]["isolation"]
    if "bwrap" not in caps:
        pytest.skip("no bwrap here")
    resp = bridge.call("sandbox.create", {"isolation": "bwrap", "limits": limits}, timeout=30)
    assert_not_internal(resp, "sandbox.create")
    if "error" in resp:
        assert resp["error"]["data"]["kind"] in ("LimitExceeded", "InvalidParams"), resp["error"]
    assert bridge.ok("ping") == {}


# --------------------------------------------------------------------------- F15: pattern and newlines
@pytest.mark.parametrize("name", ["A\nB", "\n"], ids=["LF", "LF alone"])
def test_invalid_params_message_with_a_line_break_in_the_field_fits_the_schema(bridge, name):
    """F15 (fixed in 7d71c57): a line break in an InvalidParams field gave a message that the
    pattern '^invalid params: .+: .+' rejected ('.' does not match a newline)."""
    e = bridge.err("commands.run", {"cmd": "true", "envs": {name: 1}})
    assert e["data"]["field"] == f"envs.{name}"


# --------------------------------------------------------------------------- F16: crash on a huge limit
@pytest.mark.parametrize("isolation", ["none", "bwrap"])
@pytest.mark.parametrize("seconds", [1e20, 18446744073709551616, 1e300])
def test_a_huge_cpu_limit_does_not_crash_the_bridge(bridge, isolation, seconds):
    """F16 (fixed in 7d71c57): limits.cpuSeconds past UInt64.max crashed the bridge ('Double value
    cannot be converted to UInt64')."""
    if isolation not in bridge.ok("initialize")["capabilities"]["isolation"]:
        pytest.skip(f"no {isolation} here")
    resp = bridge.call("sandbox.create", {"isolation": isolation, "limits": {"cpuSeconds": seconds}}, timeout=30)
    assert bridge.ok("ping", timeout=10) == {}, "the bridge died"
    if "error" in resp:
        assert resp["error"]["data"]["kind"] in ("InvalidParams", "LimitExceeded"), resp["error"]


# --------------------------------------------------------------------------- F17: crash on Int.max
@pytest.mark.parametrize("where", ["run", "sandbox"])
def test_max_output_bytes_of_int_max_does_not_crash_the_bridge(bridge, where):
    """F17 (fixed in 7d71c57): maxOutputBytes Int.max crashed the bridge at the first output byte
    (arithmetic overflow in OutputRetention.headLimit)."""
    params = {"cmd": "echo x"}
    if where == "run":
        params["maxOutputBytes"] = 2**63 - 1
    else:
        resp = bridge.call("sandbox.create", {"limits": {"maxOutputBytes": 2**63 - 1}})
        if "error" in resp:
            assert resp["error"]["data"]["kind"] in ("InvalidParams", "LimitExceeded")
            return
        params["sandboxId"] = resp["result"]["sandboxId"]
    resp = bridge.call("commands.run", params, timeout=10)
    assert bridge.ok("ping", timeout=10) == {}, "the bridge died"
    if "result" in resp:
        assert resp["result"]["stdout"] == "x\n"
    else:
        assert resp["error"]["data"]["kind"] in ("InvalidParams", "LimitExceeded"), resp["error"]
