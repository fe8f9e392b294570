"""Sandbox limits: a memory hog is killed, a fork bomb is contained (and the bridge keeps
serving), a CPU spinner dies at its budget; sandbox.create says how each limit is enforced."""
import os
import time

import pytest

from conftest import IN_CI


def isolations(bridge):
    available = bridge.ok("initialize")["capabilities"]["isolation"]
    if "bwrap" not in available:
        if IN_CI:
            pytest.fail(f"bwrap is not available (initialize lists {available}); .ci/run installs bubblewrap", pytrace=False)
    return [i for i in ("none", "bwrap") if i in available]


LIMITS = {"memoryBytes": 100_000_000, "pids": 40, "cpuSeconds": 1, "maxOutputBytes": 1000}


@pytest.mark.parametrize("isolation", ["none", "bwrap"])
def test_limits_hold(make_bridge, isolation):
    bridge = make_bridge()
    if isolation not in isolations(bridge):
        pytest.skip(f"{isolation} isolation is not available here")
    created = bridge.ok("sandbox.create", {"isolation": isolation, "limits": LIMITS}, timeout=20)
    sb = created["sandboxId"]
    expected = "cgroup" if os.geteuid() == 0 else "rlimit"
    assert created["limits"]["memoryBytes"] == expected
    assert created["limits"]["cpuSeconds"] == "rlimit"
    assert created["limits"]["maxOutputBytes"] == "retention"

    hog = bridge.ok("commands.run", {"sandboxId": sb, "cmd": "python3 -c 'x = bytearray(400_000_000); print(len(x))'"}, timeout=30)
    assert hog["stdout"] == ""
    assert (hog["exitCode"], hog.get("signal")) in {(137, "SIGKILL"), (1, None)}, hog  # OOM-killed, or MemoryError under RLIMIT_AS

    started = time.monotonic()
    spinner = bridge.ok("commands.run", {"sandboxId": sb, "cmd": "python3 -c 'while True: pass'"}, timeout=30)
    assert (spinner["exitCode"], spinner["signal"]) == (152, "SIGXCPU")
    assert time.monotonic() - started < 10

    if os.geteuid() == 0:
        forks = ("import os, time\n"
                 "n = 0\n"
                 "for i in range(200):\n"
                 "    try:\n"
                 "        if os.fork() == 0:\n"
                 "            time.sleep(2); os._exit(0)\n"
                 "        n += 1\n"
                 "    except OSError:\n"
                 "        break\n"
                 "print(n)\n")
        bridge.ok("files.write", {"sandboxId": sb, "path": "bomb.py", "content": forks})
        bomb = bridge.ok("commands.run", {"sandboxId": sb, "cmd": "python3 bomb.py", "timeout": 30}, timeout=40)
        assert 0 < int(bomb["stdout"]) < 40, bomb
        assert bridge.ok("ping", timeout=5) == {}

    out = bridge.ok("commands.run", {"sandboxId": sb, "cmd": "head -c 5000 /dev/zero | tr '\\0' a"})
    assert out["stdout"] == "a" * 1000 and out["truncated"] == {"stdout": 4000, "stderr": 0}
    assert bridge.ok("sandbox.kill", {"sandboxId": sb}) == {"killed": True}
    leftover = [d for d in os.listdir("/sys/fs/cgroup/memory/sandbox-rpc") if d.endswith(sb)] \
        if os.path.isdir("/sys/fs/cgroup/memory/sandbox-rpc") else []
    assert leftover == []
