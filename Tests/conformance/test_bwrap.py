"""Isolation with bubblewrap: each escape a test that would fail if the command got out.

Needs bwrap (Debian's `bubblewrap`; `.ci/run` installs it). Outside CI a machine without it skips
these tests with the reason; with CI=true that is a failure.
"""
import os
import socket
import threading
import time
import urllib.request

import pytest

from conftest import IN_CI, is_gone

SECRET = "sandbox-rpc-bwrap-secret-4711"


@pytest.fixture
def bw(make_bridge):
    bridge = make_bridge(env={**os.environ, "SANDBOX_RPC_BWRAP_SECRET": SECRET})
    isolations = bridge.ok("initialize")["capabilities"]["isolation"]
    if "bwrap" not in isolations:
        reason = f"bwrap isolation is not available on this machine (initialize lists {isolations})"
        if IN_CI:
            pytest.fail(reason + " (CI=true: .ci/run installs bubblewrap)", pytrace=False)
        pytest.skip(reason)
    return bridge


def create(bridge, **params):
    result = bridge.ok("sandbox.create", {"isolation": "bwrap", **params}, timeout=20)
    assert result["isolation"] == "bwrap"
    assert result["home"] == "/home/user"
    return result["sandboxId"]


def run(bridge, sandbox, cmd, **params):
    return bridge.ok("commands.run", {"sandboxId": sandbox, "cmd": cmd, **params}, timeout=30)


def test_runs_as_user_in_home_with_its_own_hostname(bw):
    sb = create(bw)
    r = run(bw, sb, "id -un; id -u; echo $HOME; pwd; hostname; echo $$")
    lines = r["stdout"].splitlines()
    assert lines[:5] == ["user", "1000", "/home/user", "/home/user", "sandbox"]
    assert int(lines[5]) == r["pid"], "the pid reported is the one the command sees for itself"


def test_auto_picks_bwrap(bw, make_bridge):
    assert bw.ok("sandbox.create", {"isolation": "auto"})["isolation"] == "bwrap"
    plain = make_bridge("--isolation", "auto")
    assert plain.ok("sandbox.create", {})["isolation"] == "bwrap"
    assert plain.run("echo $HOME")["stdout"] == "/home/user\n", "the implicit default sandbox too"


def test_cannot_write_outside_its_home(bw, tmp_path):
    sb = create(bw)
    root = bw.argv[bw.argv.index("--root") + 1]
    r = run(bw, sb, f"for p in /etc/x /usr/x /x {root}/x; do touch $p 2>/dev/null && echo WROTE $p; done; "
                    "touch ~/ok && echo home-ok")
    assert r["stdout"] == "home-ok\n"
    assert not os.path.exists(os.path.join(root, "x"))


def test_cannot_remount_read_only_paths_or_regain_capabilities(bw):
    sb = create(bw)
    r = run(bw, sb, "mount -o remount,rw /usr 2>/dev/null && echo REMOUNTED; "
                    "grep -E '^Cap(Prm|Eff|Amb):' /proc/self/status | awk '{print $2}' | sort -u; "
                    "unshare -r -m true 2>/dev/null && mount -o remount,rw /usr 2>/dev/null && echo REMOUNTED-NESTED; "
                    "touch /usr/x 2>/dev/null && echo WROTE")
    assert r["stdout"] == "0000000000000000\n"


def test_does_not_see_or_signal_host_processes(bw):
    sb = create(bw)
    r = run(bw, sb, f"ls /proc | grep -c '^[0-9]'; kill -0 {bw.pid} 2>/dev/null && echo SIGNALLED; "
                    f"test -e /proc/{bw.pid}/environ && cat /proc/{bw.pid}/environ 2>/dev/null | tr '\\0' '\\n' | grep -c {SECRET}")
    assert int(r["stdout"].splitlines()[0]) < 10, "only the sandbox's own few processes are visible"
    assert "SIGNALLED" not in r["stdout"]
    assert SECRET not in r["stdout"]


def test_never_sees_the_bridge_environment(bw):
    sb = create(bw)
    r = run(bw, sb, "env; cat /proc/1/environ 2>/dev/null | tr '\\0' '\\n'")
    assert SECRET not in r["stdout"]


def test_cannot_read_another_sandbox(bw):
    a, b = create(bw), create(bw)
    run(bw, a, "echo private-a > ~/secret.txt")
    root = bw.argv[bw.argv.index("--root") + 1]
    r = run(bw, b, f"cat {root}/{a}/secret.txt ../../{root}/{a}/secret.txt 2>/dev/null; ls /home; echo done")
    assert r["stdout"] == "user\ndone\n"
    err = bw.err("files.read", {"sandboxId": b, "path": f"../../../{root}/{a}/secret.txt"})
    assert err["data"]["kind"] == "FileNotFound"
    assert bw.ok("files.read", {"sandboxId": a, "path": "secret.txt"}) == {"content": "private-a\n"}


def test_cannot_reach_the_host_loopback_without_network(bw):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        sb = create(bw)
        r = run(bw, sb, f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2)' "
                        "2>/dev/null && echo CONNECTED || echo refused")
        assert r["stdout"] == "refused\n"
        time.sleep(0.2)
        assert accepted == []
        open_net = create(bw, network=True)
        r = run(bw, open_net, f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), timeout=2)' "
                              "&& echo CONNECTED")
        assert r["stdout"] == "CONNECTED\n"
    finally:
        listener.close()


def test_nothing_survives_sandbox_kill(bw):
    sb = create(bw)
    marker = f"sleep 1{os.getpid() % 1000:03d}7"
    run(bw, sb, f"({marker} &) ; setsid {marker} & nohup {marker} >/dev/null 2>&1 & echo started")
    def survivors():
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().replace(b"\0", b" ").strip() == marker.encode():
                        found.append(int(pid))
            except OSError:
                pass
        return found
    deadline = time.monotonic() + 5
    while len(survivors()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(survivors()) == 3
    assert bw.ok("sandbox.kill", {"sandboxId": sb}) == {"killed": True}
    deadline = time.monotonic() + 5
    while survivors() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors() == []


def test_nothing_survives_the_bridge_sigkill(bw):
    sb = create(bw)
    marker = f"sleep 2{os.getpid() % 1000:03d}9"
    run(bw, sb, f"setsid {marker} & {marker} & echo started")
    bw.proc.kill()
    deadline = time.monotonic() + 5
    def alive():
        out = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().replace(b"\0", b" ").strip() == marker.encode():
                        out.append(pid)
            except OSError:
                pass
        return out
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive() == []


def test_streams_kills_and_waits_like_any_sandbox(bw):
    sb = create(bw)
    pid = bw.ok("commands.run", {"sandboxId": sb, "cmd": "for i in 1 2 3; do echo $i; done; sleep 30", "background": True})["pid"]
    bw.wait_output(pid, "1\n2\n3\n")
    assert all(n["params"]["sandboxId"] == sb for n in bw.notifications("commands.output", pid=pid))
    assert bw.ok("commands.kill", {"sandboxId": sb, "pid": pid}) == {"killed": True}
    ex = bw.wait_exit_notification(pid)
    assert ex.msg["params"] == {"sandboxId": sb, "pid": pid, "exitCode": 137, "signal": "SIGKILL"}
    r = run(bw, sb, f"kill -0 {pid} 2>/dev/null && echo alive || echo gone")
    assert r["stdout"] == "gone\n"
    err = bw.err("commands.run", {"sandboxId": sb, "cmd": "sleep 5", "timeout": 0.3})
    assert err["code"] == -32003 and err["data"]["signal"] == "SIGKILL"


def test_the_seeds_web_server_is_reachable_through_get_host(bw):
    sb = create(bw)
    bw.ok("files.write", {"sandboxId": sb, "path": "/home/user/server.py", "content":
          "from http.server import HTTPServer, SimpleHTTPRequestHandler\n"
          "HTTPServer(('0.0.0.0', 8080), SimpleHTTPRequestHandler).serve_forever()\n"})
    bw.ok("files.write", {"sandboxId": sb, "path": "hello.txt", "content": "hello from bwrap\n"})
    bw.ok("commands.run", {"sandboxId": sb, "cmd": "python3 /home/user/server.py", "background": True, "stream": False})
    host = bw.ok("sandbox.getHost", {"sandboxId": sb, "port": 8080})["host"]
    body = None
    deadline = time.monotonic() + 10
    while body is None and time.monotonic() < deadline:
        try:
            body = urllib.request.urlopen(f"http://{host}/hello.txt", timeout=2).read()
        except OSError:
            time.sleep(0.1)
    assert body == b"hello from bwrap\n"
    bw.ok("sandbox.kill", {"sandboxId": sb})
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{host}/hello.txt", timeout=2).read()


def test_pty_inside_bwrap(bw):
    import base64
    sb = create(bw)
    pid = bw.ok("pty.create", {"sandboxId": sb, "cols": 90, "rows": 20})["pid"]
    bw.ok("pty.sendInput", {"sandboxId": sb, "pid": pid, "data": base64.b64encode(b"stty size; whoami; exit\n").decode()})
    bw.wait_exit_notification(pid, timeout=10, sandbox_id=sb)
    out = b"".join(base64.b64decode(n["params"]["data"]) for n in bw.notifications("pty.output", pid=pid))
    assert b"20 90\r\n" in out and b"user\r\n" in out


def test_user_other_than_user_is_permission_denied(bw):
    sb = create(bw)
    assert run(bw, sb, "id -un", user="user")["stdout"] == "user\n"
    assert bw.err("commands.run", {"sandboxId": sb, "cmd": "id", "user": "root"})["data"]["kind"] == "PermissionDenied"


def test_symlinks_resolve_inside_the_sandbox(bw):
    a, b = create(bw), create(bw)
    run(bw, a, "echo private-a > ~/secret.txt")
    root = bw.argv[bw.argv.index("--root") + 1]
    run(bw, b, f"ln -s {root}/{a}/secret.txt link; ln -s /etc/shadow shadow; ln -s ../../.. up")
    assert bw.err("files.read", {"sandboxId": b, "path": "link"})["data"]["kind"] == "FileNotFound"
    assert bw.err("files.read", {"sandboxId": b, "path": "shadow"})["data"]["kind"] == "PermissionDenied"
    listed = [e["name"] for e in bw.ok("files.list", {"sandboxId": b, "path": "up"})["entries"]]
    assert "home" in listed and a not in listed and os.path.basename(root) not in listed
    assert bw.err("files.write", {"sandboxId": b, "path": "up/etc/passwd", "content": "x"})["data"]["kind"] == "PermissionDenied"
