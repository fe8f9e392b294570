"""Requests are concurrent; a slow client is met with backpressure, not unbounded memory."""

import os
import threading
import time

from conftest import children_of, vm_rss_kib, zombies_of

MiB = 1024 * 1024
RSS_LIMIT_KIB = 64 * 1024
# 1e9 by default as in the issue; lower it (e.g. 300000000) on a slow machine: the bound is what is tested.
SLOW_READER_BYTES = int(os.environ.get("SANDBOX_RPC_SLOW_READER_BYTES", "1000000000"))


def test_fifty_concurrent_runs_all_answered(bridge):
    t0 = time.monotonic()
    ids = {bridge.request("commands.run", {"cmd": f"sleep 0.5; echo {i}", "envs": {"N": str(i)}}): i for i in range(50)}
    pids = set()
    for rid, i in ids.items():
        r = bridge.wait_response(rid, 30)["result"]
        assert (r["stdout"], r["stderr"], r["exitCode"]) == (f"{i}\n", "", 0)
        pids.add(r["pid"])
    assert len(pids) == 50
    assert time.monotonic() - t0 < 10, "50 runs of 0.5 s run side by side, not one after another"
    assert zombies_of(bridge.pid) == []


def test_batch_requests_run_concurrently(bridge):
    t0 = time.monotonic()
    batch = [{"jsonrpc": "2.0", "id": f"b{i}", "method": "commands.run", "params": {"cmd": f"sleep 1; echo {i}"}}
             for i in range(5)]
    bridge.send(batch)
    rec = bridge.response_record("b0", 15)
    assert time.monotonic() - t0 < 3
    assert isinstance(rec.msg, list) and len(rec.msg) == 5
    assert {m["id"]: m["result"]["stdout"] for m in rec.msg} == {f"b{i}": f"{i}\n" for i in range(5)}


def test_slow_run_does_not_delay_ping(bridge):
    slow = bridge.request("commands.run", {"cmd": "sleep 2; echo slow"})
    time.sleep(0.1)
    t0 = time.monotonic()
    ping = bridge.request("ping")
    assert bridge.wait_response(ping, 5) == {"jsonrpc": "2.0", "id": ping, "result": {}}
    assert time.monotonic() - t0 < 0.5
    assert bridge.response_record(ping).index < bridge.response_record(slow, 10).index
    assert bridge.wait_response(slow)["result"]["stdout"] == "slow\n"


def test_ping_answered_while_output_streams(bridge):
    bridge.retain_output = False
    pid = bridge.ok("commands.run", {"cmd": "head -c 200000000 /dev/zero | tr '\\0' a", "background": True,
                                     "maxOutputBytes": 0})["pid"]
    bridge.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "commands.output", what="output")
    t0 = time.monotonic()
    assert bridge.ok("ping", timeout=5) == {}
    assert time.monotonic() - t0 < 1
    bridge.wait_exit_notification(pid, 120)
    assert bridge.output_bytes[("default", pid, "stdout")] == 200_000_000


def test_slow_reader_memory_stays_bounded_and_nothing_is_lost(bridge):
    """A 1 GB producer while the client does not read stdout for 4 s, then reads everything: the
    bridge's VmRSS stays under 64 MiB throughout (paused, streaming, and when the process exits with
    its default 16 MiB of retained output), and exactly n bytes arrive."""
    n = SLOW_READER_BYTES
    bridge.retain_output = False
    bridge.ok("ping")
    peaks = {"paused": 0, "streaming": 0, "exit": 0}
    helper_peak = [0]  # the bridge's own helper processes (same executable), e.g. per-sandbox keepers
    phase = ["paused"]
    stop = threading.Event()
    exe = os.readlink(f"/proc/{bridge.pid}/exe")

    def helpers():
        out = []
        for c in children_of(bridge.pid):
            try:
                if os.readlink(f"/proc/{c.pid}/exe") == exe:
                    out.append(c.pid)
            except OSError:
                pass
        return out

    def sample():
        while not stop.is_set():
            rss = vm_rss_kib(bridge.pid)
            if rss:
                peaks[phase[0]] = max(peaks[phase[0]], rss)
            if phase[0] == "paused":
                helper_peak[0] = max([helper_peak[0]] + [vm_rss_kib(h) or 0 for h in helpers()])
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        bridge.pause_reading()
        rid = bridge.request("commands.run", {"cmd": f"head -c {n} /dev/zero | tr '\\0' a", "background": True})
        time.sleep(4)
        assert peaks["paused"] < RSS_LIMIT_KIB, f"bridge RSS {peaks['paused']} KiB while stdout was not read"
        assert helper_peak[0] < RSS_LIMIT_KIB // 2, \
            f"a helper process of the bridge grew to {helper_peak[0]} KiB: output must wait in the pipes, not in memory"
        phase[0] = "streaming"
        bridge.resume_reading()
        pid = bridge.wait_response(rid, 10)["result"]["pid"]
        deadline = time.monotonic() + 300
        while bridge.output_bytes[("default", pid, "stdout")] < n - 4 * MiB:
            assert time.monotonic() < deadline, "output stalled"
            time.sleep(0.02)
        phase[0] = "exit"
        ex = bridge.wait_exit_notification(pid, timeout=60)
        assert ex.msg["params"] == {"sandboxId": "default", "pid": pid, "exitCode": 0}
        time.sleep(0.5)
    finally:
        stop.set()
        bridge.resume_reading()
        sampler.join()
    print(f"bridge VmRSS peaks (KiB): {peaks}; helpers while paused: {helper_peak[0]}")
    assert bridge.output_bytes[("default", pid, "stdout")] == n
    assert max(peaks.values()) < RSS_LIMIT_KIB, f"bridge VmRSS peaks (KiB) over 64 MiB: {peaks}"
    r = bridge.ok("commands.wait", {"pid": pid})
    assert r["truncated"] == {"stdout": n - 16 * MiB, "stderr": 0}
    assert r["stdout"] == "a" * (16 * MiB)
