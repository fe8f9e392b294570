"""The seeds' examples (Moru's and Declaw's command docs) and the agent loop run as scripts."""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from rpc_test_support import BRIDGE, PACKAGE_ROOT, get_host_supported
from sandbox_rpc import Sandbox

EXAMPLES = PACKAGE_ROOT / "examples"


def run_example(name: str, timeout: float = 120) -> str:
    env = dict(os.environ, SANDBOX_RPC_BIN=BRIDGE, PYTHONPATH=str(PACKAGE_ROOT))
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
        text=True,
    )
    assert proc.returncode == 0, f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def sections(output: str) -> Dict[str, List[str]]:
    result: Dict[str, List[str]] = {}
    current = ""
    for line in output.splitlines():
        if line.startswith("== "):
            current = line[3:]
            result[current] = []
        else:
            result.setdefault(current, []).append(line)
    return result


def test_moru_background_commands(bridge_path: str) -> None:
    out = sections(run_example("moru_background_commands.py"))
    start = out["Starting a Background Command"]
    assert re.fullmatch(r"Server started with PID: \d+", start[0]) and start[1:] == ["Doing other work..."]
    waited = out["Waiting for Completion"]
    assert waited[0] == "Exit code: 0" and waited[1].startswith("Output: ")
    assert out["Killing a Background Command"] == ["Killed: True"]
    # The page sleeps only 0.2 s in all before reading handle.stdout: on a slow machine the
    # second line may not be there yet, but whatever is there is exactly the page's output.
    upper = "\n".join(out["Sending Input (stdin)"])
    assert upper in ("HELLO\nWORLD\n", "HELLO\nWORLD", "HELLO", "")
    assert out["Streaming Output"] == [f"[stdout] {i}" for i in range(1, 6)] + ["", "Final exit code: 0"]
    assert out["Disconnecting"] == ["Still running: True"]
    listed = out["Listing Running Commands"]
    assert any(re.fullmatch(r"PID: \d+, Command: sleep 100 \[\]", line) for line in listed)
    assert any(re.fullmatch(r"PID: \d+, Command: python3 -m http.server 8080 \[\]", line) for line in listed)
    killed = out["Killing by PID"]
    assert killed and all(re.fullmatch(r"Killed PID \d+: True", line) for line in killed)
    assert out["Reconnecting to a Command"] == ["Reconnected result: 'task done\\n'"]


def test_moru_web_server(bridge_path: str, capabilities: Dict[str, object]) -> None:
    if not capabilities.get("files"):
        pytest.skip("bridge lacks files capability")
    with Sandbox() as probe:
        if not get_host_supported(probe):
            pytest.skip("bridge does not answer sandbox.getHost")
    # The page writes /home/user/server.py; without isolation that is this machine's path.
    server_py = Path("/home/user/server.py")
    existed = server_py.exists()
    try:
        lines = run_example("moru_web_server.py").splitlines()
    finally:
        if not existed and server_py.exists():
            server_py.unlink()
    # without isolation the port is the sandbox's own; with a network namespace it is forwarded
    assert re.fullmatch(r"Server available at: http://[^:/\s]+:\d+", lines[0])
    assert lines[1:] == ["Response status: 200"]


def test_declaw_commands(bridge_path: str) -> None:
    out = sections(run_example("declaw_commands.py"))
    run = out["sbx.commands.run()"]
    assert run[:3] == ["hello", "", "0"] and re.fullmatch(r"PID: \d+", run[3])
    assert out["sbx.commands.run_stream()"] == ["step 0", "step 1", "step 2", "Exit code: 0"]
    assert any(re.fullmatch(r"\d+ sleep 30", line) for line in out["sbx.commands.list()"])
    assert out["sbx.commands.kill()"] == ["Killed: False"]
    assert out["sbx.commands.send_stdin()"] == []
    assert out["sbx.commands.connect()"] == ["connected"]
    # two pipes: which of the two near-simultaneous chunks arrives first is not fixed
    assert sorted(out["CommandHandle"]) == ["", "", "ERR: to stderr", "OUT: to stdout"]
    version = out["Run a Python script"]
    assert version[0].split()[0] == sys.version.split()[0] or re.match(r"3\.\d+\.\d+", version[0])
    assert out["Run with environment variables"] == ["s3cr3t"]
    received = out["Stream long-running output"]
    count = int(re.fullmatch(r"Received (\d+) lines", received[0]).group(1))  # type: ignore[union-attr]
    assert 1 <= count <= 100  # chunks as produced: 100 unless two echoes arrived together
    assert out["Background process with stdin"] == ["hello!", "world!", ""]


def test_agent_loop(bridge_path: str) -> None:
    lines = run_example("agent_loop.py").splitlines()
    assert lines[:2] == ["project=demo", "Linux"]
    assert re.fullmatch(r"failed with 2: ls: cannot access '/no/such/dir': No such file or directory", lines[2])
    assert lines[3:6] == ["  [live] build...", "  [live] test...", "  [live] package..."]
    assert lines[6:] == ["sorted: ['apple', 'fig', 'pear']", "killed runaway: True", "timed out as asked", "report: result: 42"]


def test_examples_are_written_against_the_seeds_import_only() -> None:
    for name in ("moru_background_commands.py", "moru_web_server.py", "declaw_commands.py"):
        text = (EXAMPLES / name).read_text()
        assert "from sandbox_rpc import" in text
        assert "sandbox_rpc." not in text.replace("from sandbox_rpc import", "")
