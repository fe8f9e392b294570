"""Load and soak: 10,000 short runs with 64 in flight, 1,000 background processes streaming at once,
a slow reader in front of a large producer. Nothing is lost, nothing leaks (zombies, descriptors,
memory), and memory stays bounded while the client does not read.

The binary is the release build when it is current (see reliability_harness.load_binary).
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time

import reliability_harness as rh

RUNS = rh.size("RELIABILITY_RUNS", 10_000, 100_000)
IN_FLIGHT = 64
BACKGROUND = rh.size("RELIABILITY_BACKGROUND", 1_000, 2_000)
PRODUCER_NUMBERS = rh.size("RELIABILITY_PRODUCER_NUMBERS", 12_000_000, 60_000_000)  # `seq 1 N`: ~95 MB / ~550 MB, twice
KiB = 1024


def snapshot(b) -> dict:
    keepers = rh.keepers_of(b.pid)
    return {
        "rss_kib": rh.vm_rss_kib(b.pid),
        "fds": len(rh.fd_table(b.pid)),
        "threads": rh.thread_count(b.pid),
        "keeper_fds": sum(len(rh.fd_table(k)) for k in keepers),
        "keeper_children": sum(len(rh.direct_children(k)) for k in keepers),
    }


def pump(b, n: int, in_flight: int, params_for) -> float:
    """Keep `in_flight` requests outstanding until n have been answered; returns the seconds taken.
    Each answer is checked by `params_for(i)`'s companion check (see callers)."""
    pending: dict[tuple, int] = {}
    sent = answered = 0
    t0 = time.monotonic()
    deadline = t0 + max(120.0, n / 20)
    results = {}
    while answered < n:
        while sent < n and len(pending) < in_flight:
            rid = f"load-{sent}"
            b.request("commands.run", params_for(sent), id=rid)
            pending[rh.schema_check.id_key(rid)] = sent
            sent += 1
        with b.cond:
            done = [k for k in pending if b.responses.get(k)]
            if not done:
                assert time.monotonic() < deadline, f"{len(pending)} runs unanswered, {answered} answered"
                assert not b.eof, "the bridge closed stdout"
                b.cond.wait(1.0)
                continue
            for k in done:
                results[pending.pop(k)] = b.responses[k][0].msg
        answered += len(done)
    elapsed = time.monotonic() - t0
    for i, msg in results.items():
        assert msg.get("result", {}).get("stdout") == f"{i}\n" and msg["result"]["exitCode"] == 0, msg
    assert len(results) == n
    return elapsed


def test_ten_thousand_short_runs_with_64_in_flight(start_bridge, load_bin):
    """0 lost responses, 0 zombies, descriptors back to idle, memory back near idle and flat."""
    b = start_bridge(binary=load_bin)
    b.retain_output = False
    pump(b, 300, IN_FLIGHT, lambda i: {"cmd": f"echo {i}"})  # warm up: the keeper, the thread pools
    time.sleep(0.5)
    idle = snapshot(b)
    batches = 4
    per_batch = RUNS // batches
    rss_after_batch = []
    peak_rss = idle["rss_kib"]
    seconds = 0.0
    for batch in range(batches):
        base = batch * per_batch
        seconds += pump(b, per_batch, IN_FLIGHT, lambda i, base=base: {"cmd": f"echo {i}"})
        peak_rss = max(peak_rss, rh.vm_rss_kib(b.pid))
        rss_after_batch.append(rh.vm_rss_kib(b.pid))
        with b.cond:  # answers are counted; their records need not stay in memory
            b.records.clear()
            b.responses.clear()
    time.sleep(1.0)
    after = snapshot(b)
    zombies = rh.zombies_of(b.pid) + [z for k in rh.keepers_of(b.pid) for z in rh.zombies_of(k)]
    rh.figures.leak_check("zombies after 10,000 runs", zombies)
    rh.figures.leak_check("bridge descriptors after 10,000 runs",
                          [] if after["fds"] <= idle["fds"] else [f"{idle['fds']} -> {after['fds']}"])
    rh.figures.leak_check("keeper descriptors after 10,000 runs",
                          [] if after["keeper_fds"] <= idle["keeper_fds"] else [f"{idle['keeper_fds']} -> {after['keeper_fds']}"])
    rh.figures.leak_check("bridge memory after 10,000 runs",
                          [] if after["rss_kib"] <= idle["rss_kib"] + 16 * KiB else [f"{idle['rss_kib']} -> {after['rss_kib']} KiB"])
    rh.figures.loaded("short runs", runs=RUNS, in_flight=IN_FLIGHT, seconds=round(seconds, 1),
                      runs_per_second=round(RUNS / seconds), lost=0, zombies=len(zombies),
                      fds_idle=idle["fds"], fds_after=after["fds"], rss_idle_kib=idle["rss_kib"],
                      rss_peak_kib=peak_rss, rss_after_kib=after["rss_kib"], binary=load_bin.split("/.build/")[-1])
    print(f"{RUNS} runs, {IN_FLIGHT} in flight, {seconds:.1f}s ({RUNS / seconds:.0f}/s); idle {idle}; after {after}; "
          f"RSS after each batch {rss_after_batch} KiB")
    assert zombies == []
    assert after["keeper_children"] == 0
    assert after["fds"] == idle["fds"], f"bridge descriptors {idle['fds']} -> {after['fds']}"
    assert after["keeper_fds"] == idle["keeper_fds"], f"keeper descriptors {idle['keeper_fds']} -> {after['keeper_fds']}"
    assert after["rss_kib"] <= idle["rss_kib"] + 16 * KiB, f"RSS {idle['rss_kib']} -> {after['rss_kib']} KiB"
    growth = rss_after_batch[-1] - rss_after_batch[1]
    assert growth <= 4 * KiB, f"RSS still growing after the first batches: {rss_after_batch} KiB (a leak per run)"


def test_a_thousand_background_processes_stream_at_once(start_bridge, load_bin):
    """1,000 processes alive together, each streaming 200 lines: every byte arrives in order under its
    own pid, every process reports its exit after its output, and nothing is left afterwards."""
    b = start_bridge(binary=load_bin)
    assert b.run("true")["exitCode"] == 0  # the keeper and the reactor exist from here on
    idle = snapshot(b)
    lines = 200
    cmd = (f"sleep 3; i=0; while [ $i -lt {lines} ]; do echo \"$$ line $i of the stream of this process\"; "
           f"i=$((i+1)); done; echo \"$$ err\" >&2; sleep 1")
    t0 = time.monotonic()
    pids = []
    for start in range(0, BACKGROUND, 100):  # a batch of 100 requests per write
        batch = [{"jsonrpc": "2.0", "id": f"bg-{i}", "method": "commands.run",
                  "params": {"cmd": cmd, "background": True, "tag": f"t{i}"}} for i in range(start, min(start + 100, BACKGROUND))]
        b.send(batch)
        rec = b.response_record(f"bg-{start}", 60)
        pids += [m["result"]["pid"] for m in rec.msg]
    started = time.monotonic() - t0
    running = b.ok("commands.list", timeout=30)["processes"]
    peak = snapshot(b)
    assert len(pids) == BACKGROUND == len(set(pids))
    assert len(running) == BACKGROUND, f"only {len(running)} of {BACKGROUND} ran at the same time"
    for pid in pids:
        b.wait_exit_notification(pid, 120)
    elapsed = time.monotonic() - t0
    notes = b.notifications()
    exit_index = {}
    last_output = {}
    texts: dict[tuple, list[str]] = {}
    for i, n in enumerate(notes):
        p = n["params"]
        if n["method"] == "commands.exit":
            exit_index[p["pid"]] = i
        elif n["method"] == "commands.output":
            last_output[p["pid"]] = i
            texts.setdefault((p["pid"], p["stream"]), []).append(p["data"])
    for pid in pids:
        expected = "".join(f"{pid} line {i} of the stream of this process\n" for i in range(lines))
        assert "".join(texts[(pid, "stdout")]) == expected, f"pid {pid}: stream differs"
        assert "".join(texts[(pid, "stderr")]) == f"{pid} err\n"
        assert last_output[pid] < exit_index[pid]
        assert notes[exit_index[pid]]["params"]["exitCode"] == 0
    time.sleep(0.5)
    after = snapshot(b)
    zombies = rh.zombies_of(b.pid) + [z for k in rh.keepers_of(b.pid) for z in rh.zombies_of(k)]
    rh.figures.leak_check("zombies after 1,000 streaming processes", zombies)
    rh.figures.leak_check("bridge descriptors after 1,000 streaming processes",
                          [] if after["fds"] == idle["fds"] else [f"{idle['fds']} -> {after['fds']}"])
    total = sum(b.output_bytes.values())
    rh.figures.loaded("concurrent streams", processes=BACKGROUND, seconds=round(elapsed, 1),
                      start_seconds=round(started, 1), bytes=total, fds_peak=peak["fds"], fds_after=after["fds"],
                      rss_peak_kib=peak["rss_kib"], rss_after_kib=after["rss_kib"])
    print(f"{BACKGROUND} processes started in {started:.1f}s, all done in {elapsed:.1f}s, {total} bytes; "
          f"peak {peak}; after {after}")
    assert zombies == []
    assert after["fds"] == idle["fds"], f"descriptors {idle['fds']} -> {after['fds']}"


def test_slow_reader_with_a_large_producer_bounded_memory_and_no_byte_lost(start_bridge, load_bin):
    """Two producers (stdout of one, stderr of the other) in front of a client that first stops reading,
    then reads slowly, then at full speed: the bridge's memory stays bounded, the producers are held
    back (blocked on their pipes), and every byte arrives, in order (checked by SHA-256)."""
    expected = subprocess.run(["seq", "1", str(PRODUCER_NUMBERS)], capture_output=True, check=True).stdout
    digest, size = hashlib.sha256(expected).hexdigest(), len(expected)
    del expected
    b = start_bridge(binary=load_bin)
    b.retain_output = False
    hashes = {}
    throttle = {"sleep": 0.0}

    def hook(msg):
        p = msg["params"]
        hashes.setdefault((p["pid"], p["stream"]), hashlib.sha256()).update(p["data"].encode())
        if throttle["sleep"]:
            time.sleep(throttle["sleep"])

    b.output_hook = hook
    b.ok("ping")
    idle_rss = rh.vm_rss_kib(b.pid)
    peak = [idle_rss]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rh.vm_rss_kib(b.pid) or 0)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    try:
        b.pause_reading()
        out = b.request("commands.run", {"cmd": f"seq 1 {PRODUCER_NUMBERS}", "background": True, "maxOutputBytes": 0})
        err = b.request("commands.run", {"cmd": f"seq 1 {PRODUCER_NUMBERS} >&2", "background": True, "maxOutputBytes": 0})
        time.sleep(3)
        paused_peak = peak[0]
        seq_pids = [p for p in rh.descendants(b.pid) if rh.comm(p) == "seq"]
        blocked = [p for p in seq_pids if "pipe" in rh.wchan(p)]
        b.resume_reading()
        pids = [b.wait_response(out, 10)["result"]["pid"], b.wait_response(err, 10)["result"]["pid"]]
        throttle["sleep"] = 0.002  # a slow reader: ~500 notifications a second
        time.sleep(3)
        throttle["sleep"] = 0.0
        for pid in pids:
            b.wait_exit_notification(pid, 300)
    finally:
        stop.set()
        b.resume_reading()
        throttle["sleep"] = 0.0
        sampler.join()
    elapsed = time.monotonic() - t0
    got = {k: v.hexdigest() for k, v in hashes.items()}
    rh.figures.loaded("slow reader", producers=2, bytes=2 * size, seconds=round(elapsed, 1),
                      rss_idle_kib=idle_rss, rss_peak_paused_kib=paused_peak, rss_peak_kib=peak[0])
    print(f"slow reader: 2 x {size} bytes in {elapsed:.1f}s; RSS idle {idle_rss} KiB, peak while paused "
          f"{paused_peak} KiB, peak {peak[0]} KiB; producers blocked while paused: {len(blocked)}/{len(seq_pids)}")
    assert len(seq_pids) == 2 and len(blocked) == 2, f"producers not held back while the client did not read: {seq_pids}"
    assert paused_peak - idle_rss < 48 * KiB, f"RSS grew {paused_peak - idle_rss} KiB while stdout was not read"
    assert peak[0] - idle_rss < 64 * KiB, f"RSS grew {peak[0] - idle_rss} KiB"
    assert b.output_bytes[("default", pids[0], "stdout")] == size
    assert b.output_bytes[("default", pids[1], "stderr")] == size
    assert got == {(pids[0], "stdout"): digest, (pids[1], "stderr"): digest}, "bytes lost, altered or reordered"
