"""Large files move in chunks (files.write append, files.read offset/length): a large file in and
out of a sandbox, byte for byte, while the bridge's memory stays bounded. The suite moves 24 MB
through the debug build; `SANDBOX_RPC_LARGE_FILE_MB=100` (with the release build) the full 100 MB."""
import base64
import hashlib
import os
import threading
import time

import pytest

from conftest import vm_rss_kib

CHUNK = 1 << 20
SIZE = int(os.environ.get("SANDBOX_RPC_LARGE_FILE_MB", "24")) * CHUNK


@pytest.mark.parametrize("isolation", ["none", "bwrap"])
def test_a_large_file_round_trips_in_chunks_with_bounded_memory(make_bridge, isolation):
    bridge = make_bridge()
    if isolation not in bridge.ok("initialize")["capabilities"]["isolation"]:
        pytest.skip(f"{isolation} isolation is not available here (test_bwrap.py fails in CI when bwrap is missing)")
    bridge.retain_output = False
    sb = bridge.ok("sandbox.create", {"isolation": isolation}, timeout=20)["sandboxId"]
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], vm_rss_kib(bridge.pid) or 0)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    written = hashlib.sha256()
    try:
        for i in range(SIZE // CHUNK):
            block = hashlib.sha256(str(i).encode()).digest() * (CHUNK // 32)
            written.update(block)
            r = bridge.ok("files.write", {"sandboxId": sb, "path": "big.bin", "content": base64.b64encode(block).decode(),
                                          "encoding": "base64", "append": i > 0}, timeout=30)
            assert r["size"] == CHUNK
        assert bridge.ok("files.info", {"sandboxId": sb, "path": "big.bin"})["size"] == SIZE
        read = hashlib.sha256()
        offset = 0
        while True:
            r = bridge.ok("files.read", {"sandboxId": sb, "path": "big.bin", "encoding": "base64",
                                         "offset": offset, "length": CHUNK}, timeout=30)
            data = base64.b64decode(r["content"])
            assert r["size"] == SIZE
            if not data:
                break
            read.update(data)
            offset += len(data)
        assert offset == SIZE
        assert read.hexdigest() == written.hexdigest()
    finally:
        stop.set()
        sampler.join()
    assert peak[0] < 64 * 1024, f"bridge RSS peaked at {peak[0]} KiB moving a {SIZE >> 20} MB file"
    r = bridge.ok("commands.run", {"sandboxId": sb, "cmd": "sha256sum big.bin | cut -d' ' -f1"}, timeout=30)
    assert r["stdout"] == written.hexdigest() + "\n"
